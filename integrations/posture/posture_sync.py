"""Security posture collection: users, MFA registration and privileged roles,
tenant-wide, matched to customers by UPN domain, stored as directory users
and one snapshot per customer per day.

Everything is read from Graph first and written in one transaction at the
end, so a run that fails half-way changes nothing but its PostureRun row.

Requests, in order:
1. GET /directoryRoles, then /directoryRoles/{id}/members for the privileged
   ones only (security.privileged). Groups and service principals in a role
   are counted, never treated as users.
2. GET /users ($select id, userPrincipalName, displayName, accountEnabled, userType).
3. GET /reports/authenticationMethods/userRegistrationDetails. On 403
   (no Entra ID P1/P2 licence, or the permission is missing) the precise
   reason is recorded and MFA comes from each user's
   GET /users/{id}/authentication/methods via $batch, 20 per batch. Only
   matched, in-scope users are asked for (Microsoft discourages iterating a
   whole tenant); a matched user the report does not list yet is asked for
   the same way.
4. With Policy.Read.All (optional): the enforcement inputs, read first so the
   roles that Conditional Access names are read with the privileged ones
   (enforcement_sync.py), then evaluated per matched user.
Only method type names are kept: parse.py reduces every method object to its
@odata.type before it reaches this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from customers.domains import DomainIndex
from customers.models import CustomerDomain
from security.models import PostureRun
from security.posture import IN_SCOPE, MSP_SOURCE_LABEL, ObservedUser, mfa_decision, scope_reason
from security.privileged import privileged_role, privileged_role_rule
from security.services import posture_collection_store
from security.strength import METHOD_STRENGTH

from ..graph import errors, parse
from ..graph.licence import licence_check
from ..setup.claims import INTERRUPTED_ERROR, ClaimLost, ClaimRow, task_claim_row
from ..setup.connection import graph_client_for
from ..setup.models import M365Connection
from .enforcement_sync import EnforcementRead, enforcement_evaluate, enforcement_provenance, enforcement_read
from .roles_sync import add_role, collect_eligible, group_users

logger = logging.getLogger(__name__)

BATCH_USERS = 20  # one $batch request: Graph's limit
# Every account has a password "method"; it says nothing about MFA and the
# registration report does not list it, so the fallback drops it too.
DROPPED_METHOD_TYPES = frozenset({"password"})
ENDPOINTS = (
    "GET /directoryRoles",
    "GET /directoryRoles/{id}/members",
    "GET /users?$select=id,userPrincipalName,displayName,accountEnabled,userType",
    "GET /reports/authenticationMethods/userRegistrationDetails",
    "POST /$batch -> GET /users/{id}/authentication/methods (fallback)",
    "GET /groups/{id} and /groups/{id}/transitiveMembers (groups holding privileged roles)",
    "GET /roleManagement/directory/roleEligibilityScheduleInstances (PIM eligible, optional)",
    "GET /subscribedSkus (only after a licence 403 from the report, to confirm it)",
)
MFA_RULE = "MFA registered = at least one method type whose strength is phishing-resistant, standard or weak."


@dataclass
class _Collected:
    users: list = field(default_factory=list)  # parse.UserRecord, matched only
    customer_of: dict = field(default_factory=dict)  # user id -> customer id
    seen: int = 0
    roles_by_user: dict = field(default_factory=dict)  # user id -> [{"template_id", "name"}]
    non_user_members: dict = field(default_factory=dict)  # kind -> set of ids
    methods: dict = field(default_factory=dict)  # user id -> ([types], source)
    mfa_source: str = "report"
    report_unavailable_reason: str = ""
    fallback_users: int = 0
    partial_error: errors.GraphError | None = None
    heartbeat: Callable[[], None] = lambda: None  # called after every page or batch read
    enforcement: EnforcementRead = field(default_factory=EnforcementRead)
    role_members: dict = field(default_factory=dict)  # role template id -> user ids (roles read this run)
    role_names: dict = field(default_factory=dict)  # role template id -> display name
    enforcement_by_user: dict = field(default_factory=dict)  # user id -> security.enforcement record
    role_groups: dict = field(default_factory=dict)  # group id -> {"name", "users"} expanded for privileged roles
    # (kind, id) -> {"kind", "id", "name", "roles": [role names]}: privileged role holders that are not users
    non_user_holders: dict = field(default_factory=dict)
    eligible_note: str = ""  # why PIM-eligible assignments were (not) read
    eligible_read: bool = False
    licence: dict = field(default_factory=dict)  # licence_check() after a licence 403, else {}

    @property
    def enforcement_provenance(self):
        return enforcement_provenance(self.enforcement)


def posture_sync(*, client, run: PostureRun | None = None, claim=None) -> PostureRun:
    """Collect posture through a connected GraphClient and store it.

    Returns the PostureRun (created when not given), finished as success or
    failed; a Graph failure is recorded on the run (with Graph's request id)
    rather than raised. Unexpected errors are recorded and re-raised.
    claim: the posture claim (posture_collect), refreshed after every page
    and checked once more just before anything is written; a run whose claim
    was taken over writes nothing and ends as interrupted."""
    run = run or PostureRun.objects.create()
    started = timezone.now()
    try:
        collected = _collect(client, heartbeat=claim.refresh if claim else (lambda: None))
        finished = timezone.now()
        observed = _observed_users(collected)
        if claim is not None:
            claim.refresh(force=True)  # still ours: then nobody else writes today's snapshot meanwhile
        tenant_name = M365Connection.objects.order_by("pk").values_list("tenant_name", flat=True).first() or ""
        provenance = collection_provenance(client, collected, started=started, finished=finished,
                                           tenant_name=tenant_name, source=MSP_SOURCE, run_id=run.pk)
        posture_collection_store(users=observed, as_of=finished, provenance=provenance)
        run.outcome = PostureRun.Outcome.SUCCESS
        run.mfa_source = collected.mfa_source
        run.report_unavailable_reason = collected.report_unavailable_reason
        run.users_seen = collected.seen
        run.users_matched = len(collected.users)
        run.users_unmatched = collected.seen - len(collected.users)
        run.fallback_users = collected.fallback_users
        if collected.partial_error is not None:
            unknown = sum(1 for u in observed if u.mfa_registered is None and scope_reason(u) == IN_SCOPE)
            run.error = f"Partial: MFA state of {unknown} in-scope users is unknown. {collected.partial_error}"
            run.request_id = collected.partial_error.request_id or ""
    except ClaimLost:
        run.outcome = PostureRun.Outcome.INTERRUPTED
        run.error = ("Interrupted: not heard from for the claim's stale time, so another collection took over; "
                     "this one wrote nothing.")
    except errors.GraphError as error:
        logger.warning("posture sync failed: %r", error)
        run.outcome = PostureRun.Outcome.FAILED
        run.error = str(error)
        run.request_id = error.request_id or ""
    except Exception as error:
        run.outcome = PostureRun.Outcome.FAILED
        run.error = f"Internal error ({type(error).__name__}); see the server log."
        _finish(run, client)
        raise
    _finish(run, client)
    return run


def _finish(run, client):
    counters = client.counters
    run.graph_requests = counters.total_requests
    run.retries = counters.retries
    run.throttled_seconds = round(counters.throttled_wait_seconds, 3)
    run.finished_at = timezone.now()
    run.save()


# ------------------------------------------------------------------ collection (Graph only)


def _collect(client, heartbeat, customer_for=None) -> _Collected:
    """customer_for(user) -> customer id or None; by default UPN domains in the
    MSP tenant, for every customer not linked to a tenant of its own."""
    collected = _Collected(heartbeat=heartbeat, enforcement=enforcement_read(client))
    heartbeat()
    _collect_roles(client, collected)
    _collect_users(client, collected, customer_for or _domain_matcher())
    collect_eligible(client, collected)
    _collect_report(client, collected)
    _collect_fallback(client, collected)
    collected.enforcement_by_user = enforcement_evaluate(
        client, collected.enforcement, collected.users, role_members=collected.role_members,
        role_names=collected.role_names, in_scope=_in_scope_record,
    )
    return collected


def _collect_roles(client, collected):
    wanted_by_policies = collected.enforcement.referenced_roles()
    for role in parse.directory_roles_page(client.directory_roles()):
        rule = privileged_role(role.role_template_id)
        template = (role.role_template_id or "").lower()
        if rule is None and template not in wanted_by_policies:
            continue
        collected.role_names[template] = role.display_name or template
        holders = collected.role_members.setdefault(template, set())
        for page in client.role_members(role.id):
            collected.heartbeat()
            for member in parse.role_members_page(page):
                if not member.id:
                    continue
                if member.is_user:
                    holders.add(member.id)
                if rule is None:
                    continue  # read only because a Conditional Access policy names the role
                if not member.is_user:
                    collected.non_user_members.setdefault(member.kind, set()).add(member.id)
                    holder = collected.non_user_holders.setdefault((member.kind, member.id), {
                        "kind": member.kind, "id": member.id, "name": member.display_name or "", "roles": []})
                    if rule.name not in holder["roles"]:
                        holder["roles"].append(rule.name)
                    if member.kind == "group":
                        name, users = group_users(client, collected, member.id)
                        for user_id in users:
                            add_role(collected, user_id, {"template_id": rule.template_id, "name": rule.name, "via": name})
                    continue
                add_role(collected, member.id, {"template_id": rule.template_id, "name": rule.name})


def _domain_matcher():
    # A linked customer's users are read in its own tenant: in the MSP's they are not matched.
    domains = CustomerDomain.objects.exclude(customer__tenant_link__tenant_id__gt="")
    index = DomainIndex(domains.values_list("domain", "customer_id"))
    return lambda user: index.customer_for_address(user.user_principal_name or "")


def _collect_users(client, collected, customer_for):
    for page in client.users():
        collected.heartbeat()
        for user in parse.users_page(page):
            collected.seen += 1
            customer_id = customer_for(user)
            if customer_id is None:
                continue  # unmatched users are only counted
            collected.users.append(user)
            collected.customer_of[user.id] = customer_id


def report_unavailable_reason(error: errors.PermissionDeniedError) -> str:
    """The registration report's 403 in an admin's terms, with Graph's ids
    (str(error) already says licence vs permission and carries the request-id)."""
    text = str(error).rstrip(".") + "."
    if not isinstance(error, errors.LicenceRequiredError) and error.missing_permission == "AuditLog.Read.All":
        text += (" Microsoft documents AuditLog.Read.All for this report; Reports.Read.All, which the setup "
                 "guide names, may not be enough on its own.")
    return text + " MFA data came from each user's authentication methods instead."


def _collect_report(client, collected):
    wanted = set(collected.customer_of)
    found = {}
    try:
        for page in client.registration_details():
            collected.heartbeat()
            for record in parse.registration_page(page):
                if record.id in wanted:
                    found[record.id] = (record.methods_registered, "report")
    except errors.PermissionDeniedError as error:
        logger.info("registration report unavailable: %r", error)
        collected.mfa_source = "methods"
        collected.report_unavailable_reason = report_unavailable_reason(error)
        if isinstance(error, errors.LicenceRequiredError):
            collected.licence = licence_check(client)
            collected.report_unavailable_reason += " " + collected.licence["note"]
        return
    collected.methods.update(found)


def _collect_fallback(client, collected):
    wanted = [
        u.id for u in collected.users
        if u.id not in collected.methods and _in_scope_record(u)
    ]
    collected.fallback_users = len(wanted)
    for start in range(0, len(wanted), BATCH_USERS):
        chunk = wanted[start : start + BATCH_USERS]
        collected.heartbeat()
        try:
            answers = client.auth_methods_batch(chunk)
        except errors.GraphError as error:
            # Keep what was read; the rest stays unknown. Sending more batches
            # into a throttled or refusing tenant would only make it worse.
            collected.partial_error = error
            return
        for user_id in chunk:
            answer = answers.get(user_id)
            if isinstance(answer, list):
                types = [t for t in parse.auth_method_types(answer) if t not in DROPPED_METHOD_TYPES]
                collected.methods[user_id] = (types, "methods")
            elif isinstance(answer, errors.GraphError) and collected.partial_error is None:
                collected.partial_error = answer


def _in_scope_record(user):
    return (user.user_type or "member").lower() != "guest" and user.account_enabled is not False


# ------------------------------------------------------------------ records for security


def _observed_users(collected) -> list[ObservedUser]:
    observed = []
    for user in collected.users:
        types, source = collected.methods.get(user.id, (None, ""))
        roles = sorted(collected.roles_by_user.get(user.id, []),
                       key=lambda r: (r["name"], r.get("via", ""), r.get("assignment", "")))
        observed.append(ObservedUser(
            graph_id=user.id,
            upn=user.user_principal_name or "",
            display_name=user.display_name or "",
            user_type="guest" if (user.user_type or "").lower() == "guest" else "member",
            account_enabled=user.account_enabled is not False,
            mfa_registered=None if types is None else mfa_decision(types),
            method_types=tuple(types or ()),
            mfa_source=source,
            privileged_roles=tuple(roles),
            customer_id=collected.customer_of[user.id],
            enforcement=collected.enforcement_by_user.get(user.id),
        ))
    return observed


def _granted(client):
    try:
        return sorted(client.granted_permissions())
    except errors.GraphError:
        return []


MSP_SOURCE = {"kind": "msp_tenant", "label": MSP_SOURCE_LABEL}


def customer_tenant_source(tenant_name):
    return {"kind": "customer_tenant", "label": f"The customer's own Microsoft 365 tenant ({tenant_name})"}


def collection_provenance(client, collected, *, started, finished, tenant_name, source, run_id=None):
    """What every snapshot of one collection records about where its data came from."""
    return {
        "source": source,
        "tenant_id": client.tenant_id,
        "tenant_name": tenant_name,
        # Whose tenant: the MSP's own (the one connection); packs say so, so nobody takes it for the customer's.
        "tenant_owner": "msp",
        "app_id": client.client_id,
        "graph_base_url": client.graph_base_url,
        "api_version": client.graph_base_url.rstrip("/").rsplit("/", 1)[-1],
        "endpoints": list(ENDPOINTS) + collected.enforcement_provenance["endpoints"],
        "permissions_granted": _granted(client),
        "mfa_source": collected.mfa_source,
        "report_unavailable_reason": collected.report_unavailable_reason,
        "collection_started": started.isoformat(),
        "collection_finished": finished.isoformat(),
        "privileged_role_rule": privileged_role_rule(),
        "app_version": settings.VECTIS_VERSION,
        "posture_run_id": run_id,
        "mfa_rule": MFA_RULE,
        "method_strengths": dict(METHOD_STRENGTH),
        "role_members_not_users": {kind: len(ids) for kind, ids in sorted(collected.non_user_members.items())},
        # Listed apart, never counted as users: service principals, groups (whose members are expanded) and others.
        "role_holders_not_users": [dict(h, roles=sorted(h["roles"])) for _, h in sorted(collected.non_user_holders.items())],
        "fallback_users": collected.fallback_users,
        "role_groups_expanded": {gid: {"name": g["name"], "users": len(g["users"])}
                                 for gid, g in sorted(collected.role_groups.items())},
        "eligible_roles": {"read": collected.eligible_read, "note": collected.eligible_note},
        "licence_check": collected.licence,
        "enforcement_mode": collected.enforcement.mode,
        "enforcement": collected.enforcement_provenance,
    }


POSTURE_CLAIM = "posture"


def posture_claim_row(*, to_take=False) -> ClaimRow:
    """The tenant's posture claim: two collections would race to write the same day's snapshots."""
    return task_claim_row(POSTURE_CLAIM, to_take=to_take)


def posture_collect(*, connection) -> PostureRun:
    """The posture task's job: take the claim, collect through a client for
    `connection`, release. Returns the run: SKIPPED (no Graph request) when
    another collection holds the claim. Runs still marked running when the
    claim is won belong to dead workers and are closed as interrupted."""
    row = posture_claim_row(to_take=True)
    claim = row.take()
    if claim is None:
        return _record_skipped(row)
    try:
        PostureRun.objects.filter(outcome=PostureRun.Outcome.RUNNING).update(
            outcome=PostureRun.Outcome.INTERRUPTED, finished_at=claim.token, error=INTERRUPTED_ERROR)
        run = PostureRun.objects.create(started_at=claim.token)
        try:
            with graph_client_for(connection) as client:
                return posture_sync(client=client, run=run, claim=claim)
        except Exception as error:
            # An error outside the collection (building or closing the client): recorded, never left running.
            PostureRun.objects.filter(pk=run.pk, outcome=PostureRun.Outcome.RUNNING).update(
                outcome=PostureRun.Outcome.FAILED, finished_at=timezone.now(),
                error=f"Internal error ({type(error).__name__}); see the worker log.")
            raise
    finally:
        claim.release()


def _record_skipped(row) -> PostureRun:
    now = timezone.now()
    running = posture_in_progress()
    since = f" since {running['since']:%Y-%m-%d %H:%M:%S} UTC" if running else ""
    return PostureRun.objects.create(
        started_at=now, finished_at=now, outcome=PostureRun.Outcome.SKIPPED,
        error=f"Skipped: another posture collection has been running{since} ({row.busy_text()}).")


def posture_run_orphaned() -> bool:
    """A run still marked running whose claim is stale: its worker died and no
    redelivery has taken it over yet (a dead host's message returns only after
    Redis's visibility timeout; a Redis restart loses it)."""
    return PostureRun.objects.filter(outcome=PostureRun.Outcome.RUNNING).exists() and not posture_claim_row().held()


def posture_in_progress() -> dict | None:
    """The collection holding the claim, for the Integrations page: since when,
    when it was last heard from and when it is taken over if its worker has
    stopped. None when no collection holds it."""
    row = posture_claim_row()
    if not row.held():
        return None
    running = PostureRun.objects.filter(outcome=PostureRun.Outcome.RUNNING).order_by("-started_at", "-id").first()
    heartbeat = row.heartbeat()
    return {"run": running, "since": running.started_at if running else heartbeat, "heartbeat": heartbeat,
            "takeover_at": row.stale_at(), "takeover_in": row.stale_in()}
