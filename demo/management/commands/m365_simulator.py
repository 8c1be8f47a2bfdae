"""Serve the Graph simulator (fake Entra + Microsoft Graph) over HTTPS.

    python manage.py m365_simulator --port 8443 --info-file var/simulator.json

Prints the URLs, tenant id, demo client id/secret and the CA certificate path
to point the app at (VECTIS_GRAPH_BASE_URL, VECTIS_LOGIN_BASE_URL,
VECTIS_GRAPH_CA_BUNDLE), then serves until Ctrl-C. A thin wrapper: everything
lives in graphsim, which does not need Django.
"""

import json
import signal
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from graphsim import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    FAULTS,
    WITH_POLICY_READ,
    GraphSimulator,
    TenantSpec,
    build_tenant,
    serve,
)


def _fault(text):
    """"throttle:every=5,retry_after=2" -> ("throttle", {"every": 5, "retry_after": 2})."""
    name, _, rest = text.partition(":")
    params = {}
    for pair in filter(None, rest.split(",")):
        key, _, value = pair.partition("=")
        if key == "mailboxes" or key in ("granted", "missing"):
            params.setdefault(key, []).extend(v for v in value.split("|") if v)
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    if name not in FAULTS:
        raise CommandError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
    return name, params


class Command(BaseCommand):
    help = "Serve a deterministic fake Microsoft 365 tenant (Entra + Graph) over HTTPS for the demo and tests."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=0, help="port to listen on (0 picks a free one)")
        parser.add_argument("--host", default="127.0.0.1", help="address to bind")
        parser.add_argument("--public-host", default=None, help="host name clients use (put in the URLs and certificate)")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--mailboxes", type=int, default=TenantSpec.technicians, help="technician mailboxes")
        parser.add_argument("--messages-per-mailbox", type=int, default=TenantSpec.messages_per_mailbox)
        parser.add_argument("--events-per-mailbox", type=int, default=TenantSpec.events_per_mailbox)
        parser.add_argument("--users-per-customer", type=int, default=TenantSpec.users_per_customer)
        parser.add_argument("--busy-inbox-messages", type=int, default=TenantSpec.busy_inbox_messages,
                            help="extra messages in the last technician's inbox (over 5,000 trips Graph's delta cap)")
        parser.add_argument("--client-id", default=DEMO_CLIENT_ID)
        parser.add_argument("--client-secret", default=DEMO_CLIENT_SECRET)
        parser.add_argument(
            "--permissions", default=",".join(WITH_POLICY_READ),
            help="granted application permissions, comma-separated (default: the six plus the optional Policy.Read.All)"
        )
        parser.add_argument(
            "--fault", action="append", default=[], metavar="NAME[:k=v,...]",
            help="start with a fault set, e.g. throttle:every=5 or mailbox_not_enabled:mailboxes=a@x|b@x (repeatable)",
        )
        parser.add_argument("--cert-dir", default=None, help="where to write the certificate (default: a temp dir)")
        parser.add_argument("--info-file", default=None, help="also write the connection details here as JSON")

    def handle(self, *args, **opts):
        spec = TenantSpec(
            seed=opts["seed"],
            technicians=opts["mailboxes"],
            messages_per_mailbox=opts["messages_per_mailbox"],
            events_per_mailbox=opts["events_per_mailbox"],
            users_per_customer=opts["users_per_customer"],
            busy_inbox_messages=opts["busy_inbox_messages"],
        )
        permissions = [p.strip() for p in opts["permissions"].split(",") if p.strip()]
        sim = GraphSimulator(
            build_tenant(spec),
            client_id=opts["client_id"],
            client_secret=opts["client_secret"],
            granted_permissions=permissions,
        )
        for text in opts["fault"]:
            name, params = _fault(text)
            sim.faults.set(name, **params)
        try:
            running = serve(sim, host=opts["host"], port=opts["port"], public_host=opts["public_host"], cert_dir=opts["cert_dir"])
        except OSError as e:
            raise CommandError(f"cannot listen on {opts['host']}:{opts['port']}: {e}") from e

        info = running.info()
        if opts["info_file"]:
            path = Path(opts["info_file"])
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(json.dumps(info, indent=2))
            tmp.replace(path)  # readers never see a half-written file
        out = self.stdout
        out.write(self.style.SUCCESS("Graph simulator running (Ctrl-C to stop)"))
        out.write(f"  graph base url:  {info['graph_base_url']}")
        out.write(f"  login base url:  {info['login_base_url']}")
        out.write(f"  tenant id:       {info['tenant_id']}  ({info['tenant_name']})")
        out.write(f"  client id:       {info['client_id']}")
        out.write(f"  client secret:   {info['client_secret']}")
        out.write(f"  CA certificate:  {info['ca_path']}")
        out.write(f"  mailboxes:       {', '.join(info['technician_mailboxes'])}")
        out.write(f"  customer domains: {', '.join(info['customer_domains'])}")
        out.write("  point the app at it with:")
        out.write(f"    VECTIS_GRAPH_BASE_URL={info['graph_base_url']}")
        out.write(f"    VECTIS_LOGIN_BASE_URL={info['login_base_url']}")
        out.write(f"    VECTIS_GRAPH_CA_BUNDLE={info['ca_path']}")
        if opts["info_file"]:
            out.write(f"  details written to {opts['info_file']}")
        out.flush()

        def stop_on_sigterm(signum, frame):
            raise KeyboardInterrupt  # same clean shutdown as Ctrl-C (certificate dir removed)

        signal.signal(signal.SIGTERM, stop_on_sigterm)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            running.stop()
            if opts["info_file"]:
                Path(opts["info_file"]).unlink(missing_ok=True)
