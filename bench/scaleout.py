"""Scale-out: the same 20 mailboxes' first sync by 1, 2 and 4 real Celery
worker processes on Redis (`python -m bench.scaleout`).

One `celery -A vectis worker --concurrency N` per measurement, the broker a
Redis database of its own (REDIS_URL, default db 8), the Graph simulator in
its own process. Each `sync_mailbox` task syncs one mailbox serially, so
Graph's per-mailbox concurrency (4) is never approached; what varies is how
many mailboxes are read at once. Between measurements every mailbox's data
and delta links are forgotten, so each round is a from-scratch read of the
same 20 mailboxes. Wall time runs from the enqueue to the last mailbox's
last folder run."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from datetime import UTC, datetime

from . import common

DEFAULT_REDIS = "redis://127.0.0.1:6379/8"


def prepare(params):
    """(bench.child) One customer per domain and the connection listing every mailbox."""
    from .sync import connect

    connect(params["sim"])
    return {}


def reset(params):
    """(bench.child) Forget every mailbox's data, runs and delta links, and empty the broker's queue."""
    from customers.ingest import holders_forget_mailboxes
    from integrations.mail.models import SyncRun
    from integrations.setup.models import MailboxState

    upns = params["sim"]["technician_upns"]
    holders_forget_mailboxes(upns=upns)
    SyncRun.objects.all().delete()
    MailboxState.objects.all().delete()
    return {}


def enqueue_and_wait(params):
    """(bench.child) Queue one sync_mailbox task per mailbox; wait until every folder run finished."""
    from integrations.mail.models import SyncRun
    from integrations.tasks import sync_mailbox

    upns = params["sim"]["technician_upns"]
    started = time.perf_counter()
    for upn in upns:
        sync_mailbox.delay(upn, full=True, reason="initial")
    deadline = time.monotonic() + params.get("timeout", 1800)
    while time.monotonic() < deadline:
        done = SyncRun.objects.filter(mailbox__in=upns, finished_at__isnull=False).exclude(folder="all")
        if done.count() >= 3 * len(upns):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the workers did not finish in time")
    wall = time.perf_counter() - started
    runs = list(SyncRun.objects.filter(mailbox__in=upns).exclude(folder="all"))
    failed = [f"{r.mailbox}/{r.folder}: {r.error}" for r in runs if r.outcome != "success"]
    return {
        "wall_seconds": round(wall, 2), "runs": len(runs), "failed": failed[:5],
        "graph_requests": sum(r.graph_requests for r in runs),
        "seen": sum(r.seen for r in runs if r.folder != "calendar"),
        "kept": sum(r.kept for r in runs if r.folder != "calendar"),
        "skipped_runs": SyncRun.objects.filter(mailbox__in=upns, folder="all").count(),
    }


def _worker(env, concurrency, log_path):
    args = [common.PY, "-m", "celery", "-A", "vectis", "worker", "--concurrency", str(concurrency),
            "--pool", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "WARNING", "--logfile", str(log_path)]
    return subprocess.Popen(args, cwd=common.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mailboxes", type=int, default=20)
    parser.add_argument("--messages", type=int, default=5000, help="messages per mailbox")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to measure")
    parser.add_argument("--tag", default="", help="a-z0-9 suffix for the database name")
    args = parser.parse_args(argv)
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    db = f"vectis_bench_scale{'_' + args.tag.lower() if args.tag.isalnum() else ''}"
    common.db_create(db)
    report = {"started": datetime.now(UTC).isoformat(), "machine": common.machine(), "mailboxes": args.mailboxes,
              "messages_per_mailbox": args.messages, "broker": redis_url, "rounds": []}
    try:
        with common.simulator(mailboxes=args.mailboxes, messages_per_mailbox=args.messages) as info:
            env = common.child_env(db, **common.sim_env(info))
            env["REDIS_URL"] = redis_url
            common.run_child("scale_prepare", {"sim": info}, env)
            for n in (int(x) for x in args.workers.split(",")):
                common.run_child("scale_reset", {"sim": info}, env)
                subprocess.run(["redis-cli", "-u", redis_url, "FLUSHDB"], check=True, capture_output=True)
                log = common.RESULTS / f"scaleout-worker-{n}.log"
                common.RESULTS.mkdir(parents=True, exist_ok=True)
                worker = _worker(env, n, log)
                try:
                    time.sleep(3)  # the worker connects to the broker
                    result = common.run_child("scale_wait", {"sim": info}, env)
                finally:
                    _stop(worker)
                result["workers"] = n
                report["rounds"].append(result)
                print(f"{n} worker(s): {result['wall_seconds']} s for {args.mailboxes} mailboxes, "
                      f"{result['kept']:,} kept of {result['seen']:,}, {result['graph_requests']} Graph requests, "
                      f"failed runs {len(result['failed'])}", flush=True)
    finally:
        common.db_drop(db)
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out = common.RESULTS / f"scaleout-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    base = report["rounds"][0]["wall_seconds"] if report["rounds"] else None
    for r in report["rounds"]:
        print(f"  {r['workers']} worker(s): {r['wall_seconds']} s, speed-up {base / r['wall_seconds']:.2f}x")
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
