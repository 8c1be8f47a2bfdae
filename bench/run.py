"""The benchmark runner: `python -m bench [--quick] [--only a,b] [--keep]`.

Prints a table of figures and writes everything measured as JSON to
bench/results/<timestamp>[-quick].json. Benchmarks:

  sync     initial sync of N mailboxes x M messages (simulator in its own process)
           and the floor (plain requests + json + COPY, same pages, same rows),
           then a second sync with nothing new (incremental figures)
  cap      one 20,000-message mailbox (14 days): first sync against Graph's
           5,000-message cap on filtered delta (the fill-in lists the folder)
           and against an uncapped simulator, requests and seconds
  memory   peak RSS of a process syncing one 100,000-message mailbox
  hub      customer hub and /security: queries per page, p50/p95 server time
           on 1,000,000 messages, 2,000 customers, 50 mailboxes
  posture  posture sync of a 10,000-user tenant, with the registration report
           and with the per-user fallback (simulator fault unlicensed_report)
  pack     evidence pack of the 10,000-user customer (needs posture's database;
           runs posture first if it is not selected)
  tenants  a posture round over 500 linked customer tenants of 200 users each
           with 1 and 4 worker processes; /security at 500 linked customers
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime

from . import common

FULL = {
    "sync": {"mailboxes": 20, "messages": 5000},
    "cap": {"messages": 20_000},
    "memory": {"messages": 100_000},
    "hub": {"messages": 1_000_000, "customers": 2000, "mailboxes": 50, "repeats": 30, "snapshot_days": 90},
    "posture": {"users": 10_000},
    "pack": {"repeats": 3},
    "tenants": {"tenants": 500, "users": 200},
}
QUICK = {
    "sync": {"mailboxes": 3, "messages": 300},
    "cap": {"messages": 9000},
    "memory": {"messages": 3000},
    "hub": {"messages": 20_000, "customers": 100, "mailboxes": 10, "repeats": 5, "snapshot_days": 10},
    "posture": {"users": 300},
    "pack": {"repeats": 1},
    "tenants": {"tenants": 8, "users": 20},
}
REUSE = [False]
ORDER = ("sync", "cap", "memory", "hub", "posture", "pack", "tenants")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in about a minute")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--keep", action="store_true", help="keep the vectis_bench_* databases afterwards")
    parser.add_argument("--reuse-hub", action="store_true",
                        help="reuse a kept vectis_bench_hub database seeded with the same sizes (with --keep)")
    parser.add_argument("--tag", default="", help="a-z0-9 suffix for the database names, so runs do not collide")
    parser.add_argument("--messages", type=int, help="override the hub's message count")
    parser.add_argument("--memory-messages", type=int, help="override the memory benchmark's mailbox size")
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/<timestamp>.json)")
    args = parser.parse_args(argv)

    REUSE[0] = args.reuse_hub
    selected = [name for name in ORDER if not args.only or name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - set(ORDER)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    sizes = {name: dict(values) for name, values in (QUICK if args.quick else FULL).items()}
    if args.messages:
        sizes["hub"]["messages"] = args.messages
    if args.memory_messages:
        sizes["memory"]["messages"] = args.memory_messages
    report = {"started": datetime.now(UTC).isoformat(), "quick": args.quick, "machine": common.machine(),
              "sizes": {k: sizes[k] for k in selected}, "results": {}}
    if args.tag and not args.tag.isalnum():
        parser.error("--tag takes letters and digits only")
    suffix = ("-quick" if args.quick else "") + (f"-{args.tag.lower()}" if args.tag else "")
    databases = []
    try:
        for name in selected:
            t0 = time.perf_counter()
            print(f"== {name} ...", flush=True)
            runner = globals()[f"bench_{name}"]
            report["results"][name] = runner(sizes, suffix, databases)
            report["results"][name]["wall_seconds"] = round(time.perf_counter() - t0, 1)
    finally:
        if not args.keep:
            for db in databases:
                common.db_drop(db)
    report["finished"] = datetime.now(UTC).isoformat()
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.out or common.RESULTS / f"{datetime.now():%Y%m%d-%H%M%S}{suffix}.json"
    with open(out, "w") as handle:
        json.dump(report, handle, indent=2, default=str)
    print_table(report)
    print(f"\nJSON: {out}")
    return 0


# ------------------------------------------------------------------ benchmarks


def _db(name, suffix, databases):
    db = f"vectis_bench_{name}{suffix.replace('-', '_')}"
    common.db_create(db)
    databases.append(db)
    return db


def bench_sync(sizes, suffix, databases):
    size = sizes["sync"]
    db = _db("sync", suffix, databases)
    with common.simulator(mailboxes=size["mailboxes"], messages_per_mailbox=size["messages"]) as info:
        env = common.child_env(db, **common.sim_env(info))
        app = common.run_child("sync_initial", {"sim": info}, env)
        floor = common.run_child("floor", {"sim": info}, env)
    app_rate, floor_rate = app["kept_per_second_mail"], floor["kept_per_second"]
    return {
        "simulator": {"messages_total": info["messages_total"], "tenant_build_seconds": info["tenant_build_seconds"]},
        "app": app, "floor": floor,
        "floor_over_app": round(floor_rate / app_rate, 2) if app_rate else None,
        "same_rows": app["rows"] == floor["rows"],
    }


def bench_cap(sizes, suffix, databases):
    """The same mailbox synced with Graph's cap (delta then the folder listing) and without it."""
    messages = sizes["cap"]["messages"]
    out = {}
    for mode, cap in (("capped", None), ("uncapped", 0)):
        db = _db(f"cap_{mode}", suffix, databases)
        with common.simulator(mailboxes=1, messages_per_mailbox=messages, events_per_mailbox=24, delta_filter_cap=cap) as info:
            env = common.child_env(db, **common.sim_env(info))
            out[mode] = common.run_child("sync_capped", {"sim": info}, env)
            out[mode]["messages_in_mailbox"] = info["messages_total"]
    capped, uncapped = out["capped"], out["uncapped"]
    out["same_rows"] = capped["rows"] == uncapped["rows"]
    out["extra_requests"] = capped["mail_requests"] - uncapped["mail_requests"]
    out["seconds_ratio"] = round(capped["mail_seconds"] / uncapped["mail_seconds"], 2) if uncapped["mail_seconds"] else None
    return out


def bench_memory(sizes, suffix, databases):
    size = sizes["memory"]
    db = _db("mem", suffix, databases)
    with common.simulator(mailboxes=1, messages_per_mailbox=size["messages"], events_per_mailbox=24) as info:
        env = common.child_env(db, **common.sim_env(info))
        idle = common.run_child("idle", {"sim": info}, env)
        one = common.run_child("sync_one", {"sim": info}, env)
    return {"messages_in_mailbox": info["messages_total"], "idle": idle, "sync": one,
            "peak_rss_mib": one["child_max_rss_mib"], "baseline_rss_mib": idle["child_max_rss_mib"],
            "growth_mib": round(one["child_max_rss_mib"] - idle["child_max_rss_mib"], 1)}


def hub_seeded(db, size):
    """The seed's parameters if `db` holds a finished seed with exactly these sizes, else None."""
    if not common.db_exists(db):
        return None
    import psycopg

    with psycopg.connect(common.pg_url(db)) as conn:
        found = conn.execute("SELECT to_regclass('bench_seed_mark')").fetchone()[0]
        mark = conn.execute("SELECT params FROM bench_seed_mark").fetchone()[0] if found else None
    return mark if mark == json.dumps(_seed_params(size), sort_keys=True) else None


def _seed_params(size):
    return {k: v for k, v in size.items() if k != "repeats"}


def hub_database(size, suffix, databases, *, reuse):
    """The seeded hub database (vectis_bench_hub[_quick]); reused when asked and seeded with the same sizes."""
    db = f"vectis_bench_hub{suffix.replace('-', '_')}"
    env = common.child_env(db)
    if reuse and hub_seeded(db, size):
        seeded = {"reused": True}
    else:
        common.db_create(db)
        seeded = common.run_child("hub_seed", _seed_params(size), env)
    databases.append(db)
    common.collectstatic(env)
    return db, env, seeded


def bench_hub(sizes, suffix, databases):
    size = sizes["hub"]
    _db_name, env, seeded = hub_database(size, suffix, databases, reuse=REUSE[0])
    if seeded.get("reused"):
        seeded = common.run_child("hub_describe", {}, env)
    measured = common.run_child("hub_measure", size, env)
    return {"seed": seeded, **measured}


def bench_posture(sizes, suffix, databases):
    users = sizes["posture"]["users"]
    out = {}
    enforcement = {"policy_read": True, "extra_groups": 196, "extra_ca_policies": 42}  # 200 groups, 50 policies in all
    for mode, faults, extra in (("report", [], {}), ("fallback", ["unlicensed_report"], {}),
                                ("enforcement", [], enforcement)):
        db = _db({"report": "posture", "fallback": "posture_fb", "enforcement": "posture_enf"}[mode], suffix, databases)
        with common.simulator(mailboxes=4, messages_per_mailbox=10, users_per_customer=users,
                              customer_domains="northwind.example", faults=faults, **extra) as info:
            env = common.child_env(db, **common.sim_env(info))
            out[mode] = common.run_child("posture", {"sim": info}, env)
            out[mode]["tenant_users"] = info["users_total"]
            out[mode]["groups"] = info.get("groups_total")
            out[mode]["ca_policies"] = info.get("ca_policies_total")
    return out


def bench_pack(sizes, suffix, databases):
    db = f"vectis_bench_posture{suffix.replace('-', '_')}"
    if db not in databases:
        bench_posture(sizes, suffix, databases)
    return common.run_child("pack", sizes["pack"], common.child_env(db))


def bench_tenants(sizes, suffix, databases):
    size = sizes["tenants"]
    db = _db("tenants", suffix, databases)
    with common.simulator(mailboxes=1, messages_per_mailbox=5, events_per_mailbox=2, users_per_customer=2,
                          customer_tenants=size["tenants"], customer_tenant_users=size["users"], policy_read=True) as info:
        env = common.child_env(db, **common.sim_env(info))
        seeded = common.run_child("tenants_seed", {"sim": info, "tenants": size["tenants"]}, env)
        rounds = [common.run_child("tenants_round", {"workers": workers}, env) for workers in (1, 4)]
        common.collectstatic(env)
        page = common.run_child("tenants_security", {"repeats": 10}, env)
    return {"seed": seeded, "tenant_build_seconds": info["tenant_build_seconds"], "rounds": rounds, "security": page}


# ------------------------------------------------------------------ the table


def rows_for(report):
    results, rows = report["results"], []
    if "sync" in results:
        s = results["sync"]
        app, floor = s["app"], s["floor"]
        rows += [
            ("sync", f"initial sync, {app['mailboxes']} mailboxes, kept messages/s (app, mail folders)",
             f"{app['kept_per_second_mail']:,} ({app['kept']:,} kept of {app['seen']:,} seen in {app['initial_mail_seconds']} s)"),
            ("sync", "initial sync, kept messages/s (floor: requests + json + COPY)",
             f"{floor['kept_per_second']:,} ({floor['kept']:,} in {floor['seconds']} s: "
             f"fetch+parse {floor['fetch_parse_filter_seconds']} s, COPY {floor['copy_seconds']} s)"),
            ("sync", "floor / app", f"{s['floor_over_app']}x (same rows: {s['same_rows']})"),
            ("sync", "initial sync, Graph requests per 1,000 messages (mail folders)",
             f"{app.get('mail_requests_per_1000')} ({app.get('initial_mail_requests')} requests)"),
            ("sync", "initial sync, whole run incl. calendar", f"{app['initial_total_seconds']} s, {app['initial_graph_requests']} Graph requests"),
            ("sync", "incremental, nothing new: Graph requests per mailbox",
             f"{app['incremental_requests_per_mailbox']} (mail folders {app['incremental_mail_requests_per_mailbox']})"),
            ("sync", "incremental, nothing new: time per mailbox",
             f"{app['incremental_seconds_per_mailbox'] * 1000:.0f} ms ({app['incremental_seconds_total']} s for {app['mailboxes']})"),
        ]
    if "cap" in results:
        c = results["cap"]
        for mode in ("capped", "uncapped"):
            r = c[mode]
            listed = f", {r['listed']:,} via the folder listing" if mode == "capped" else ""
            rows.append(("cap", f"first sync, {r['messages_in_mailbox']:,}-message mailbox, {mode} (mail folders)",
                         f"{r['mail_requests']} Graph requests, {r['mail_seconds']} s ({r['kept']:,} kept of {r['seen']:,}{listed})"))
        rows.append(("cap", "capped vs uncapped", f"{c['extra_requests']:+} requests, {c['seconds_ratio']}x time (same rows: {c['same_rows']})"))
    if "memory" in results:
        m = results["memory"]
        rows.append(("memory", f"peak RSS syncing one {m['sync']['seen']:,}-message mailbox (wait4 ru_maxrss)",
                     f"{m['peak_rss_mib']} MiB (idle process {m['baseline_rss_mib']} MiB, +{m['growth_mib']} MiB; {m['sync']['seconds']} s)"))
    if "hub" in results:
        h = results["hub"]
        rows.append(("hub", "dataset", (f"{h['seed']['rows']['customers_message']:,} messages, "
                     f"{h['seed']['rows']['customers_customer']:,} customers, {h['seed']['database_size']}")))
        for page in h["pages"]:
            rows.append(("hub", page["page"], f"{page['queries']} queries, p50 {page['p50_ms']} ms, p95 {page['p95_ms']} ms"))
    if "posture" in results:
        for mode in ("report", "fallback", "enforcement"):
            p = results["posture"].get(mode)
            if p is None:
                continue
            rows.append(("posture", f"posture sync, {p['tenant_users']:,}-user tenant, {mode}",
                         (f"{p['seconds']} s, {p['graph_requests']} Graph requests ({p['users_matched']:,} matched, "
                          f"{p['fallback_users']:,} via fallback)")))
    if "pack" in results:
        pk = results["pack"]
        for key, f in pk["frameworks"].items():
            rows.append(("pack", f"evidence pack {key}, {pk['customer_users']:,}-user customer",
                         f"{f['seconds_median']} s, {f['zip_bytes'] / 1024:,.0f} KiB zip"))
    if "tenants" in results:
        t = results["tenants"]
        for r in t["rounds"]:
            rows.append(("tenants", f"posture round, {r['tenants']} customer tenants, {r['workers']} worker(s)",
                         f"{r['seconds']} s ({r['seconds_per_tenant']} s/tenant), {r['graph_requests']:,} Graph requests "
                         f"({r['graph_requests_per_tenant']}/tenant), outcomes {r['outcomes']}"))
        s = t["security"]
        rows.append(("tenants", f"/security at {t['seed']['linked']} linked customers",
                     f"{s['queries']} queries, p50 {s['p50_ms']} ms, max {s['max_ms']} ms"))
    return rows


def goals_for(report):
    """(goal, target, measured, met) for each line of issue 17's table this run measured."""
    results, out = report["results"], []
    if "sync" in results:
        s = results["sync"]
        share = round(100 / s["floor_over_app"]) if s.get("floor_over_app") else None
        out.append(("initial sync vs the floor (same run)", ">= 50% of the floor's throughput", f"{share}%",
                    share is not None and share >= 50))
        per_1000 = s["app"].get("mail_requests_per_1000")
        out.append(("Graph requests on initial sync", "<= 1.1 per 1,000 messages", f"{per_1000} per 1,000",
                    per_1000 is not None and per_1000 <= 1.1))
    if "memory" in results:
        m = results["memory"]
        out.append((f"worker RSS, {m['sync']['seen']:,}-message mailbox", "<= 150 MiB (at 500k)",
                    f"{m['peak_rss_mib']} MiB", m["peak_rss_mib"] <= 150))
    if "hub" in results:
        pages = results["hub"]["pages"]
        hubs = [p for p in pages if p["page"].startswith("hub")]
        largest = [p for p in hubs if "largest" in p["page"]]
        security = [p for p in pages if p["page"].startswith(("/security,", "/security page"))]
        if hubs:
            worst = max(p["queries"] for p in hubs)
            out.append(("hub queries, any page", "<= 12", str(worst), worst <= 12))
        if largest:
            p95 = max(p["p95_ms"] for p in largest)
            out.append(("hub p95, largest customer", "<= 50 ms", f"{p95} ms", p95 <= 50))
        if security:
            p95 = max(p["p95_ms"] for p in security)
            out.append(("/security p95", "<= 150 ms", f"{p95} ms", p95 <= 150))
    if "pack" in results:
        for key, f in results["pack"]["frameworks"].items():
            out.append((f"evidence pack {key}", "<= 3 s", f"{f['seconds_median']} s", f["seconds_median"] <= 3))
    return out


def print_table(report):
    rows = rows_for(report)
    if not rows:
        return
    width = max(len(r[1]) for r in rows)
    print()
    for bench, label, value in rows:
        print(f"{bench:<8} {label:<{width}}  {value}")
    goals = goals_for(report)
    if goals:
        width = max(len(g[0]) for g in goals)
        print("\nGoals (issue 17), measured in this run:")
        for goal, target, measured, met in goals:
            print(f"  {goal:<{width}}  goal {target:<34} measured {measured:<14} {'met' if met else 'MISSED'}")
