"""GraphClient: the one object through which Vectis talks to Microsoft 365.

Endpoint methods return Graph's JSON objects (dicts) page by page; parse.py
turns them into records. The Technician Mailboxes allow-list is enforced
here: a method that names a mailbox not on the current list raises
MailboxNotAllowed before any token or request.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from urllib.parse import quote, unquote, urlsplit

from . import errors
from .batch import auth_methods_follow, run_get_batch
from .tokens import TokenSettings, forget_token_app
from .transport import DEFAULT_TIMEOUT, GraphCounters, GraphSession, RetryPolicy, Transport

DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_LOGIN_BASE_URL = "https://login.microsoftonline.com"

MESSAGE_FIELDS = (
    "id,internetMessageId,conversationId,subject,bodyPreview,from,sender,toRecipients,"
    "ccRecipients,bccRecipients,receivedDateTime,sentDateTime,isDraft,webLink,parentFolderId"
)
EVENT_FIELDS = (
    "id,iCalUId,subject,bodyPreview,start,end,isAllDay,isCancelled,organizer,attendees,"
    "location,isOnlineMeeting,onlineMeeting,webLink,type,seriesMasterId"
)
MAILBOX_FIELDS = "id,displayName,userPrincipalName,mail"
USER_FIELDS = "id,userPrincipalName,displayName,accountEnabled,userType"
ROLE_MEMBER_FIELDS = "id,displayName,userPrincipalName"

IMMUTABLE_IDS = 'IdType="ImmutableId"'  # message/event ids survive moves between folders
CALENDAR_UTC = 'outlook.timezone="UTC"'
# Microsoft documents about 1 request per second per tenant for reading
# Conditional Access policies: space those reads at least this far apart.
CA_MIN_INTERVAL_SECONDS = 1.0
GROUP_MEMBER_FIELDS = "id"
GROUP_IDS_PER_FILTER = 15  # Graph's limit of ids in one `id in (...)` filter
MAX_PAGES = 100_000  # a nextLink chain longer than this is a loop, not data
# The mailbox in a Graph link: /users/{id-or-upn}/... or /users('{id-or-upn}')/...
_LINK_MAILBOX = re.compile(r"/users(?:/|\(')([^/'()?]+)", re.IGNORECASE)


class Pages:
    """Iterate to get one page (a list of Graph objects) at a time; after the
    last page, delta_link holds the final @odata.deltaLink (None for
    non-delta endpoints). Nothing is requested until iteration starts."""

    def __init__(self, fetch_first: Callable[[], dict], follow: Callable[[str], dict], kind: str):
        self._fetch_first = fetch_first
        self._follow = follow
        self.kind = kind
        self.delta_link: str | None = None
        self.pages = 0
        self.items = 0

    def __iter__(self) -> Iterator[list]:
        data = self._fetch_first()
        seen = set()
        while True:
            value = data.get("value")
            if not isinstance(value, list):
                raise errors.MalformedResponseError(kind=self.kind, message="a page without a value list")
            self.pages += 1
            self.items += len(value)
            yield value
            next_link = data.get("@odata.nextLink")
            if not next_link:
                delta = data.get("@odata.deltaLink")
                self.delta_link = delta if isinstance(delta, str) else None
                return
            # An empty page with a nextLink is normal for delta: keep going.
            if not isinstance(next_link, str) or next_link in seen or self.pages >= MAX_PAGES:
                raise errors.MalformedResponseError(kind=self.kind, message="a nextLink that repeats or is not a string")
            seen.add(next_link)
            data = self._follow(next_link)  # the link verbatim: never rebuilt


class GraphClient:
    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        secret_provider: Callable[[], str],
        secret_fingerprint: str,
        allowed_mailboxes: Callable[[], Iterable[str]] | Iterable[str],
        known_mailbox_ids: dict[str, str] | None = None,
        graph_base_url: str = DEFAULT_GRAPH_BASE_URL,
        login_base_url: str = DEFAULT_LOGIN_BASE_URL,
        ca_bundle: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ):
        """secret_provider is called only when an MSAL application must be
        built; secret_fingerprint (e.g. secrets.fingerprint(ciphertext))
        changes whenever the secret does. allowed_mailboxes is read on every
        check, so a callable sees list changes at once. known_mailbox_ids maps
        user ids previously resolved by mailbox_get() to their UPNs."""
        self.graph_base_url = graph_base_url.rstrip("/")
        login_base_url = login_base_url.rstrip("/")
        for name, url in (("graph_base_url", self.graph_base_url), ("login_base_url", login_base_url)):
            if urlsplit(url).scheme != "https" or not urlsplit(url).hostname:
                raise ValueError(f"{name} must be an https URL")  # MSAL and TLS both need https
        if not callable(secret_provider):
            raise TypeError("secret_provider must be a callable returning the secret")
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._allowed = allowed_mailboxes
        self._mailbox_ids = {k.lower(): v.lower() for k, v in (known_mailbox_ids or {}).items()}
        self.counters = GraphCounters()
        self._sleep, self._clock = sleep, clock
        self._policy_read_at: float | None = None
        self.policy_paced_seconds = 0.0  # time spent keeping to the Conditional Access read limit
        self.session = GraphSession(timeout=timeout, ca_bundle=ca_bundle)
        self._transport = Transport(
            token_settings=TokenSettings(login_base_url, tenant_id, client_id, secret_fingerprint),
            secret_provider=secret_provider,
            session=self.session,
            counters=self.counters,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            jitter=jitter,
        )

    def __repr__(self) -> str:
        return f"<GraphClient tenant={self.tenant_id} client={self.client_id}>"

    def close(self) -> None:
        self.session.close()

    def forget_token(self) -> None:
        """Drop this client's cached MSAL application and token, so the next
        call signs in afresh (a connection test must not reuse a cached token)."""
        forget_token_app(self._transport.token_settings)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ allow-list

    def allowed_mailboxes(self) -> set[str]:
        current = self._allowed() if callable(self._allowed) else self._allowed
        return {m.strip().lower() for m in current or () if isinstance(m, str) and m.strip()}

    def check_mailbox(self, mailbox: str) -> str:
        """The allowed UPN for a UPN or a user id resolved by mailbox_get(),
        else MailboxNotAllowed. Ids never resolved from an allowed UPN, and
        UPNs since removed from the list, are refused."""
        key = mailbox.strip().lower() if isinstance(mailbox, str) else ""
        upn = key if "@" in key else self._mailbox_ids.get(key)
        if not upn or upn not in self.allowed_mailboxes():
            raise errors.MailboxNotAllowed(str(mailbox))
        return upn

    def _mailbox_path(self, mailbox: str) -> str:
        self.check_mailbox(mailbox)
        return f"{self.graph_base_url}/users/{_segment(mailbox.strip())}"

    def _check_link(self, link: str, mailbox: str | None = None) -> None:
        # The bearer token goes wherever a link points: only follow links to
        # the configured Graph host.
        base, target = urlsplit(self.graph_base_url), urlsplit(link)
        if (target.scheme, target.netloc.lower()) != (base.scheme, base.netloc.lower()):
            raise errors.MalformedResponseError(message="a paging link points outside Microsoft Graph")
        # A stored delta link or a nextLink that names a mailbox must name the
        # one this call is for, and that mailbox must still be allowed.
        named = _LINK_MAILBOX.search(unquote(target.path))
        if mailbox is not None and named:
            allowed_upn = self.check_mailbox(mailbox)  # one read of the allow-list per page
            key = named.group(1).strip().lower()
            if (key if "@" in key else self._mailbox_ids.get(key)) != allowed_upn:
                raise errors.MailboxNotAllowed(named.group(1), for_mailbox=allowed_upn)

    # ------------------------------------------------------------ plumbing

    def _get(self, kind: str, url: str, *, params=None, prefer: tuple[str, ...] = ()) -> dict:
        headers = {"Prefer": ", ".join(prefer)} if prefer else None
        return self._transport.request(kind, "GET", url, params=params, headers=headers)

    def _pages(self, kind, url, *, params=None, prefer=(), start_link=None, mailbox=None) -> Pages:
        def first():
            if start_link:
                return self._get(kind, start_link, prefer=prefer)
            return self._get(kind, url, params=params, prefer=prefer)

        def follow(link):
            self._check_link(link, mailbox)
            return self._get(kind, link, prefer=prefer)

        if start_link:
            self._check_link(start_link, mailbox)  # now, so a bad link fails before any request
        return Pages(first, follow, kind)

    def granted_permissions(self) -> frozenset[str]:
        """Application permissions in the current token's roles claim."""
        return self._transport.granted_permissions()

    # ------------------------------------------------------------ tenant

    def organization_get(self) -> dict:
        data = self._get("organization", f"{self.graph_base_url}/organization")
        orgs = data.get("value")
        if not isinstance(orgs, list) or not orgs or not isinstance(orgs[0], dict):
            raise errors.MalformedResponseError(kind="organization", message="no organization in the answer")
        return orgs[0]

    def domains_list(self) -> list[dict]:
        """The tenant's domains (GET /domains): id, isVerified, isDefault, isInitial."""
        data = self._get("domains", f"{self.graph_base_url}/domains")
        return [d for d in data.get("value") or [] if isinstance(d, dict)]

    def mailbox_get(self, upn: str) -> dict:
        """Resolve an allowed UPN; remembers id -> UPN so later calls may use the id."""
        path = self._mailbox_path(upn)
        user = self._get("user", path, params={"$select": MAILBOX_FIELDS})
        user_id = user.get("id")
        if isinstance(user_id, str) and user_id:
            self._mailbox_ids[user_id.lower()] = upn.strip().lower()
        return user

    def mailbox_probe(self, upn: str) -> dict:
        """Read the inbox folder's id: proves Exchange Online serves this mailbox
        to this app (no mailbox and access-policy blocks only show up here)."""
        base = self._mailbox_path(upn)
        return self._get("mailbox_probe", f"{base}/mailFolders/inbox", params={"$select": "id"}, prefer=(IMMUTABLE_IDS,))

    @property
    def mailbox_ids(self) -> dict[str, str]:
        """Resolved user id -> UPN, to store and pass back as known_mailbox_ids."""
        return dict(self._mailbox_ids)

    # ------------------------------------------------------------ mail and calendar

    def message_delta(
        self,
        mailbox: str,
        folder: str,
        *,
        delta_link: str | None = None,
        received_since: datetime | None = None,
        page_size: int = 50,
    ) -> Pages:
        """Delta pages of one folder ("inbox", "sentitems" or a folder id).
        With delta_link, resume from it verbatim (its query options are inside)."""
        base = self._mailbox_path(mailbox)
        params = {"$select": MESSAGE_FIELDS}
        if received_since is not None:
            params["$filter"] = f"receivedDateTime ge {_iso(received_since)}"
        prefer = (IMMUTABLE_IDS, f"odata.maxpagesize={int(page_size)}")
        url = f"{base}/mailFolders/{_segment(folder)}/messages/delta"
        return self._pages("message_delta", url, params=params, prefer=prefer, start_link=delta_link, mailbox=mailbox)

    def message_list(self, mailbox: str, folder: str, *, received_since: datetime, page_size: int = 1000) -> Pages:
        """Pages of one folder's messages received since a moment, newest first
        (GET .../mailFolders/{folder}/messages): the documented way to read what
        a capped delta round left out. $orderby names the property $filter
        starts with, as Graph requires when both are given; $top is at most 1000."""
        base = self._mailbox_path(mailbox)
        params = {
            "$select": MESSAGE_FIELDS,
            "$filter": f"receivedDateTime ge {_iso(received_since)}",
            "$orderby": "receivedDateTime desc",
            "$top": max(1, min(int(page_size), 1000)),
        }
        url = f"{base}/mailFolders/{_segment(folder)}/messages"
        return self._pages("message_list", url, params=params, prefer=(IMMUTABLE_IDS,), mailbox=mailbox)

    def message_body(self, mailbox: str, message_id: str, *, content_type: str = "html") -> dict:
        """{"body": {"contentType", "content"}}: untrusted, fetched on demand only."""
        base = self._mailbox_path(mailbox)
        prefer = (IMMUTABLE_IDS, f'outlook.body-content-type="{"text" if content_type == "text" else "html"}"')
        return self._get("message_body", f"{base}/messages/{_segment(message_id)}", params={"$select": "body"}, prefer=prefer)

    def calendar_view(self, mailbox: str, start: datetime, end: datetime, *, page_size: int = 50) -> Pages:
        """Events (recurrences expanded) overlapping [start, end), times in UTC."""
        base = self._mailbox_path(mailbox)
        params = {"startDateTime": _iso(start), "endDateTime": _iso(end), "$select": EVENT_FIELDS, "$top": int(page_size)}
        prefer = (IMMUTABLE_IDS, CALENDAR_UTC)
        return self._pages("calendar", f"{base}/calendarView", params=params, prefer=prefer, mailbox=mailbox)

    def event_body(self, mailbox: str, event_id: str) -> dict:
        base = self._mailbox_path(mailbox)
        prefer = (IMMUTABLE_IDS, CALENDAR_UTC, 'outlook.body-content-type="html"')
        return self._get("event_body", f"{base}/events/{_segment(event_id)}", params={"$select": "body"}, prefer=prefer)

    # ------------------------------------------------------------ directory and MFA (tenant-wide)

    def users(self, *, page_size: int = 999) -> Pages:
        params = {"$select": USER_FIELDS, "$top": int(page_size)}
        return self._pages("users", f"{self.graph_base_url}/users", params=params)

    def registration_details(self, *, page_size: int = 999) -> Pages:
        """The MFA registration report. Identity reports allow about 5 requests
        per 10 s per tenant, so ask for large pages ($top is widely used with
        this report; Graph's default page is much smaller)."""
        url = f"{self.graph_base_url}/reports/authenticationMethods/userRegistrationDetails"
        return self._pages("registration_report", url, params={"$top": int(page_size)})

    def directory_roles(self) -> list[dict]:
        """Activated directory roles (all pages)."""
        return [role for page in self._pages("directory_roles", f"{self.graph_base_url}/directoryRoles") for role in page]

    def role_members(self, role_id: str) -> Pages:
        url = f"{self.graph_base_url}/directoryRoles/{_segment(role_id)}/members"
        return self._pages("role_members", url, params={"$select": ROLE_MEMBER_FIELDS})

    def subscribed_skus(self) -> list[dict]:
        """The tenant's subscribed SKUs with their service plans (licence confirmation)."""
        return [sku for page in self._pages("subscribed_skus", f"{self.graph_base_url}/subscribedSkus") for sku in page
                if isinstance(sku, dict)]

    def role_eligibility_instances(self) -> Pages:
        """PIM: eligible (not active) directory role assignments, principalId + roleDefinitionId
        (a built-in role's definition id is its template id)."""
        url = f"{self.graph_base_url}/roleManagement/directory/roleEligibilityScheduleInstances"
        return self._pages("role_eligibility", url)

    def auth_methods_batch(self, user_ids: Iterable[str]) -> dict[str, list[dict] | errors.GraphError]:
        """Each user's authentication methods via POST /$batch, 20 per batch.
        Values are method objects reduced to {"@odata.type": ...} (nothing
        else is needed, so phone numbers and device names are never kept), or
        a GraphError for that user. Per-item 429s are retried, honouring the
        largest Retry-After of the batch, within the client's retry policy."""
        return run_get_batch(
            self, list(dict.fromkeys(user_ids)), kind="auth_methods", batch_url=f"{self.graph_base_url}/$batch",
            url_for=lambda user_id: f"/users/{_segment(user_id)}/authentication/methods",
            on_success=lambda body: auth_methods_follow(self, body),
        )


    # ------------------------------------------------------------ MFA enforcement (Policy.Read.All)

    @property
    def beta_base_url(self) -> str:
        """The same Graph host, /beta instead of /v1.0: only for APIs Microsoft
        publishes in beta alone (per-user MFA state), and labelled so."""
        return self.graph_base_url.rsplit("/", 1)[0] + "/beta"

    def _policy_pace(self) -> None:
        now = self._clock()
        if self._policy_read_at is not None:
            wait = CA_MIN_INTERVAL_SECONDS - (now - self._policy_read_at)
            if wait > 0:
                self.policy_paced_seconds += wait
                self._sleep(wait)
        self._policy_read_at = self._clock()

    def _paced_list(self, kind: str, url: str) -> list[dict]:
        """Every item of a policy collection, each page request paced."""
        def first():
            self._policy_pace()
            return self._get(kind, url)

        def follow(link):
            self._check_link(link)
            self._policy_pace()
            return self._get(kind, link)

        return [item for page in Pages(first, follow, kind) for item in page if isinstance(item, dict)]

    def conditional_access_policies(self) -> list[dict]:
        """Every Conditional Access policy (all pages), paced to the CA read limit."""
        return self._paced_list("ca_policies", f"{self.graph_base_url}/identity/conditionalAccess/policies")

    def authentication_strength_policies(self) -> list[dict]:
        """Built-in and custom authentication strengths with their allowedCombinations."""
        return self._paced_list("auth_strengths", f"{self.graph_base_url}/policies/authenticationStrengthPolicies")

    def security_defaults(self) -> dict:
        self._policy_pace()
        return self._get("security_defaults", f"{self.graph_base_url}/policies/identitySecurityDefaultsEnforcementPolicy")

    def group_get(self, group_id: str) -> dict:
        return self._get("group_members", f"{self.graph_base_url}/groups/{_segment(group_id)}",
                         params={"$select": "id,displayName"})

    def group_names(self, group_ids: Iterable[str]) -> dict[str, str]:
        """{id: displayName} for groups, 15 ids a request (Graph's limit for `id in (...)`)."""
        ids = list(dict.fromkeys(group_ids))
        names = {}
        for start in range(0, len(ids), GROUP_IDS_PER_FILTER):
            chunk = ids[start : start + GROUP_IDS_PER_FILTER]
            quoted = ",".join("'" + str(i).replace("'", "''") + "'" for i in chunk)
            pages = self._pages("group_members", f"{self.graph_base_url}/groups",
                                params={"$filter": f"id in ({quoted})", "$select": "id,displayName"})
            for page in pages:
                for group in page:
                    if isinstance(group, dict) and isinstance(group.get("id"), str):
                        names[group["id"]] = str(group.get("displayName") or group["id"])
        return names

    def group_transitive_members(self, group_id: str) -> Pages:
        """Members of a group including those of nested groups (users, groups, devices...)."""
        url = f"{self.graph_base_url}/groups/{_segment(group_id)}/transitiveMembers"
        return self._pages("group_members", url, params={"$select": GROUP_MEMBER_FIELDS, "$top": 999})

    def per_user_mfa_batch(self, user_ids: Iterable[str]) -> dict[str, str | errors.GraphError]:
        """perUserMfaState ("disabled" | "enabled" | "enforced") per user from the
        BETA endpoint /users/{id}/authentication/requirements via POST /beta/$batch,
        or a GraphError for that user."""
        def state(body):
            value = body.get("perUserMfaState") if isinstance(body, dict) else None
            if not isinstance(value, str):
                return errors.MalformedResponseError(kind="per_user_mfa", message="no perUserMfaState")
            return value

        return run_get_batch(
            self, list(dict.fromkeys(user_ids)), kind="per_user_mfa", batch_url=f"{self.beta_base_url}/$batch",
            url_for=lambda user_id: f"/users/{_segment(user_id)}/authentication/requirements", on_success=state,
        )


def _segment(value: str) -> str:
    return quote(str(value), safe="@=")


def _iso(moment: datetime) -> str:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError("pass an aware datetime")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
