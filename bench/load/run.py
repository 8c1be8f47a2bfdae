"""Load test: customer hub pages and /security at N concurrent signed-in users.

    .venv/bin/python -m bench.load                 # 50 users, 60 s, on the 1,000,000-message dataset
    .venv/bin/python -m bench.load --quick         # 10 users, 10 s, on the quick dataset
    .venv/bin/python -m bench.load --mix security  # only /security

What it does:
1. the seeded database from bench.hub (vectis_bench_hub; reused if a kept one
   has the same sizes, seeded otherwise), static files collected;
2. gunicorn serving vectis.wsgi on 127.0.0.1 with production settings (DEBUG
   off, SECRET_KEY, VECTIS_ENCRYPTION_KEYS, SECURE_SSL_REDIRECT=false because
   this is plain HTTP on loopback);
3. one session per virtual user, created directly in the session store
   (5 admins, 40 technicians (members), 5 auditors (viewers) for 50 users);
4. wrk (Debian's package) with one thread and one connection per user, each
   cycling through its own pages: 70% customer hubs (a fifth of them among
   the 20 largest customers), 30% /security (first pages, sorted by signal);
5. throughput, p50/p90/p95/p99/max latency, non-200 answers and socket
   errors, printed and written to bench/results/load-<timestamp>.json.
wrk is a closed loop (each user sends its next request when the previous
answer arrived): latency is what a user waits, throughput what the server
sustains with that many users.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench import common
from bench.run import FULL, QUICK, hub_database

HERE = Path(__file__).resolve().parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sessions_and_plan(env, users, size, mix, path):
    """Ask a Django process for session keys, then write the wrk plan file."""
    code = f"""
import django, json
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import User
out = []
for username in {json.dumps(users)}:
    user = User.objects.get(username=username)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    out.append(store.session_key)
print(json.dumps(out))
"""
    keys = json.loads(subprocess.run([common.PY, "-c", code], cwd=common.ROOT, env=env, check=True,
                                     capture_output=True, text=True).stdout.strip().splitlines()[-1])
    rng = random.Random(7)
    customers = size["customers"]
    lines, checks = [], []
    for key in keys:  # one session per user
        pages = []
        for _ in range(40):
            pick = rng.random()
            if mix == "security" or (mix == "mixed" and pick < 0.3):
                sort = rng.choice(["privileged_mfa", "mfa_coverage", "name"])
                pages.append(f"/security/?sort={sort}" if rng.random() < 0.8 else f"/security/?sort={sort}&page=2")
            else:
                customer = rng.randint(1, min(20, customers)) if rng.random() < 0.2 else rng.randint(1, customers)
                pages.append(f"/customers/{customer}/")
        lines.append(" ".join([key, *pages]))
        checks.append((key, pages[0]))
    Path(path).write_text("\n".join(lines) + "\n")
    return checks


def start_gunicorn(env, port, workers, worker_class, threads, log_path):
    args = [common.PY, "-m", "gunicorn", "vectis.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
            "--timeout", "60", "--graceful-timeout", "10", "--error-logfile", str(log_path), "--log-level", "warning",
            # Each request's time inside the server (microseconds): wrk's own latency with a think
            # time (its delay()) was not the response time alone.
            "--access-logfile", str(log_path.with_name("access.log")), "--access-logformat", "%(D)s %(s)s %(U)s"]
    proc = subprocess.Popen(args, cwd=common.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def check_pages(port, checks):
    """Every user's first page answers 200 with a page (not the login form) before the load starts."""
    for key, path in checks:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": f"sessionid={key}"})
        opener = urllib.request.build_opener(NoRedirect)
        with opener.open(request, timeout=60) as response:
            body = response.read()
            if response.status != 200 or b'name="password"' in body:
                raise RuntimeError(f"{path} did not render for a signed-in user (status {response.status})")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def run_wrk(port, users, seconds, plan, think_seconds=0.0):
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    env = {**os.environ, "VECTIS_LOAD_PLAN": str(plan), "VECTIS_LOAD_THINK_MS": str(int(think_seconds * 1000))}
    args = [wrk, f"-t{users}", f"-c{users}", f"-d{seconds}s", "--timeout", "30s", "-s", str(HERE / "hub.lua"),
            f"http://127.0.0.1:{port}"]
    output = subprocess.run(args, env=env, capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    match = re.search(r"VECTIS_LOAD_RESULT (\{.*\})", output)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    result = json.loads(match.group(1))
    result["wrk_output"] = output
    return result


def server_times(access_log, skip_bytes):
    """Percentiles of the time each request of the run spent in gunicorn (from its access log)."""
    import statistics

    with open(access_log, "rb") as handle:
        handle.seek(skip_bytes)
        lines = handle.read().decode(errors="replace").splitlines()
    times = sorted(int(line.split()[0]) / 1000 for line in lines if line.split() and line.split()[0].isdigit())
    if not times:
        return {}

    def rank(p):
        return round(times[max(0, min(len(times) - 1, int(len(times) * p / 100 + 0.5) - 1))], 1)

    return {"server_requests": len(times), "server_p50_ms": round(statistics.median(times), 1),
            "server_p90_ms": rank(90), "server_p95_ms": rank(95), "server_p99_ms": rank(99),
            "server_max_ms": round(times[-1], 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 users for 10 s on the quick dataset")
    parser.add_argument("--users", type=int, default=None, help="concurrent users (default 50)")
    parser.add_argument("--seconds", type=int, default=None, help="duration (default 60)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--mix", choices=["mixed", "hub", "security"], default="mixed")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database afterwards")
    parser.add_argument("--reseed", action="store_true", help="seed again even if a kept database matches")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean think time per user between pages, seconds (exponential; default 0: closed loop)")
    parser.add_argument("--tag", default="", help="a-z0-9 suffix of the hub database (as python -m bench --tag)")
    args = parser.parse_args(argv)

    size = dict((QUICK if args.quick else FULL)["hub"])
    users_n = args.users or (10 if args.quick else 50)
    seconds = args.seconds or (10 if args.quick else 60)
    suffix = ("-quick" if args.quick else "") + (f"-{args.tag.lower()}" if args.tag.isalnum() else "")
    databases = []
    db, env, seeded = hub_database(size, suffix, databases, reuse=not args.reseed)
    admins, viewers = max(1, users_n // 10), max(1, users_n // 10)
    members = users_n - admins - viewers
    users = (["bench-admin"] * admins + [f"bench-tech{(i % size['mailboxes']) + 1:02d}" for i in range(members)]
             + ["bench-viewer"] * viewers)
    report = {"started": datetime.now(UTC).isoformat(), "machine": common.machine(), "database": db,
              "dataset": size, "seed": seeded, "users": users_n, "seconds": seconds, "mix": args.mix,
              "think_seconds": args.think,
              "gunicorn": {"workers": args.workers, "worker_class": args.worker_class, "threads": args.threads}}
    try:
        with tempfile.TemporaryDirectory(prefix="vectis-load-") as tmp:
            plan = Path(tmp) / "plan.txt"
            checks = sessions_and_plan(env, users, size, args.mix, plan)
            port = free_port()
            proc = start_gunicorn(env, port, args.workers, args.worker_class, args.threads, Path(tmp) / "gunicorn.log")
            try:
                check_pages(port, checks)
                access_log = Path(tmp) / "access.log"
                already = access_log.stat().st_size if access_log.exists() else 0
                result = run_wrk(port, users_n, seconds, plan, args.think)
                result.update(server_times(access_log, already))
            finally:
                stop(proc)
                errors_log = (Path(tmp) / "gunicorn.log").read_text()[-4000:]
    finally:
        if not args.keep:
            for name in databases:
                common.db_drop(name)
    result["gunicorn_log_tail"] = errors_log
    seconds_run = result["duration_us"] / 1e6
    result["requests_per_second"] = round(result["requests"] / seconds_run, 1)
    result["errors_total"] = (result["status_other"] + result["redirects"] + result["socket_connect"] + result["socket_read"]
                              + result["socket_write"] + result["socket_timeout"])
    report["result"] = result
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / f"load-{datetime.now():%Y%m%d-%H%M%S}{suffix}-{args.mix}.json"
    out.write_text(json.dumps(report, indent=2, default=str))

    def ms(us):
        return f"{us / 1000:.0f} ms"

    print(f"\nload: {users_n} users, {seconds} s, mix={args.mix}, think {args.think} s, gunicorn {args.workers} x {args.worker_class}"
          f"{f' x {args.threads} threads' if args.threads > 1 else ''}, {size['messages']:,} messages / {size['customers']:,} customers")
    print(f"  requests     {result['requests']:,} ({result['hub_requests_sent']:,} hub, {result['security_requests_sent']:,} /security)")
    print(f"  throughput   {result['requests_per_second']} requests/s")
    print(f"  latency      p50 {ms(result['p50_us'])}, p90 {ms(result['p90_us'])}, p95 {ms(result['p95_us'])}, "
          f"p99 {ms(result['p99_us'])}, max {ms(result['max_us'])}")
    if result.get("server_requests"):
        print(f"  server time  p50 {result['server_p50_ms']} ms, p90 {result['server_p90_ms']} ms, "
              f"p95 {result['server_p95_ms']} ms, p99 {result['server_p99_ms']} ms, max {result['server_max_ms']} ms "
              f"(gunicorn access log, {result['server_requests']:,} requests)")
    print(f"  errors       {result['errors_total']} (non-200 {result['status_other']}, redirects {result['redirects']}, "
          f"socket connect/read/write/timeout {result['socket_connect']}/{result['socket_read']}/{result['socket_write']}/{result['socket_timeout']})")
    print(f"JSON: {out}")
    return 0
