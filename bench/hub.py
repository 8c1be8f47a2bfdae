"""The customer hub and /security on a large dataset.

seed: rows written straight into PostgreSQL (INSERT ... SELECT over
generate_series, COPY for the snapshots), deterministic (setseed), no Graph.
Shape, for messages=1,000,000, customers=2,000, mailboxes=50:
- customer sizes are skewed (customer k gets a share like k^-0.6: customer 1
  about 48,000 messages, the median customer about 300, the last about 200);
- messages spread over the 30-day retention window; 60% received, 40% sent;
- each customer has a primary technician who holds 70% of its mail, the rest
  is spread over all 50 mailboxes; 20% of messages also sit in a colleague's
  mailbox (two holders, the colleague in cc); 30% have a second customer
  contact in cc; 2% touch a second customer;
- 5 contacts and one domain per customer; 20,000 meetings in the hub's window;
- 90 days of posture snapshots per customer (metrics only; the latest two
  also carry the user list, 3 to 253 users, which the pages read).
measure: the Django test client in this process (DEBUG off, production
settings), CaptureQueriesContext for the query count, wall time of each
request for "server time" (no network, no gunicorn: see bench/load for that).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import timedelta

SEED_MARK = "bench-seed"


def _sql(conn, text, **params):
    for key, value in params.items():
        text = text.replace(f":{key}", str(int(value)))
    conn.execute(text)


def seed(params):
    import psycopg
    from django.utils import timezone

    n_messages, n_customers, n_mailboxes = params["messages"], params["customers"], params["mailboxes"]
    n_events = params.get("events", max(1000, n_customers * 10))
    timings = {}
    conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    p = {"N": n_messages, "C": n_customers, "M": n_mailboxes, "E": n_events}

    def step(name, text):
        t0 = time.perf_counter()
        _sql(conn, text, **p)
        timings[name] = round(time.perf_counter() - t0, 1)

    conn.execute("SELECT setseed(0.42)")
    step("customers", """
        INSERT INTO customers_customer (id, name, notes, created_at, updated_at)
        SELECT c, 'Customer ' || lpad(c::text, 5, '0'), '', now(), now() FROM generate_series(1, :C) c;
        INSERT INTO customers_customerdomain (customer_id, domain, created_at)
        SELECT c, 'cust' || c || '.example', now() FROM generate_series(1, :C) c;
        INSERT INTO customers_contact (customer_id, name, email)
        SELECT c, 'Contact ' || k, 'contact' || k || '@cust' || c || '.example'
        FROM generate_series(1, :C) c, generate_series(1, 5) k;
        SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), :C);
    """)
    step("staging", """
        CREATE UNLOGGED TABLE bench_msg AS
        SELECT i AS id, c AS customer_id,
               CASE WHEN random() < 0.7 THEN ((c * 7) % :M) + 1 ELSE 1 + floor(random() * :M)::int END AS tech,
               random() < 0.6 AS received, random() < 0.2 AS colleague, random() < 0.3 AS cc_contact,
               random() < 0.02 AS second_customer, 1 + floor(random() * 5)::int AS contact,
               now() - random() * interval '30 days' AS received_at
        FROM (SELECT i, LEAST(:C, 1 + floor(:C * power(random(), 2.5)))::int AS c FROM generate_series(1, :N) i) s;
    """)
    step("messages", """
        INSERT INTO customers_message (id, identity, internet_message_id, conversation_id, subject, from_name,
                                       from_address, sent_at, received_at, updated_at)
        SELECT id, md5(id::text) || md5('identity' || id), '<' || md5(id::text) || '@bench.example>',
               'AAQkAG' || md5('c' || (id / 3)),
               'Ticket #' || (1000 + id % 9000) || ': VPN down at the office',
               CASE WHEN received THEN 'Contact ' || contact ELSE 'Tech ' || tech END,
               CASE WHEN received THEN 'contact' || contact || '@cust' || customer_id || '.example'
                    ELSE 'tech' || lpad(tech::text, 2, '0') || '@msp.example' END,
               received_at - interval '7 seconds', received_at, now()
        FROM bench_msg;
        SELECT setval(pg_get_serial_sequence('customers_message', 'id'), :N);
    """)
    step("holders", """
        INSERT INTO customers_messageholder (message_id, mailbox, graph_id, folder, direction, preview, web_link)
        SELECT id, 'tech' || lpad(tech::text, 2, '0') || '@msp.example', 'AAMkAG' || md5(id || 'h') || md5(id || 'g') || 'AAA=',
               CASE WHEN received THEN 'inbox' ELSE 'sentitems' END, CASE WHEN received THEN 'received' ELSE 'sent' END,
               'Could you take a look when you get a chance? Several people have reported the same problem since '
               || 'this morning and it is starting to affect the team''s work. We restarted the equipment.',
               'https://outlook.office365.com/owa/?ItemID=AAMkAG' || md5(id || 'h') || '&exvsurl=1&viewmodel=ReadMessageItem'
        FROM bench_msg
        UNION ALL
        SELECT id, 'tech' || lpad(((tech % :M) + 1)::text, 2, '0') || '@msp.example', 'AAMkAG' || md5(id || 'c') || 'AAA=', 'inbox',
               CASE WHEN received THEN 'received' ELSE 'sent' END,
               'Could you take a look when you get a chance? Several people have reported the same problem since '
               || 'this morning and it is starting to affect the team''s work. We restarted the equipment.',
               'https://outlook.office365.com/owa/?ItemID=AAMkAG' || md5(id || 'c') || '&exvsurl=1&viewmodel=ReadMessageItem'
        FROM bench_msg WHERE colleague;
    """)
    step("participants", """
        -- Every copy carries its own participant list (the same people here).
        CREATE UNLOGGED TABLE bench_copy AS
        SELECT h.id AS holder_id, b.* FROM bench_msg b JOIN customers_messageholder h ON h.message_id = b.id;
        INSERT INTO customers_messageparticipant (holder_id, message_id, role, address, name)
        SELECT holder_id, id, 'from', CASE WHEN received THEN 'contact' || contact || '@cust' || customer_id || '.example'
                                ELSE 'tech' || lpad(tech::text, 2, '0') || '@msp.example' END,
               CASE WHEN received THEN 'Contact ' || contact ELSE 'Tech ' || tech END
        FROM bench_copy
        UNION ALL
        SELECT holder_id, id, 'to', CASE WHEN received THEN 'tech' || lpad(tech::text, 2, '0') || '@msp.example'
                              ELSE 'contact' || contact || '@cust' || customer_id || '.example' END, ''
        FROM bench_copy
        UNION ALL
        SELECT holder_id, id, 'cc', 'tech' || lpad(((tech % :M) + 1)::text, 2, '0') || '@msp.example', ''
        FROM bench_copy WHERE colleague
        UNION ALL
        SELECT holder_id, id, 'cc', 'contact' || ((contact % 5) + 1) || '@cust' || customer_id || '.example', ''
        FROM bench_copy WHERE cc_contact;
        DROP TABLE bench_copy;
    """)
    step("customer_links", """
        INSERT INTO customers_messagecustomer (message_id, customer_id, received_at)
        SELECT id, customer_id, received_at FROM bench_msg
        UNION ALL
        SELECT id, (customer_id % :C) + 1, received_at FROM bench_msg WHERE second_customer;
        DROP TABLE bench_msg;
    """)
    step("events", """
        CREATE UNLOGGED TABLE bench_ev AS
        SELECT j AS id, LEAST(:C, 1 + floor(:C * power(random(), 2.5)))::int AS customer_id,
               1 + floor(random() * :M)::int AS tech, 1 + floor(random() * 5)::int AS contact,
               date_trunc('hour', now() - interval '7 days' + random() * interval '21 days') AS starts_at
        FROM generate_series(1, :E) j;
        INSERT INTO customers_event (id, identity, ical_uid, subject, starts_at, ends_at, is_all_day, is_cancelled, location,
                                     organizer_name, organizer_address, online_meeting_url, updated_at)
        SELECT id, md5(id::text) || md5('identity' || id), 'bench-' || md5(id::text), 'Quarterly business review',
               starts_at, starts_at + interval '1 hour', false, false, 'Teams', 'Tech ' || tech,
               'tech' || lpad(tech::text, 2, '0') || '@msp.example', '', now()
        FROM bench_ev;
        SELECT setval(pg_get_serial_sequence('customers_event', 'id'), :E);
        INSERT INTO customers_eventholder (event_id, mailbox, graph_id, series_master_id, preview, web_link)
        SELECT id, 'tech' || lpad(tech::text, 2, '0') || '@msp.example', 'AAMkAGev' || md5(id::text), '',
               'Agenda: licensing, backups, onboarding.', '' FROM bench_ev;
        INSERT INTO customers_eventparticipant (holder_id, event_id, role, address, name, response)
        SELECT h.id, e.id, 'organizer', 'tech' || lpad(tech::text, 2, '0') || '@msp.example', 'Tech ' || tech, ''
        FROM bench_ev e JOIN customers_eventholder h ON h.event_id = e.id
        UNION ALL
        SELECT h.id, e.id, 'required', 'contact' || contact || '@cust' || customer_id || '.example', 'Contact ' || contact,
               'accepted'
        FROM bench_ev e JOIN customers_eventholder h ON h.event_id = e.id;
        INSERT INTO customers_eventcustomer (event_id, customer_id, starts_at) SELECT id, customer_id, starts_at FROM bench_ev;
        DROP TABLE bench_ev;
    """)
    t0 = time.perf_counter()
    snapshots = _seed_snapshots(conn, n_customers, days=params.get("snapshot_days", 90), now=timezone.now())
    timings["snapshots"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    conn.execute("VACUUM ANALYZE")
    timings["vacuum_analyze"] = round(time.perf_counter() - t0, 1)
    _users(n_mailboxes)
    described = describe({}, conn)
    conn.execute("CREATE TABLE bench_seed_mark (params text)")
    conn.execute("INSERT INTO bench_seed_mark VALUES (%s)", [json.dumps(params, sort_keys=True)])
    conn.close()
    return {"seconds": timings, "snapshots": snapshots, **described}


def describe(params, conn=None):
    """Row counts and database size of a seeded database."""
    import psycopg

    own = conn is None
    conn = conn or psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in (
        "customers_customer", "customers_message", "customers_messageholder", "customers_messageparticipant",
        "customers_messagecustomer", "customers_event", "security_posturesnapshot")}
    size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    if own:
        conn.close()
    return {"rows": counts, "database_size": size}


def _seed_snapshots(conn, n_customers, *, days, now):
    from customers.windows import snapshot_day
    from security.posture import ObservedUser, posture_metrics, snapshot_user_row

    rng = random.Random(42)
    methods = (("microsoftAuthenticatorPush",), ("fido2", "microsoftAuthenticatorPush"), ("mobilePhone",),
               ("softwareOneTimePasscode",), ())
    today = snapshot_day(now)
    provenance = json.dumps({"mfa_source": "report", "tenant_name": "Bench MSP", "app_version": "bench"})
    written = 0
    with conn.cursor() as cur, cur.copy(
        "COPY security_posturesnapshot (customer_id, taken_on, as_of, metrics, users, provenance) FROM STDIN"
    ) as copy:
        for c in range(1, n_customers + 1):
            size = 3 + int(250 * rng.random() ** 4)
            users = []
            for u in range(size):
                kind = rng.random()
                types = methods[rng.randrange(len(methods))] if kind > 0.05 else ()
                users.append(ObservedUser(
                    graph_id=f"{c:05d}-{u:04d}-bench", upn=f"user{u}@cust{c}.example", display_name=f"User {u}",
                    user_type="guest" if kind < 0.03 else "member", account_enabled=rng.random() > 0.08,
                    mfa_registered=bool(types) if rng.random() > 0.02 else None, method_types=types, mfa_source="report",
                    privileged_roles=({"template_id": "62e90394-69f5-4237-9190-012177145e10", "name": "Global Administrator"},)
                    if u < 2 else (), customer_id=c,
                ))
            metrics = json.dumps(posture_metrics(users))
            full = json.dumps([snapshot_user_row(u) for u in users])
            for back in range(days):
                day = today - timedelta(days=back)
                copy.write_row((c, day, now - timedelta(days=back), metrics, full if back < 2 else "[]", provenance))
                written += 1
    return written


def _users(n_mailboxes):
    from accounts.models import Role, User

    User.objects.filter(username__startswith="bench-").delete()
    User.objects.create_user("bench-admin", "bench-admin@msp.example", "bench-password-0123", role=Role.ADMIN)
    User.objects.create_user("bench-viewer", "auditor@msp.example", "bench-password-0123", role=Role.VIEWER)
    for t in range(1, n_mailboxes + 1):
        User.objects.create_user(f"bench-tech{t:02d}", f"tech{t:02d}@msp.example", "bench-password-0123", role=Role.MEMBER)


# ------------------------------------------------------------------ measuring


def percentile(values, pct):
    """Nearest-rank percentile (no interpolation): a value that was measured."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def cases(n_customers, n_mailboxes):
    """(label, path, username) for the pages measured: the biggest, the median and
    the smallest customer; admin, the customer's primary technician (holds 70% of
    its mail) and a technician who took part in almost none of it."""
    big, median, small = 1, max(1, n_customers // 2), n_customers

    def primary(c):
        return f"bench-tech{((c * 7) % n_mailboxes) + 1:02d}"

    def stranger(c):
        return f"bench-tech{((c * 7 + n_mailboxes // 2) % n_mailboxes) + 1:02d}"

    out = []
    for label, c in (("largest", big), ("median", median), ("smallest", small)):
        out += [
            (f"hub {label} customer, admin", f"/customers/{c}/", "bench-admin"),
            (f"hub {label} customer, member (primary tech)", f"/customers/{c}/", primary(c)),
            (f"hub {label} customer, member (rarely involved)", f"/customers/{c}/", stranger(c)),
        ]
    out += [
        ("hub largest customer, email page 2 (htmx), admin", f"/customers/{big}/?page=2", "bench-admin"),
        ("/security, admin", "/security/", "bench-admin"),
        ("/security, member", "/security/", primary(big)),
        ("/security page 40, viewer", "/security/?page=40", "bench-viewer"),
        ("/security/customers/<largest>, viewer", f"/security/customers/{big}/", "bench-viewer"),
        ("/customers/ list, member", "/customers/", primary(big)),
    ]
    return out


def measure(params):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    repeats, warmup = params.get("repeats", 30), params.get("warmup", 3)
    results = []
    for label, path, username in cases(params["customers"], params["mailboxes"]):
        client = Client()
        client.force_login(User.objects.get(username=username))
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in label else {}
        for _ in range(warmup):
            response = client.get(path, **headers)
            assert response.status_code == 200, (path, response.status_code)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            response = client.get(path, **headers)
            times.append((time.perf_counter() - t0) * 1000)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, **headers)
        slowest = max(queries.captured_queries, key=lambda q: float(q["time"]), default=None)
        results.append({
            "page": label, "path": path, "user": username, "status": response.status_code,
            "queries": len(queries.captured_queries),
            "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 95), 1),
            "max_ms": round(max(times), 1), "bytes": len(response.content),
            "slowest_query_ms": round(float(slowest["time"]) * 1000, 1) if slowest else None,
            "slowest_query": slowest["sql"][:300] if slowest else None,
        })
    results.append(_security_cold(repeats=max(3, repeats // 3)))
    return {"pages": results, "repeats": repeats}


def _security_cold(*, repeats):
    """/security on the request after a snapshot write: the cached order is
    rebuilt from every customer's latest snapshot (once a day in production)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from security.rollup import snapshots_changed

    client = Client()
    client.force_login(User.objects.get(username="bench-admin"))
    client.get("/security/")
    times = []
    for _ in range(repeats):
        snapshots_changed()
        t0 = time.perf_counter()
        response = client.get("/security/")
        times.append((time.perf_counter() - t0) * 1000)
    snapshots_changed()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/security/")
    return {"page": "/security after a snapshot write (order rebuilt), admin", "path": "/security/",
            "user": "bench-admin", "status": response.status_code, "queries": len(queries.captured_queries),
            "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 95), 1),
            "max_ms": round(max(times), 1), "bytes": len(response.content)}
