"""Customer tenants: other Microsoft 365 tenants the MSP's (multi-tenant) app
is consented in, each with its own directory, licences and consent state.

    sim.add_customer_tenant(customer_tenant_spec(tenant_id=..., name="Northwind Traders",
                                                 domain="northwind.example", users=40))
    sim.consent_next("11111111-...")       # who signs in at /organizations/adminconsent
    sim.customer_consent_revoke(tid)        # the customer deleted Vectis's enterprise app
    sim.customer_consent_limit(tid, missing=["Reports.Read.All"])

Consent states, as Entra behaves for app-only tokens:
- never consented or revoked (no service principal in the tenant): the token
  request fails with AADSTS700016 (unauthorized_client, HTTP 400);
- consented: the token's `roles` claim lists exactly what was granted, so a
  consent that lacks a permission gives a token without it.

At /organizations/adminconsent a plain page stands in for Entra's sign-in and
consent prompt (pick the tenant, Accept or Cancel); with consent_next set, or
at /{tenant}/adminconsent, the admin consents at once. Either way they are
sent back to redirect_uri with
`admin_consent=True&tenant=<id>&state=<state>`, or with
`error=access_denied&error_description=AADSTS65004: ...&state=<state>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urlencode, urlsplit

from .tenant import Tenant, TenantSpec, build_tenant
from .wire import SimRequest, SimResponse

# What a customer's consent grants by default: the posture permissions (never mail).
POSTURE_PERMISSIONS = (
    "User.Read.All",
    "Reports.Read.All",
    "UserAuthenticationMethod.Read.All",
    "Directory.Read.All",
    "Policy.Read.All",
)
ADMIN_CONSENT = re.compile(r"^/(?P<tenant>[^/]+)(?:/v2\.0)?/adminconsent$", re.IGNORECASE)
DECLINED = "AADSTS65004: User declined to consent to access the app."


def customer_tenant_spec(*, tenant_id: str, name: str, domain: str, users: int = 20, seed: int = 11,
                         entra_premium: bool = True, extra_domains: tuple[str, ...] = (), **overrides) -> TenantSpec:
    """A customer's own tenant: `users` member users at `domain` (some disabled,
    plus guests), no technicians and no mail."""
    stem = re.sub(r"[^a-z0-9]", "", domain.split(".")[0].lower()) or "customer"
    return TenantSpec(
        seed=seed, tenant_id=tenant_id, tenant_name=name, msp_domain=domain,
        initial_domain=f"{stem}.onmicrosoft.com", customer_domains=(domain,), customer_subdomains=extra_domains,
        technicians=0, msp_staff=0, no_mailbox_upns=(), messages_per_mailbox=0, events_per_mailbox=0,
        users_per_customer=users, entra_premium=entra_premium, **overrides,
    )


@dataclass
class CustomerTenant:
    tenant: Tenant
    # None: no service principal (never consented, or the consent was revoked).
    granted: tuple[str, ...] | None = None
    # Permissions this tenant's admin leaves out when consenting.
    withheld: tuple[str, ...] = ()
    consents: list = field(default_factory=list)  # every admin-consent answer given, for tests

    @property
    def tenant_id(self) -> str:
        return self.tenant.spec.tenant_id


class CustomerTenants:
    """The customer tenants of one simulator (thread-safe through the simulator's lock)."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.by_id: dict[str, CustomerTenant] = {}
        self.next_consent: dict | None = None  # {"tenant": id, "decline": bool}
        self.redirect_uris: set[str] = set()  # the app registration's redirect URIs (empty: any)

    def add(self, spec: TenantSpec, *, consented: bool = False, withheld=()) -> CustomerTenant:
        entry = CustomerTenant(build_tenant(spec), withheld=tuple(withheld))
        if consented:
            entry.granted = self._consent_grant(entry)
        with self.sim.lock:
            self.by_id[spec.tenant_id.lower()] = entry
        return entry

    def get(self, tenant_id: str | None) -> CustomerTenant | None:
        return self.by_id.get((tenant_id or "").lower())

    def find(self, segment: str) -> CustomerTenant | None:
        """By tenant id or any verified domain, as Entra resolves a tenant."""
        entry = self.get(segment)
        if entry is not None:
            return entry
        wanted = segment.lower()
        for entry in self.by_id.values():
            if wanted in {d["name"].lower() for d in entry.tenant.organization["verifiedDomains"]}:
                return entry
        return None

    def _consent_grant(self, entry: CustomerTenant) -> tuple[str, ...]:
        requested = [p for p in self.sim.granted_permissions if p not in {"Mail.Read", "Calendars.Read"}]
        return tuple(p for p in dict.fromkeys([*requested, *POSTURE_PERMISSIONS]) if p not in entry.withheld)

    def revoke(self, tenant_id: str) -> None:
        self.by_id[tenant_id.lower()].granted = None

    def limit(self, tenant_id: str, *, missing) -> None:
        entry = self.by_id[tenant_id.lower()]
        entry.withheld = tuple(missing)
        if entry.granted is not None:
            entry.granted = tuple(p for p in entry.granted if p not in entry.withheld)

    # ------------------------------------------------------------------ admin consent

    def handles(self, path: str) -> bool:
        return bool(ADMIN_CONSENT.match(path))

    def admin_consent(self, req: SimRequest) -> SimResponse:
        """GET /{tenant|organizations}/adminconsent?client_id&redirect_uri&state."""
        segment = ADMIN_CONSENT.match(req.path)["tenant"]
        redirect_uri, state = req.q("redirect_uri") or "", req.q("state")
        if (req.q("client_id") or "").lower() != self.sim.client_id.lower():
            return _page(400, f"AADSTS700016: Application with identifier '{req.q('client_id')}' was not found.")
        scheme = urlsplit(redirect_uri).scheme
        if scheme not in ("https", "http") or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            return _page(400, "AADSTS50011: The redirect URI specified in the request does not match the redirect "
                              "URIs configured for the application.")
        chosen = self.next_consent or {}
        if req.q("sim_tenant"):  # the answer to the sign-in page below
            chosen = {"tenant": req.q("sim_tenant"), "decline": req.q("sim_decision") == "decline"}
        elif segment.lower() in ("organizations", "common") and not chosen:
            return self._sign_in_page(req)
        if segment.lower() in ("organizations", "common"):
            entry = self.get(chosen.get("tenant"))
        else:
            entry = self.find(segment)
        if entry is None:
            return _page(400, f"AADSTS90002: Tenant '{segment}' not found.")
        if chosen.get("decline"):
            answer = {"error": "access_denied", "error_description": DECLINED}
        else:
            entry.granted = self._consent_grant(entry)
            answer = {"admin_consent": "True", "tenant": entry.tenant_id}
        if state is not None:
            answer["state"] = state
        entry.consents.append(answer)
        separator = "&" if "?" in redirect_uri else "?"
        return SimResponse(302, b"", {"Location": f"{redirect_uri}{separator}{urlencode(answer)}"})


    def _sign_in_page(self, req: SimRequest) -> SimResponse:
        """Stands in for Entra's sign-in and consent prompt: pick whose admin you are, accept or cancel."""
        hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                         for k, v in req.query.items() if not k.startswith("sim_"))
        rows = "".join(
            f'<form method="get" class="tenant"><h2>{escape(c.tenant.spec.tenant_name)}</h2>'
            f'<p>Signed in as admin@{escape(c.tenant.spec.msp_domain)}. Vectis asks to read: '
            f'{escape(", ".join(self._consent_grant(c)))}.</p>{hidden}'
            f'<input type="hidden" name="sim_tenant" value="{escape(c.tenant_id)}">'
            '<button name="sim_decision" value="accept">Accept</button> '
            '<button name="sim_decision" value="decline">Cancel</button></form>'
            for c in self.by_id.values())
        html = ("<!doctype html><html><head><meta charset='utf-8'><title>Permissions requested</title></head><body>"
                "<h1>Permissions requested (simulated Microsoft Entra)</h1>"
                f"{rows or '<p>No customer tenant in this simulator.</p>'}</body></html>")
        return SimResponse(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _page(status: int, text: str) -> SimResponse:
    # Entra shows these on its own sign-in page: nothing is sent to the app.
    return SimResponse(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
