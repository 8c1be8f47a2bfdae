"""A posture round over many linked customer tenants (issue 15): N customers,
each linked to its own simulated tenant of U users, collected with 1 and with
4 worker processes (forked, like Celery's prefork pool: one
tenant_posture_collect per tenant, as sync_customer_tenant_posture runs it),
then /security at N linked customers: queries and server time."""

from __future__ import annotations

import multiprocessing
import statistics
import time


def seed(params):
    from accounts.models import Role, User
    from bench.simproc import bench_customer_tenants
    from bench.sync import connect
    from customers.models import Customer, CustomerDomain
    from security.models import CustomerTenant

    connect(params["sim"])
    User.objects.create_user(username="bench-admin", password="x" * 20, work_email="a@msp.example", role=Role.ADMIN)
    tenants = bench_customer_tenants(params["tenants"])
    customers = Customer.objects.bulk_create([Customer(name=domain.split(".")[0].title()) for _, domain in tenants])
    CustomerDomain.objects.bulk_create([CustomerDomain(customer=c, domain=d) for c, (_, d) in zip(customers, tenants, strict=True)])
    CustomerTenant.objects.bulk_create([CustomerTenant(customer=c, tenant_id=t, tenant_name=c.name)
                                        for c, (t, _) in zip(customers, tenants, strict=True)])
    return {"customers": Customer.objects.count(), "linked": CustomerTenant.objects.count()}


def _collect_one(customer_id):
    from integrations.posture.tenant_posture import tenant_posture_collect

    return tenant_posture_collect(customer_id=customer_id)


def round_(params):
    """One full round over every linked tenant with `workers` processes."""
    from django.db import connections

    from integrations.posture.tenant_posture import linked_customer_ids
    from security.models import CustomerTenant

    ids = linked_customer_ids()
    workers = params["workers"]
    t0 = time.perf_counter()
    if workers == 1:
        outcomes = [_collect_one(i) for i in ids]
    else:
        connections.close_all()  # each forked worker opens its own
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            outcomes = pool.map(_collect_one, ids, chunksize=1)
    seconds = time.perf_counter() - t0
    rows = CustomerTenant.objects.exclude(tenant_id="")
    requests = sum(rows.values_list("last_graph_requests", flat=True))
    return {"workers": workers, "tenants": len(ids), "seconds": round(seconds, 1),
            "seconds_per_tenant": round(seconds / max(len(ids), 1), 2),
            "outcomes": {o: outcomes.count(o) for o in set(outcomes)},
            "graph_requests": requests, "graph_requests_per_tenant": round(requests / max(len(ids), 1), 1)}


def security_page(params):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username="bench-admin"))
    for _ in range(3):
        assert client.get("/security/").status_code == 200
    times = []
    for _ in range(params.get("repeats", 10)):
        t0 = time.perf_counter()
        client.get("/security/")
        times.append((time.perf_counter() - t0) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/security/")
    return {"queries": len(queries.captured_queries), "p50_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1), "own_tenant_rows": response.content.decode().count("Source: own tenant")}
