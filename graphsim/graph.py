"""The Graph v1.0 endpoints the connector calls, answered from a Tenant.

Response shapes follow the ones Microsoft documents (tests/fixtures/graph):
`@odata.context` on every body, `@odata.nextLink` / `@odata.deltaLink`,
`@odata.type` + `@odata.etag` on delta items, `{"id", "@removed"}` for
deletions, and Graph's error body.

Where Graph's own behaviour is the trap the client must avoid, the simulator
reproduces it rather than protecting the client:
- message delta / calendarView / single GETs without `$select` return the body,
  as Graph does; with `$select` the body comes back only when selected;
- `calendarView/delta` does not support `$select` (Microsoft's docs say so), so
  it returns full events, bodies included;
- "Applying $filter in a delta query returns only up to 5,000 messages"
  (message delta docs): a filtered initial round stops after DELTA_FILTER_CAP
  items and still hands out a delta link, as if the round were complete;
- the Exchange endpoints answer a missing Mail.Read / Calendars.Read with
  403 ErrorAccessDenied like Exchange does, the directory endpoints with
  403 Authorization_RequestDenied.

Delta state lives in the tokens (base64url JSON, opaque to clients): a round
fixes a watermark on the tenant's change sequence at its first request; the
next round returns the collection's change log after that watermark.
"""

from __future__ import annotations

import bisect
import re
import threading
import zoneinfo
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable
from urllib.parse import quote, urlencode

from .mailboxes import graph_datetime, html_to_text
from .tenant import Collection, ItemRecord, UserRecord, event_overlaps, iso_z, parse_iso
from .wire import GraphError, SimRequest, SimResponse, b64url_json, from_b64url_json

if TYPE_CHECKING:
    from .server import GraphSimulator

REPORT = "report"  # marker: the report's permission is configurable (any-of)

ROUTES: list[tuple[str, re.Pattern, str, str | tuple | None]] = [
    (m, re.compile(p, re.IGNORECASE), h, perm)
    for m, p, h, perm in [
        ("GET", r"/organization", "organization", "Directory.Read.All"),
        ("GET", r"/domains", "domains", ("Domain.Read.All", "Directory.Read.All")),
        ("GET", r"/users", "users_list", "User.Read.All"),
        ("GET", r"/users/(?P<user>[^/]+)", "user_get", "User.Read.All"),
        ("GET", r"/users/(?P<user>[^/]+)/mailFolders/(?P<folder>[^/]+)", "mail_folder_get", "Mail.Read"),
        ("GET", r"/users/(?P<user>[^/]+)/mailFolders/(?P<folder>[^/]+)/messages/delta", "messages_delta", "Mail.Read"),
        ("GET", r"/users/(?P<user>[^/]+)/mailFolders/(?P<folder>[^/]+)/messages", "messages_list", "Mail.Read"),
        ("GET", r"/users/(?P<user>[^/]+)/messages/(?P<item>[^/]+)", "message_get", "Mail.Read"),
        ("GET", r"/users/(?P<user>[^/]+)/events/(?P<item>[^/]+)", "event_get", "Calendars.Read"),
        ("GET", r"/users/(?P<user>[^/]+)/calendarView", "calendar_view", "Calendars.Read"),
        ("GET", r"/users/(?P<user>[^/]+)/calendarView/delta", "calendar_delta", "Calendars.Read"),
        ("GET", r"/users/(?P<user>[^/]+)/authentication/methods", "auth_methods", "UserAuthenticationMethod.Read.All"),
        ("GET", r"/reports/authenticationMethods/userRegistrationDetails", "registration_details", REPORT),
        ("GET", r"/directoryRoles", "roles_list", "Directory.Read.All"),
        ("GET", r"/directoryRoles/(?P<role>[^/]+)/members", "role_members", "Directory.Read.All"),
        ("GET", r"/me(/.*)?", "me", None),
        # MFA enforcement evidence (enforcement.py)
        ("GET", r"/identity/conditionalAccess/policies", "ca_policies", "Policy.Read.All"),
        ("GET", r"/policies/authenticationStrengthPolicies", "auth_strengths", "Policy.Read.All"),
        ("GET", r"/policies/identitySecurityDefaultsEnforcementPolicy", "security_defaults", "Policy.Read.All"),
        ("GET", r"/groups", "groups_list", "Directory.Read.All"),
        ("GET", r"/groups/(?P<group>[^/]+)", "group_get", "Directory.Read.All"),
        ("GET", r"/subscribedSkus", "subscribed_skus", ("Organization.Read.All", "Directory.Read.All")),
        ("GET", r"/roleManagement/directory/roleEligibilityScheduleInstances", "role_eligibilities",
         ("RoleEligibilitySchedule.Read.Directory", "RoleManagement.Read.Directory", "RoleManagement.Read.All")),
        ("GET", r"/groups/(?P<group>[^/]+)/transitiveMembers", "group_transitive_members", "Directory.Read.All"),
    ]
]
# Published in beta only: v1.0 answers them "Resource not found for the segment".
BETA_ROUTES: list[tuple[str, re.Pattern, str, str | tuple | None]] = [
    (m, re.compile(p, re.IGNORECASE), h, perm)
    for m, p, h, perm in [
        ("GET", r"/users/(?P<user>[^/]+)/authentication/requirements", "per_user_requirements", "Policy.Read.All"),
    ]
]
EXCHANGE_PERMISSIONS = {"Mail.Read", "Calendars.Read"}

DEFAULT_USER_PROPS = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
)
# Valid user properties the fake directory leaves empty: selecting them gives null.
EXTRA_USER_PROPS = (
    "postalCode", "city", "country", "state", "streetAddress", "employeeId", "faxNumber",
    "imAddresses", "proxyAddresses", "onPremisesImmutableId", "ageGroup", "identities",
)
MESSAGE_PROPS = (
    "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "receivedDateTime", "sentDateTime",
    "hasAttachments", "internetMessageId", "subject", "bodyPreview", "importance", "parentFolderId", "conversationId",
    "conversationIndex", "isDeliveryReceiptRequested", "isReadReceiptRequested", "isRead", "isDraft", "webLink",
    "inferenceClassification", "sender", "from", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "flag",
    "body", "uniqueBody",
)
EVENT_PROPS = (
    "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "transactionId",
    "originalStartTimeZone", "originalEndTimeZone", "iCalUId", "reminderMinutesBeforeStart", "isReminderOn",
    "hasAttachments", "subject", "bodyPreview", "importance", "sensitivity", "isAllDay", "isCancelled", "isOrganizer",
    "responseRequested", "seriesMasterId", "showAs", "type", "webLink", "onlineMeetingUrl", "isOnlineMeeting",
    "onlineMeetingProvider", "allowNewTimeProposals", "isDraft", "hideAttendees", "responseStatus", "start", "end",
    "location", "locations", "recurrence", "attendees", "organizer", "onlineMeeting", "body",
)
# Windows time zone names a Prefer: outlook.timezone may carry -> IANA.
WINDOWS_ZONES = {
    "utc": "UTC",
    "pacific standard time": "America/Los_Angeles",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "gmt standard time": "Europe/London",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "aus eastern standard time": "Australia/Sydney",
}
# Message delta with $filter returns at most this many messages (Microsoft's docs).
DELTA_FILTER_CAP = 5000
# List messages: "Use $top to customize the page size, within the range of 1 and 1000."
LIST_TOP_MAX = 1000
_RECEIVED_CLAUSE = re.compile(r"^\s*receivedDateTime\s+(ge|gt|le|lt)\s+'?([0-9T:.\-+Z]+)'?\s*$", re.IGNORECASE)
_FILTER_RECEIVED = re.compile(r"^\s*receivedDateTime\s+ge\s+'?([0-9T:.\-+Z]+)'?\s*$", re.IGNORECASE)
_FILTER_ID_IN = re.compile(r"^\s*id\s+in\s+\(((?:\s*'[^']*'\s*,?)+)\)\s*$", re.IGNORECASE)
_FILTER_EQ = re.compile(r"^\s*(\w+)\s+eq\s+(true|false|null|'(?:[^']|'')*'|-?\d+)\s*$", re.IGNORECASE)


def _received_key(rec: ItemRecord) -> str:
    value = rec.graph.get("receivedDateTime")
    if isinstance(value, str) and len(value) == 20 and value.endswith("Z"):
        return value
    return iso_z(parse_iso(value))  # set by a test through update_message in another shape


def normalise_path(path: str) -> str:
    """`/mailFolders('inbox')` -> `/mailFolders/inbox`,
    `/directoryRoles(roleTemplateId='x')` -> `/directoryRoles/roleTemplateId=x`."""
    return re.sub(r"\((?:(\w+)=)?'([^']*)'\)", lambda m: "/" + (f"{m[1]}=" if m[1] else "") + m[2], path)


class GraphApi:
    def __init__(self, sim: "GraphSimulator") -> None:
        self.sim = sim
        self._by_received: dict = {}  # (user id, folder) -> (tenant state, times, records)
        self._serving = threading.local()  # the tenant this thread's request is for

    @property
    def tenant(self):
        return getattr(self._serving, "tenant", None) or self.sim.tenant

    @contextmanager
    def serving(self, tenant):
        """Answer this thread's request from `tenant` (the token's tid)."""
        before = getattr(self._serving, "tenant", None)
        self._serving.tenant = tenant
        try:
            yield
        finally:
            self._serving.tenant = before

    # ------------------------------------------------------------------ dispatch

    def route(self, req: SimRequest):
        """(handler name, match, permission) for a /v1.0 or /beta path, or GraphError."""
        version, _, rest = req.path.lstrip("/").partition("/")
        if version == "beta" and self.sim.faults.get("beta_unavailable") is not None:
            raise GraphError(404, "UnknownError", "")
        path = normalise_path("/" + rest.rstrip("/"))
        for method, pattern, handler, perm in BETA_ROUTES if version == "beta" else ROUTES:
            m = pattern.fullmatch(path)
            if m:
                if req.method != method:
                    raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
                return handler, m, perm
        segment = path.strip("/").split("/")[-1] or path
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    def check_permission(self, perm: str | None, claims: dict) -> None:
        if perm is None:
            return
        granted = set(claims.get("roles", [])) & set(self.sim.granted_now(claims.get("tid")) or [])
        needed = set(self.sim.report_permissions) if perm == REPORT else set(perm) if isinstance(perm, tuple) else {perm}
        if granted & needed:
            return
        if perm in EXCHANGE_PERMISSIONS:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

    def call(self, handler: str, req: SimRequest, match: re.Match) -> SimResponse:
        return getattr(self, "h_" + handler)(req, **{k: v for k, v in match.groupdict().items() if v is not None})

    # ------------------------------------------------------------------ helpers

    def ctx(self, req: SimRequest, fragment: str) -> str:
        return f"{req.base_url}/v1.0/$metadata#{fragment}"

    def link(self, req: SimRequest, **query) -> str:
        path = quote(normalise_path(req.path), safe="/@:=$'()!*,;+-._~")
        return f"{req.base_url}{path}?{urlencode(query, safe='$:')}"

    def ok(self, body, prefs=()) -> SimResponse:
        """A 200; `prefs` are the Prefer values honoured (Preference-Applied)."""
        headers = {"Preference-Applied": ", ".join(sorted(set(prefs)))} if prefs else {}
        return SimResponse(200, body, headers)

    def user_or_404(self, key: str) -> UserRecord:
        user = self.tenant.user(key)
        if user is None:
            raise GraphError(
                404, "Request_ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
            )
        return user

    def mailbox(self, key: str) -> UserRecord:
        """The mailbox owner, after the checks Exchange makes, in its order."""
        user = self.tenant.user(key)
        if user is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        keys = {user.id.lower(), user.upn.lower()}
        disabled = self.sim.faults.get("mailbox_not_enabled")
        if not user.has_mailbox or (disabled and keys & set(disabled["mailboxes"])):
            raise GraphError(
                404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
            )
        blocked = self.sim.faults.get("access_policy_block")
        if blocked and keys & set(blocked["mailboxes"]):
            raise GraphError(403, "ErrorAccessDenied", "Access to OData is disabled.")
        return user

    def page_size(self, req: SimRequest, default: int, stored: int | None = None) -> tuple[int, set]:
        """Prefer odata.maxpagesize, else $top, else the stored/default size."""
        prefer = req.prefer()
        applied = set()
        size = None
        if "odata.maxpagesize" in prefer:
            try:
                size = max(1, min(int(prefer["odata.maxpagesize"]), self.sim.max_page_size))
                applied.add(f"odata.maxpagesize={size}")
            except ValueError:
                pass
        if size is None and req.q("top") and not (req.q("skiptoken") or req.q("deltatoken")):
            try:
                size = max(1, min(int(req.q("top")), self.sim.max_page_size))
            except ValueError as exc:
                raise GraphError(400, "BadRequest", f"Invalid $top value '{req.q('top')}'.") from exc
        return size or stored or default, applied

    def selection(self, raw: str | None, known, type_name: str, code: str) -> list[str] | None:
        """Canonical property names from a $select value (case-insensitive), or None."""
        if raw is None or not raw.strip():
            return None
        lookup = {k.lower(): k for k in known}
        out = []
        for name in (p.strip() for p in raw.split(",")):
            if not name:
                continue
            if name.lower() not in lookup:
                raise GraphError(400, code, f"Could not find a property named '{name}' on type '{type_name}'.")
            if lookup[name.lower()] not in out:
                out.append(lookup[name.lower()])
        return out

    def body_for(self, req: SimRequest, rec: ItemRecord) -> tuple[dict, set]:
        prefer = req.prefer()
        want = prefer.get("outlook.body-content-type", "html").lower()
        if want == "text" and rec.body.get("contentType") == "html":
            body = {"contentType": "text", "content": html_to_text(rec.body["content"])}
        else:
            body = dict(rec.body)
        return body, {f'outlook.body-content-type="{want}"'} if "outlook.body-content-type" in prefer else set()

    def decode_token(self, token: str, kind: str) -> dict:
        try:
            state = from_b64url_json(token)
            assert isinstance(state, dict) and state.get("k") == kind
            return state
        except Exception as exc:  # any garbage in a token is the client's bug
            raise GraphError(400, "BadRequest", "The delta or skip token is malformed.") from exc

    def filtered(self, items: list[dict], raw_filter: str | None) -> list[dict]:
        """A small `$filter` for directory lists: `prop eq value [and ...]`."""
        if not raw_filter:
            return items
        clauses = []
        for part in re.split(r"\s+and\s+", raw_filter, flags=re.IGNORECASE):
            m = _FILTER_EQ.match(part)
            if not m:
                raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported or invalid query filter clause specified: '{part}'.")
            prop, literal = m[1], m[2]
            if literal.lower() in ("true", "false"):
                value = literal.lower() == "true"
            elif literal.lower() == "null":
                value = None
            elif literal.startswith("'"):
                value = literal[1:-1].replace("''", "'").lower()
            else:
                value = int(literal)
            clauses.append((prop.lower(), value))

        def keep(item):
            lowered = {k.lower(): v for k, v in item.items()}
            for prop, value in clauses:
                actual = lowered.get(prop)
                if isinstance(actual, str):
                    actual = actual.lower()
                if actual != value:
                    return False
            return True

        return [i for i in items if keep(i)]

    def paged(self, req: SimRequest, items_for: Callable[[dict], list[dict]], context: str, default_size: int) -> SimResponse:
        """Offset paging for directory lists; the skiptoken carries the first
        request's $select/$filter/$top, as Graph's does."""
        token = req.q("skiptoken")
        if token:
            state = self.decode_token(token, "page")
        else:
            size, _ = self.page_size(req, default_size)
            state = {"k": "page", "o": 0, "n": size, "sel": req.q("select"), "flt": req.q("filter")}
        items = items_for(state)
        offset, size = state["o"], state["n"]
        body = {"@odata.context": context}
        if offset + size < len(items):
            body["@odata.nextLink"] = self.link(req, **{"$skiptoken": b64url_json(dict(state, o=offset + size))})
        body["value"] = items[offset: offset + size]
        return self.ok(body)

    # ------------------------------------------------------------------ directory

    def h_me(self, req: SimRequest):
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")

    def h_organization(self, req: SimRequest):
        return self.ok({"@odata.context": self.ctx(req, "organization"), "value": [dict(self.tenant.organization)]})

    def h_domains(self, req: SimRequest):
        domains = [
            {"id": d["name"], "authenticationType": d["type"], "isAdminManaged": True, "isDefault": d["isDefault"],
             "isInitial": d["isInitial"], "isRoot": True, "isVerified": True,
             "supportedServices": ["Email", "OfficeCommunicationsOnline"]}
            for d in self.tenant.organization["verifiedDomains"]
        ]
        return self.ok({"@odata.context": self.ctx(req, "domains"), "value": domains})

    def user_props(self, req_select: str | None, user: UserRecord) -> dict:
        known = list(user.graph) + list(EXTRA_USER_PROPS)
        select = self.selection(req_select, known, "Microsoft.DirectoryServices.User", "Request_BadRequest")
        props = select or DEFAULT_USER_PROPS
        return {p: user.graph.get(p) for p in props}  # like Graph: no id unless selected

    def h_users_list(self, req: SimRequest):
        def items(state):
            users = self.tenant.users
            if state.get("flt"):
                keep = {g["id"] for g in self.filtered([u.graph for u in users], state["flt"])}
                users = [u for u in users if u.id in keep]
            return [self.user_props(state["sel"], u) for u in users]

        select = req.q("select")
        self.user_props(select, self.tenant.users[0])  # validate $select up front
        context = self.ctx(req, f"users({select})" if select and not req.q("skiptoken") else "users")
        return self.paged(req, items, context, self.sim.users_page_size)

    def h_user_get(self, req: SimRequest, user: str):
        record = self.user_or_404(user)
        select = req.q("select")
        body = {"@odata.context": self.ctx(req, f"users({select})/$entity" if select else "users/$entity")}
        body.update(self.user_props(select, record))
        return self.ok(body)

    def h_mail_folder_get(self, req: SimRequest, user: str, folder: str):
        """A well-known folder of a mailbox: what the connector's Test reads to prove access."""
        record = self.mailbox(user)
        if folder.lower() not in ("inbox", "sentitems"):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        folder_id = f"{folder.lower()}-{record.id}"
        select = req.q("select")
        body = {"@odata.context": self.ctx(req, f"users('{record.id}')/mailFolders/$entity"), "id": folder_id}
        if not select:
            body.update({"displayName": "Inbox" if folder.lower() == "inbox" else "Sent Items", "parentFolderId": f"root-{record.id}"})
        return self.ok(body)

    def h_auth_methods(self, req: SimRequest, user: str):
        record = self.user_or_404(user)
        return self.ok(
            {
                "@odata.context": self.ctx(req, f"users('{record.id}')/authentication/methods"),
                "value": [dict(m) for m in self.tenant.auth_methods.get(record.id, [])],
            }
        )

    def h_registration_details(self, req: SimRequest):
        if self.sim.faults.get("unlicensed_report") is not None or not self.tenant.spec.entra_premium:
            raise GraphError(
                403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license",
            )

        def items(state):
            rows = [dict(self.tenant.registration_details[u.id]) for u in self.tenant.users]
            return self.filtered(rows, state.get("flt"))

        return self.paged(
            req, items, self.ctx(req, "reports/authenticationMethods/userRegistrationDetails"), self.sim.report_page_size
        )

    def h_roles_list(self, req: SimRequest):
        return self.ok({"@odata.context": self.ctx(req, "directoryRoles"), "value": [dict(r.graph) for r in self.tenant.roles]})

    def h_role_members(self, req: SimRequest, role: str):
        found = None
        if role.lower().startswith("roletemplateid="):
            template = role.split("=", 1)[1].strip("'")
            found = next((r for r in self.tenant.roles if r.graph["roleTemplateId"] == template), None)
        else:
            found = next((r for r in self.tenant.roles if r.graph["id"] == role), None)
        if found is None:
            raise GraphError(
                404, "Request_ResourceNotFound",
                f"Resource '{role}' does not exist or one of its queried reference-property objects are not present.",
            )
        return self.paged(req, lambda state: [dict(m) for m in found.members], self.ctx(req, "directoryObjects"), 100)

    # ------------------------------------------------------------------ MFA enforcement

    def h_ca_policies(self, req: SimRequest):
        return self.paged(req, lambda state: [dict(p) for p in self.tenant.ca_policies],
                          self.ctx(req, "identity/conditionalAccess/policies"), self.sim.ca_page_size)

    def h_auth_strengths(self, req: SimRequest):
        return self.ok({"@odata.context": self.ctx(req, "policies/authenticationStrengthPolicies"),
                        "value": [dict(s) for s in self.tenant.auth_strengths]})

    def h_security_defaults(self, req: SimRequest):
        return self.ok(dict(self.tenant.security_defaults))

    def group_or_404(self, group: str) -> dict:
        if group not in self.tenant.groups:
            raise GraphError(404, "Request_ResourceNotFound", f"Resource '{group}' does not exist or one of its "
                             "queried reference-property objects are not present.")
        return self.tenant.groups[group]

    def h_groups_list(self, req: SimRequest):
        """Groups, with the one $filter form the connector sends: `id in ('a','b',...)` (at most 15 ids, as Graph)."""
        raw = req.q("filter")
        wanted = None
        if raw:
            m = _FILTER_ID_IN.match(raw)
            if not m:
                raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported or invalid query filter clause specified: '{raw}'.")
            wanted = re.findall(r"'([^']*)'", m[1])
            if len(wanted) > 15:
                raise GraphError(400, "Request_BadRequest", "Too many child clauses specified in search filter expression "
                                 "containing 'OR' operators: 16. Max allowed: 15.")

        def items(state):
            groups = [g["graph"] for gid, g in self.tenant.groups.items() if wanted is None or gid in wanted]
            select = self.selection(state["sel"], ["id", "displayName", "description", "groupTypes", "isAssignableToRole",
                                                   "mailEnabled", "mailNickname", "securityEnabled", "visibility"],
                                    "Microsoft.DirectoryServices.Group", "Request_BadRequest")
            return [{k: g.get(k) for k in select} if select else dict(g) for g in groups]

        return self.paged(req, items, self.ctx(req, "groups"), 100)

    def h_group_get(self, req: SimRequest, group: str):
        graph = self.group_or_404(group)["graph"]
        select = self.selection(req.q("select"), list(graph), "Microsoft.DirectoryServices.Group", "Request_BadRequest")
        return self.ok({"@odata.context": self.ctx(req, "groups/$entity"), **{k: graph[k] for k in select or graph}})

    def h_group_transitive_members(self, req: SimRequest, group: str):
        from .enforcement import transitive_members

        self.group_or_404(group)

        def items(state):
            out = []
            for member in transitive_members(self.tenant, group):
                kind = "group" if member in self.tenant.groups else "user"
                out.append({"@odata.type": f"#microsoft.graph.{kind}", "id": member})
            return out

        return self.paged(req, items, self.ctx(req, "directoryObjects(id)"), 100)

    def h_subscribed_skus(self, req: SimRequest):
        """Microsoft 365 E3 (with Entra ID P1) or Office 365 E1 (without). The
        unlicensed_report fault means "no P1" unless set with transient=True
        (a licence 403 on a licensed tenant)."""
        from .enforcement import subscribed_skus

        fault = self.sim.faults.get("unlicensed_report")
        premium = self.tenant.spec.entra_premium and (fault is None or bool(fault.get("transient")))
        return self.ok({"@odata.context": self.ctx(req, "subscribedSkus"), "value": subscribed_skus(self.tenant, premium)})

    def h_role_eligibilities(self, req: SimRequest):
        return self.paged(req, lambda state: [dict(e) for e in self.tenant.role_eligibilities],
                          self.ctx(req, "roleManagement/directory/roleEligibilityScheduleInstances"), 100)

    def h_per_user_requirements(self, req: SimRequest, user: str):
        record = self.user_or_404(user)
        return self.ok({"@odata.context": self.ctx(req, f"users('{record.id}')/authentication/requirements/$entity"),
                        "perUserMfaState": self.tenant.per_user_mfa.get(record.id, "disabled")})

    # ------------------------------------------------------------------ mail

    def project_message(self, req: SimRequest, rec: ItemRecord, select: list[str] | None, delta: bool) -> tuple[dict, set]:
        g = rec.graph
        out = {"@odata.type": "#microsoft.graph.message"} if delta else {}
        out["@odata.etag"] = f'W/"{g["changeKey"]}"'
        out["id"] = g["id"]
        applied = set()
        # Without $select Graph sends every default property, the body included.
        for p in select if select is not None else [*g.keys(), "body"]:
            if p in ("body", "uniqueBody"):
                out[p], applied = self.body_for(req, rec)
            elif p != "id":
                out[p] = g.get(p)
        return out, applied

    def message_select(self, req: SimRequest) -> list[str] | None:
        return self.selection(req.q("select"), MESSAGE_PROPS, "Microsoft.OutlookServices.Message", "RequestBroker--ParseUri")

    def h_message_get(self, req: SimRequest, user: str, item: str):
        owner = self.mailbox(user)
        with self.tenant.lock:
            rec = self.tenant.find_message(owner.id, item)
            if rec is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            select = self.message_select(req)
            body, applied = self.project_message(req, rec, select, delta=False)
        sel = f"({','.join(select)})" if select else ""
        return self.ok({"@odata.context": self.ctx(req, f"users('{owner.id}')/messages{sel}/$entity"), **body}, applied)

    def h_messages_delta(self, req: SimRequest, user: str, folder: str):
        owner = self.mailbox(user)
        folder_name = self.tenant.resolve_folder(owner, folder)
        if folder_name is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        state = self.delta_state(req, "m", owner, folder_name)
        if state is None:  # first request of a round: read the query options
            select = self.message_select(req)
            since = None
            if req.q("filter"):
                m = _FILTER_RECEIVED.match(req.q("filter"))
                if not m:
                    raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
                since = parse_iso(m[1]).isoformat()
            orderby = req.q("orderby")
            if orderby and orderby.strip().lower() != "receiveddatetime desc":
                raise GraphError(400, "ErrorInvalidUrlQueryOrderBy", "The $orderby expression is not supported for delta.")
            size, _ = self.page_size(req, self.sim.messages_page_size)
            state = {"k": "m", "u": owner.id, "f": folder_name, "sel": select, "since": since, "n": size}
            state.update(w0=None, w1=self.tenant.seq, c=0)
        since = parse_iso(state["since"]) if state.get("since") else None

        def matches(rec: ItemRecord) -> bool:
            return since is None or parse_iso(rec.graph["receivedDateTime"]) >= since

        def project(rec: ItemRecord) -> dict:
            return self.project_message(req, rec, state["sel"], delta=True)[0]

        collection = self.tenant.mail_collection(owner, folder_name)
        cap = self.sim.delta_filter_cap if state.get("since") else None
        return self.delta_page(
            req, state, collection, matches, project, "#microsoft.graph.message", "Collection(message)", False, cap=cap
        )

    def h_messages_list(self, req: SimRequest, user: str, folder: str):
        """GET /users/{id}/mailFolders/{folder}/messages: $select, $filter on
        receivedDateTime (ge/gt/le/lt, joined by `and`), $orderby receivedDateTime,
        $top (1..1000, default 10) and $skip paging, as Graph documents it.
        (With $filter and $orderby together Graph wants the $orderby property
        first in $filter; the only filter served here is on receivedDateTime,
        so every accepted combination keeps that rule.)"""
        owner = self.mailbox(user)
        folder_name = self.tenant.resolve_folder(owner, folder)
        if folder_name is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        select = self.message_select(req)
        clauses = self.received_clauses(req.q("filter"))
        orderby = (req.q("orderby") or "").strip()
        descending = True  # Graph lists messages newest first by default
        if orderby:
            m = re.fullmatch(r"receivedDateTime(?:\s+(asc|desc))?", orderby, re.IGNORECASE)
            if not m:
                raise GraphError(400, "ErrorInvalidUrlQueryOrderBy", "The $orderby expression is not supported.")
            descending = (m[1] or "asc").lower() == "desc"
        top = req.q("top")
        try:
            size = int(top) if top else 10
            skip = int(req.q("skip") or 0)
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Invalid $top or $skip value.") from exc
        if not 1 <= size <= LIST_TOP_MAX or skip < 0:
            raise GraphError(400, "ErrorInvalidUrlQuery", f"$top must be between 1 and {LIST_TOP_MAX}.")
        applied: set = set()
        with self.tenant.lock:
            times, records = self.by_received(owner, folder_name)
            low, high = 0, len(records)
            for op, bound in clauses:
                at = iso_z(bound)
                if op in ("ge", "gt"):
                    low = max(low, (bisect.bisect_left if op == "ge" else bisect.bisect_right)(times, at))
                else:
                    high = min(high, (bisect.bisect_right if op == "le" else bisect.bisect_left)(times, at))
            items = records[low:max(low, high)]
            if descending:
                items = items[::-1]
            value = []
            for rec in items[skip: skip + size]:
                item, item_applied = self.project_message(req, rec, select, delta=False)
                applied |= item_applied
                value.append(item)
        sel = f"({','.join(select)})" if select else ""
        body = {"@odata.context": self.ctx(req, f"users('{owner.id}')/mailFolders('{folder_name}')/messages{sel}")}
        body["value"] = value
        if skip + size < len(items):
            query = {k: v for k, v in req.query.items() if k.lower().lstrip("$") != "skip"}
            query["$skip"] = skip + size
            body["@odata.nextLink"] = self.link(req, **query)
        return self.ok(body, applied)

    def by_received(self, owner: UserRecord, folder: str) -> tuple[list[str], list[ItemRecord]]:
        """The folder's messages sorted by (receivedDateTime, id), with their
        times as iso_z strings for bisecting; rebuilt only after the tenant
        changed, so paging a 60,000-message folder does not sort it per page."""
        key = (id(self.tenant), self.tenant.seq, owner.id, folder)
        cached = self._by_received.get((owner.id, folder))
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        pairs = sorted(((_received_key(r), r.id), r) for r in self.tenant.mail_collection(owner, folder).items.values())
        times, records = [k[0] for k, _ in pairs], [r for _, r in pairs]
        self._by_received[owner.id, folder] = (key, times, records)
        return times, records

    def received_clauses(self, raw: str | None) -> list[tuple[str, datetime]]:
        """`receivedDateTime ge X and receivedDateTime lt Y` -> [(op, datetime)]; anything else is refused."""
        if not raw:
            return []
        clauses = []
        for part in re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE):
            m = _RECEIVED_CLAUSE.match(part)
            if not m:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
            try:
                clauses.append((m[1].lower(), parse_iso(m[2])))
            except ValueError as exc:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.") from exc
        return clauses

    # ------------------------------------------------------------------ calendar

    def event_tz(self, req: SimRequest) -> tuple[timezone | zoneinfo.ZoneInfo, str, set]:
        wanted = req.prefer().get("outlook.timezone")
        if not wanted:
            return timezone.utc, "UTC", set()  # Graph's default is UTC too
        iana = WINDOWS_ZONES.get(wanted.lower())
        if iana is None:
            try:
                zoneinfo.ZoneInfo(wanted)
                iana = wanted
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                iana = "UTC"
                wanted = "UTC"
        return zoneinfo.ZoneInfo(iana), wanted, {f'outlook.timezone="{wanted}"'}

    def project_event(self, req: SimRequest, rec: ItemRecord, select: list[str] | None, delta: bool) -> tuple[dict, set]:
        g = rec.graph
        tz, tz_name, applied = self.event_tz(req)
        out = {"@odata.type": "#microsoft.graph.event"} if delta else {}
        out["@odata.etag"] = f'W/"{g["changeKey"]}"'
        out["id"] = g["id"]
        for p in select if select is not None else [*g.keys(), "body"]:
            if p == "body":
                out[p], body_applied = self.body_for(req, rec)
                applied = applied | body_applied
            elif p in ("start", "end"):
                local = parse_iso(g[p]["dateTime"]).astimezone(tz).replace(tzinfo=timezone.utc)
                out[p] = {"dateTime": graph_datetime(local), "timeZone": tz_name}
            elif p != "id":
                out[p] = g.get(p)
        return out, applied

    def event_select(self, req: SimRequest) -> list[str] | None:
        return self.selection(req.q("select"), EVENT_PROPS, "Microsoft.OutlookServices.Event", "RequestBroker--ParseUri")

    def h_event_get(self, req: SimRequest, user: str, item: str):
        owner = self.mailbox(user)
        with self.tenant.lock:
            rec = self.tenant.find_event(owner.id, item)
            if rec is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            select = self.event_select(req)
            body, applied = self.project_event(req, rec, select, delta=False)
        sel = f"({','.join(select)})" if select else ""
        calendar = f"{req.base_url}/v1.0/users('{owner.id}')/calendars('{self.tenant.folder_id(owner, 'calendar')}')"
        body["calendar@odata.associationLink"] = f"{calendar}/$ref"
        body["calendar@odata.navigationLink"] = calendar
        return self.ok({"@odata.context": self.ctx(req, f"users('{owner.id}')/events{sel}/$entity"), **body}, applied)

    def window(self, req: SimRequest) -> tuple[datetime, datetime]:
        start, end = req.q("startDateTime"), req.q("endDateTime")
        if not start or not end:
            raise GraphError(
                400, "ErrorInvalidParameter",
                "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
            )
        try:
            return parse_iso(start), parse_iso(end)
        except ValueError as exc:
            raise GraphError(400, "ErrorInvalidParameter", "The value of the StartDateTime or EndDateTime parameter is invalid.") from exc

    def h_calendar_view(self, req: SimRequest, user: str):
        owner = self.mailbox(user)
        start, end = self.window(req)
        select = self.event_select(req)
        size, applied = self.page_size(req, self.sim.events_page_size)
        try:
            skip = int(req.q("skip") or 0)
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Invalid $skip value.") from exc
        with self.tenant.lock:
            events = [
                r for r in self.tenant.calendar_collection(owner).items.values()
                if r.graph.get("type") != "seriesMaster" and event_overlaps(r.graph, start, end)
            ]
            events.sort(key=lambda r: (r.graph["start"]["dateTime"], r.id))
            page = events[skip: skip + size]
            value = []
            for rec in page:
                item, item_applied = self.project_event(req, rec, select, delta=False)
                applied |= item_applied
                value.append(item)
        sel = f"({','.join(select)})" if select else ""
        body = {"@odata.context": self.ctx(req, f"users('{owner.id}')/calendarView{sel}")}
        if skip + size < len(events):
            query = {k: v for k, v in req.query.items() if k.lower().lstrip("$") not in ("skip", "top")}
            query.update({"$top": size, "$skip": skip + size})
            body["@odata.nextLink"] = self.link(req, **query)
        body["value"] = value
        return self.ok(body, applied)

    def h_calendar_delta(self, req: SimRequest, user: str):
        owner = self.mailbox(user)
        state = self.delta_state(req, "e", owner, "calendar")
        if state is None:
            start, end = self.window(req)
            size, _ = self.page_size(req, self.sim.events_page_size)
            # $select is not supported by calendarView/delta: ignored, full events come back.
            state = {"k": "e", "u": owner.id, "f": "calendar", "ws": start.isoformat(), "we": end.isoformat(), "n": size}
            state.update(w0=None, w1=self.tenant.seq, c=0)
        ws, we = parse_iso(state["ws"]), parse_iso(state["we"])

        def matches(rec: ItemRecord) -> bool:
            return rec.graph.get("type") != "seriesMaster" and event_overlaps(rec.graph, ws, we)

        def project(rec: ItemRecord) -> dict:
            return self.project_event(req, rec, None, delta=True)[0]

        collection = self.tenant.calendar_collection(owner)
        return self.delta_page(req, state, collection, matches, project, "#microsoft.graph.event", "Collection(event)", True)

    # ------------------------------------------------------------------ delta machinery

    def delta_state(self, req: SimRequest, kind: str, owner: UserRecord, folder: str) -> dict | None:
        """The round state from $skiptoken/$deltatoken, or None for a first request."""
        skip, delta = req.q("skiptoken"), req.q("deltatoken")
        if not skip and not delta:
            return None
        state = self.decode_token(skip or delta, kind)
        if state.get("u") != owner.id or state.get("f") != folder:
            raise GraphError(400, "BadRequest", "The delta or skip token does not belong to this collection.")
        if delta:
            expired = self.sim.faults.get("delta_expired")
            if expired is not None and state.get("serial", 0) < expired["before_serial"]:
                raise GraphError(410, "syncStateNotFound", "The sync state is not found or has expired. Resync is required.")
            # A new round: changes after the last round's watermark, up to now.
            state = dict(state, w0=state["w1"], w1=self.tenant.seq, c=0)
            state.pop("serial", None)
        return state

    def delta_page(self, req, state, collection: Collection, matches, project, odata_type, context, removed_when_unmatched,
                   cap=None):
        """One page of a round. cap: the most items an initial round hands out;
        past it the round ends with a delta link although items remain."""
        size, applied = self.page_size(req, state["n"], state["n"])
        state = dict(state, n=size)
        entries: list[tuple[int, dict | ItemRecord]] = []
        more = False
        handed_out = state.get("t", 0)
        with self.tenant.lock:
            if state["w0"] is None:  # initial round: items present at the watermark
                for rec in collection.created_after(state["c"], state["w1"]):
                    if matches(rec):
                        if cap is not None and handed_out + len(entries) >= cap:
                            break  # the documented cap: what is left is never sent in this round
                        if len(entries) == size:
                            more = True
                            break
                        entries.append((rec.created_seq, rec))
            else:  # a changes round: the log after the previous watermark
                for seq, item_id, kind in collection.changes_between(state["w0"], state["w1"]):
                    if seq <= state["c"]:
                        continue
                    rec = collection.items.get(item_id)
                    if kind == "removed" or rec is None:
                        entry = {"@odata.type": odata_type, "id": item_id, "@removed": {"reason": "deleted"}}
                    elif matches(rec):
                        entry = rec
                    elif removed_when_unmatched and rec.created_seq <= state["w0"]:
                        # An event the client may hold moved out of the window. (Events
                        # created outside it since the last round are simply not sent.)
                        entry = {"@odata.type": odata_type, "id": item_id, "@removed": {"reason": "deleted"}}
                    else:
                        continue
                    if len(entries) == size:
                        more = True
                        break
                    entries.append((seq, entry))
            # Graph sometimes sends an empty page with a nextLink; clients must keep going.
            if entries and self.sim.faults.get("empty_pages") is not None and not state.get("e"):
                body = {"@odata.context": self.ctx(req, context)}
                body["@odata.nextLink"] = self.link(req, **{"$skiptoken": b64url_json(dict(state, e=True))})
                body["value"] = []
                return self.ok(body, applied)
            value = [project(e) if isinstance(e, ItemRecord) else e for _, e in entries]
        body = {"@odata.context": self.ctx(req, context)}
        if more:
            next_state = dict(state, c=entries[-1][0], e=False, t=handed_out + len(entries))
            body["@odata.nextLink"] = self.link(req, **{"$skiptoken": b64url_json(next_state)})
        else:
            final = {k: v for k, v in state.items() if k not in ("c", "e", "w0", "t")}
            final["serial"] = self.sim.faults.next_delta_serial()
            body["@odata.deltaLink"] = self.link(req, **{"$deltatoken": b64url_json(final)})
        body["value"] = value
        return self.ok(body, applied)
