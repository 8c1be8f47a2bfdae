"""Posture sync for a 10,000-user tenant, and the evidence pack of a
10,000-user customer built from the snapshot that sync stored."""

from __future__ import annotations

import time


def posture(params):
    from bench.sync import connect
    from integrations.posture.posture_sync import posture_sync
    from integrations.setup.connection import connection_get, graph_client_for

    info = params["sim"]
    connect(info)
    client = graph_client_for(connection_get())
    t0 = time.perf_counter()
    run = posture_sync(client=client)
    seconds = time.perf_counter() - t0
    client.close()
    if run.outcome != "success":
        raise RuntimeError(f"posture sync failed: {run.error}")
    return {
        "seconds": round(seconds, 2), "graph_requests": run.graph_requests, "retries": run.retries,
        "throttled_seconds": run.throttled_seconds, "mfa_source": run.mfa_source, "users_seen": run.users_seen,
        "users_matched": run.users_matched, "fallback_users": run.fallback_users, "error": run.error,
        "requests_by_kind": dict(client.counters.requests), "policy_paced_seconds": round(client.policy_paced_seconds, 2),
    }


def pack(params):
    """Build the pack of the customer with the most users, for each framework, `repeats` times."""
    from compliance.controls import FRAMEWORKS
    from compliance.packs import build_pack, pack_source
    from security.models import PostureSnapshot

    snapshot = (PostureSnapshot.objects.select_related("customer").order_by("-taken_on", "-id")
                .filter(metrics__users_total__gte=1).first())
    users = len(snapshot.users)
    out = {"customer_users": users, "frameworks": {}}
    for key, framework in FRAMEWORKS.items():
        times = []
        for _ in range(params.get("repeats", 3)):
            t0 = time.perf_counter()
            fresh = PostureSnapshot.objects.select_related("customer").get(pk=snapshot.pk)  # the read is included
            built = build_pack(pack_source(fresh, framework))
            times.append(time.perf_counter() - t0)
        out["frameworks"][key] = {
            "seconds_best": round(min(times), 2), "seconds_median": round(sorted(times)[len(times) // 2], 2),
            "zip_bytes": len(built.data),
            "files": {name: len(data) for name, data in sorted(built.files.items())},
        }
    return out
