"""A stand-in for Entra ID + Microsoft Graph, served over HTTPS on localhost.

Pure Python (plus `trustme` for the certificate): no Django import, so a
test fixture, the demo launcher or a benchmark can run it directly.

    from graphsim import TenantSpec, build_tenant, GraphSimulator, serve
"""

from .customer_tenants import POSTURE_PERMISSIONS, CustomerTenant, customer_tenant_spec
from .faults import FAULTS, Faults
from .graph import DELTA_FILTER_CAP
from .server import (
    ALL_SIX,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    WITH_POLICY_READ,
    GraphSimulator,
    RunningSimulator,
    SimulatedConnectionReset,
    serve,
)
from .tenant import SENTINEL_PREFIX, SHOWCASE_HOSTILE_DOMAIN, ItemRecord, Tenant, TenantSpec, UserRecord, address_at, build_tenant

__all__ = [
    "CustomerTenant",
    "POSTURE_PERMISSIONS",
    "customer_tenant_spec",
    "ALL_SIX",
    "DELTA_FILTER_CAP",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "FAULTS",
    "Faults",
    "GraphSimulator",
    "ItemRecord",
    "RunningSimulator",
    "SENTINEL_PREFIX",
    "SHOWCASE_HOSTILE_DOMAIN",
    "SimulatedConnectionReset",
    "Tenant",
    "TenantSpec",
    "UserRecord",
    "address_at",
    "build_tenant",
    "serve",
    "WITH_POLICY_READ",
]
