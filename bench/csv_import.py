"""CSV import of customers: preview and confirm of an N-row file through the
real view, on PostgreSQL with production settings.

    python -m bench.csv_import [--rows 5000] [--existing 2000] [--tag x]

Measures, each in its own fresh process: preview (upload, plan, store in the
session) and confirm (plan again inside the transaction, bulk writes, audit
rows) of a file of new customers, against a database that already holds
`existing` customers; then the same file again (every row unchanged) and a
file that adds a domain and notes to every customer (every row an update).
"""

import argparse
import json
import time

from . import common


def _file(rows, start=0, *, update=False):
    lines = ["name,domains,notes"]
    for i in range(start, start + rows):
        domains = f"cust{i}.example;cust{i}.co.uk" + (f";extra{i}.example" if update else "")
        lines.append(f"Customer {i:05},{domains},{'updated notes' if update else 'plan ' + str(i % 7)}")
    return ("\n".join(lines) + "\n").encode()


def measure(params):
    """Runs inside bench.child (Django set up with production settings)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Role, User
    from customers.csv_import import import_apply
    from customers.models import Customer, CustomerDomain

    admin = User.objects.create_user("bench-admin", password="bench-password-0123", work_email="bench@msp.example",
                                     role=Role.ADMIN)
    if params["existing"]:
        import_apply(actor=admin, text=_file(params["existing"], start=100_000).decode())
    client = Client(HTTP_X_FORWARDED_PROTO="https")
    client.force_login(admin)
    results = {}
    for label, content in (("new", _file(params["rows"])), ("unchanged", _file(params["rows"])),
                           ("update", _file(params["rows"], update=True))):
        upload = SimpleUploadedFile("customers.csv", content, "text/csv")
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as preview_queries:
            preview = client.post("/customers/import/", {"file": upload}, secure=True)
        preview_s = time.perf_counter() - started
        assert preview.status_code == 200 and b"Nothing was imported" not in preview.content, preview.content[:2000]
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as confirm_queries:
            confirm = client.post("/customers/import/", {"confirm": "1"}, secure=True)
        confirm_s = time.perf_counter() - started
        assert confirm.status_code == 302, confirm.content[:2000]
        results[label] = {"preview_s": round(preview_s, 3), "confirm_s": round(confirm_s, 3),
                          "preview_queries": len(preview_queries), "confirm_queries": len(confirm_queries)}
    results["customers"] = Customer.objects.count()
    results["domains"] = CustomerDomain.objects.count()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.csv_import", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--existing", type=int, default=2000)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    db_name = f"vectis_bench_import{args.tag}"
    common.db_create(db_name)
    try:
        env = common.child_env(db_name, SECURE_SSL_REDIRECT="false")
        common.collectstatic(env)
        result = common.run_child("csv_import", {"rows": args.rows, "existing": args.existing}, env, timeout=1800)
    finally:
        common.db_drop(db_name)
    result["rows"], result["existing"], result["machine"] = args.rows, args.existing, common.machine()
    print(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
