"""Mail sync figures (run inside bench.child, Django set up, simulator elsewhere).

- sync_initial: the application's first sync of every mailbox, one after the
  other in this one process (one worker), then a second round with nothing
  new (the incremental figures).
- sync_one: one mailbox's first sync, for the peak-memory figure (the parent
  reads this process's ru_maxrss with wait4).
- idle: the same process set up but syncing nothing (the memory baseline).
- sync_capped: one busy mailbox's first sync, per folder: Graph requests,
  seconds, whether Graph's delta cap was hit and how many messages the folder
  listing added (bench.run's "cap" runs it against a capped and an uncapped
  simulator).
"""

from __future__ import annotations

import resource
import time
from datetime import datetime


def connect(info, *, domains=None):
    """One customer per simulated customer domain and a saved connection listing every mailbox."""
    from customers.models import Customer
    from customers.services import customer_create
    from integrations.setup.services import connection_save

    if not Customer.objects.exists():
        for domain in domains or info["customer_domains_all"]:
            customer_create(actor=None, name=domain.split(".")[0].title(), domains=[domain])
    connection_save(actor=None, tenant_id=info["tenant_id"], client_id=info["client_id"],
                    client_secret=info["client_secret"], mailboxes=info["technician_upns"], secret_expires_on=None)


def _folder_seconds(upns):
    from integrations.mail.models import SyncRun

    out = {}
    for run in SyncRun.objects.filter(mailbox__in=upns).exclude(folder="all"):
        if run.finished_at:
            out.setdefault(run.folder, 0.0)
            out[run.folder] += (run.finished_at - run.started_at).total_seconds()
    return out


def _rows():
    from customers.models import (
        Message,
        MessageCustomer,
        MessageHolder,
        MessageParticipant,
    )

    return {
        "messages": Message.objects.count(), "holders": MessageHolder.objects.count(),
        "participants": MessageParticipant.objects.count(), "customer_links": MessageCustomer.objects.count(),
    }


def _round(upns, now, reason):
    from integrations.mail.sync import mailbox_sync

    per_mailbox = []
    started = time.perf_counter()
    for upn in upns:
        t0 = time.perf_counter()
        summary = mailbox_sync(upn=upn, now=now, reason=reason)
        runs = summary["runs"]
        if summary["outcome"] != "success":
            raise RuntimeError(f"sync of {upn} failed: {summary}")
        per_mailbox.append({
            "mailbox": upn,
            "seconds": time.perf_counter() - t0,
            "graph_requests": sum(r["graph_requests"] for r in runs.values()),
            "mail_requests": sum(runs[f]["graph_requests"] for f in ("inbox", "sentitems")),
            "kept": sum(runs[f]["kept"] for f in ("inbox", "sentitems")),
            "seen": sum(runs[f]["seen"] for f in ("inbox", "sentitems")),
            "events_kept": runs["calendar"]["kept"],
        })
    return per_mailbox, time.perf_counter() - started


def sync_initial(params):
    from integrations.mail.models import SyncRun

    info = params["sim"]
    connect(info)
    upns = info["technician_upns"]
    now = datetime.fromisoformat(info["anchor"])

    first, first_seconds = _round(upns, now, "initial")
    folders = _folder_seconds(upns)
    kept = sum(m["kept"] for m in first)
    seen = sum(m["seen"] for m in first)
    mail_seconds = folders.get("inbox", 0) + folders.get("sentitems", 0)
    rows = _rows()

    SyncRun.objects.all().delete()
    again, again_seconds = _round(upns, now, "command")
    n = len(upns)
    return {
        "mailboxes": n,
        "seen": seen,
        "kept": kept,
        "dropped_share": round(1 - kept / seen, 3) if seen else None,
        "initial_total_seconds": round(first_seconds, 2),
        "initial_mail_seconds": round(mail_seconds, 2),
        "initial_calendar_seconds": round(folders.get("calendar", 0), 2),
        "kept_per_second_mail": round(kept / mail_seconds, 1) if mail_seconds else None,
        "kept_per_second_total": round(kept / first_seconds, 1),
        "initial_graph_requests": sum(m["graph_requests"] for m in first),
        "initial_mail_requests": sum(m["mail_requests"] for m in first),
        # Mail folders only (delta pages, the mailbox lookups and the token), per 1,000 messages seen.
        "mail_requests_per_1000": round(sum(m["mail_requests"] for m in first) * 1000 / seen, 2) if seen else None,
        "rows": rows,
        "incremental_seconds_total": round(again_seconds, 3),
        "incremental_seconds_per_mailbox": round(again_seconds / n, 3),
        "incremental_requests_per_mailbox": round(sum(m["graph_requests"] for m in again) / n, 2),
        "incremental_mail_requests_per_mailbox": round(sum(m["mail_requests"] for m in again) / n, 2),
        "incremental_kept": sum(m["kept"] for m in again),
    }


def sync_one(params):
    info = params["sim"]
    connect(info)
    upn = info["technician_upns"][0]
    now = datetime.fromisoformat(info["anchor"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per_mailbox, seconds = _round([upn], now, "initial")
    return {
        "mailbox": upn,
        "seen": per_mailbox[0]["seen"],
        "kept": per_mailbox[0]["kept"],
        "seconds": round(seconds, 2),
        "max_rss_before_sync_mib": round(before / 1024, 1),
        "max_rss_self_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rows": _rows(),
    }


def idle(params):
    """Everything a sync process loads, without syncing: the baseline for sync_one."""
    from integrations.mail import sync  # noqa: F401 - imported for its memory
    from integrations.setup.connection import connection_get, graph_client_for

    info = params["sim"]
    connect(info)
    client = graph_client_for(connection_get())
    client.close()
    return {"max_rss_self_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def sync_capped(params):
    from integrations.mail.models import SyncRun

    info = params["sim"]
    connect(info)
    upn = info["technician_upns"][0]
    now = datetime.fromisoformat(info["anchor"])
    per_mailbox, seconds = _round([upn], now, "initial")
    folders = {}
    for run in SyncRun.objects.filter(mailbox=upn, folder__in=["inbox", "sentitems"]):
        folders[run.folder] = {
            "graph_requests": run.graph_requests, "seconds": round((run.finished_at - run.started_at).total_seconds(), 2),
            "seen": run.seen, "kept": run.kept, "capped": run.capped, "listed": run.listed,
        }
    mail = list(folders.values())
    return {
        "mailbox": upn,
        "folders": folders,
        "mail_requests": sum(f["graph_requests"] for f in mail),
        "mail_seconds": round(sum(f["seconds"] for f in mail), 2),
        "seen": sum(f["seen"] for f in mail),
        "kept": sum(f["kept"] for f in mail),
        "listed": sum(f["listed"] for f in mail),
        "total_seconds": round(seconds, 2),
        "total_requests": per_mailbox[0]["graph_requests"],
        "rows": _rows(),
    }
