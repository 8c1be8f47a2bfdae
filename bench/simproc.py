"""The Graph simulator as its own process, sized for a benchmark.

Like `manage.py m365_simulator`, plus the knobs a benchmark needs (history
length, one big customer, page sizes). Writes its connection details to
--info-file once it serves, and stops on SIGTERM. Never imports Django.
"""

import argparse
import json
import signal
import time
import uuid
from pathlib import Path

from graphsim import (
    DELTA_FILTER_CAP,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    WITH_POLICY_READ,
    GraphSimulator,
    TenantSpec,
    build_tenant,
    customer_tenant_spec,
    serve,
)


def bench_customer_tenants(count):
    """(tenant id, domain) of the benchmark's customer tenants: the same on both sides of the process boundary."""
    return [(str(uuid.UUID(int=(0xB0 << 120) + i, version=4)), f"tenant{i:04d}.example") for i in range(count)]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--info-file", required=True)
    parser.add_argument("--mailboxes", type=int, default=4)
    parser.add_argument("--messages-per-mailbox", type=int, default=60)
    parser.add_argument("--events-per-mailbox", type=int, default=24)
    parser.add_argument("--off-customer-share", type=float, default=0.3)
    # Kept inside the sync's 14-day look-back so every generated message is in play.
    parser.add_argument("--mail-history-days", type=int, default=13)
    parser.add_argument("--users-per-customer", type=int, default=8)
    parser.add_argument("--customer-domains", default="", help="comma-separated; default: the simulator's six")
    parser.add_argument("--fault", action="append", default=[], help="NAME (no parameters), repeatable")
    # Graph's cap on a filtered delta round; 0 serves every item (an uncapped
    # baseline that Graph itself never offers).
    parser.add_argument("--delta-filter-cap", type=int, default=DELTA_FILTER_CAP)
    parser.add_argument("--extra-groups", type=int, default=0)
    parser.add_argument("--extra-ca-policies", type=int, default=0)
    parser.add_argument("--policy-read", action="store_true", help="grant the optional Policy.Read.All")
    # Graph returns a tenant's Conditional Access policies in one page in practice; the
    # simulator's default of 5 a page exists to make tests follow nextLinks.
    parser.add_argument("--ca-page-size", type=int, default=100)
    # Customer tenants (benchmark "tenants"): N consented tenants of U users each.
    parser.add_argument("--customer-tenants", type=int, default=0)
    parser.add_argument("--customer-tenant-users", type=int, default=200)
    args = parser.parse_args(argv)

    spec_kwargs = {
        "technicians": args.mailboxes, "messages_per_mailbox": args.messages_per_mailbox,
        "events_per_mailbox": args.events_per_mailbox, "off_customer_share": args.off_customer_share,
        "mail_history_days": args.mail_history_days, "users_per_customer": args.users_per_customer,
        "extra_groups": args.extra_groups, "extra_ca_policies": args.extra_ca_policies,
    }
    if args.customer_domains:
        spec_kwargs.update(customer_domains=tuple(args.customer_domains.split(",")), customer_subdomains=())
    started = time.perf_counter()
    spec = TenantSpec(**spec_kwargs)
    tenant = build_tenant(spec)
    built = time.perf_counter() - started
    extra = {"granted_permissions": WITH_POLICY_READ} if args.policy_read else {}
    sim = GraphSimulator(tenant, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                         ca_page_size=args.ca_page_size, delta_filter_cap=args.delta_filter_cap or None, **extra)
    for name in args.fault:
        sim.faults.set(name)
    for tenant_id, domain in bench_customer_tenants(args.customer_tenants):
        sim.add_customer_tenant(customer_tenant_spec(tenant_id=tenant_id, name=domain.split(".")[0].title(),
                                                     domain=domain, users=args.customer_tenant_users,
                                                     seed=int(tenant_id[:8], 16) % 1000),
                                consented=True)
    built = time.perf_counter() - started
    running = serve(sim)
    info = running.info()
    info.pop("customer_tenants", None)  # the list is bench_customer_tenants(N): no need to ship 500 entries
    info.update(
        anchor=spec.anchor.isoformat(), technician_upns=spec.technician_upns(), customer_domains_all=list(spec.customer_domains),
        tenant_build_seconds=round(built, 2), messages_total=len(tenant.all_messages()), users_total=len(tenant.users),
        groups_total=len(tenant.groups), ca_policies_total=len(tenant.ca_policies),
    )
    path = Path(args.info_file)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(path)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


if __name__ == "__main__":
    main()
