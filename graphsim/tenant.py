"""A deterministic fake Microsoft 365 tenant: the data behind the Graph simulator.

`build_tenant(spec)` returns a `Tenant` holding plain Python data (dicts shaped
like Graph resources) plus the bookkeeping the HTTP layer needs: a monotonic
change sequence and a per-collection change log, so delta queries can return
only what changed since a token was issued.

Records keep the Graph-visible properties (`graph`) apart from the body
(`body`) on purpose: the body is the one thing the app must never store, so it
is only ever added to a response when the request asks for it (or when Graph
itself would send it, see server.py).

The data generation lives in directory.py and mailboxes.py; this module owns
the store.
"""

from __future__ import annotations

import base64
import bisect
import copy
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

MAIL_FOLDERS = ("inbox", "sentitems")
SENTINEL_PREFIX = "VECTIS-BODY-SENTINEL-"


def _default_anchor() -> datetime:
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


SHOWCASE_HOSTILE_DOMAIN = "hostile-mail-test.example"


@dataclass(frozen=True)
class TenantSpec:
    """Sizes and names of the fake tenant. Same spec => identical tenant.

    `anchor` is "now" for the generated data. It defaults to the current hour
    (UTC), so two specs built in different hours differ: pass it explicitly
    when a test compares tenants or relies on exact timestamps.
    """

    seed: int = 1
    tenant_id: str = "3f2a8c1e-6b4d-4e9a-9c1f-7d5e2b8a4c60"
    tenant_name: str = "Contoso MSP Ltd"
    msp_domain: str = "contoso-msp.example"
    initial_domain: str = "contosomsp.onmicrosoft.com"
    customer_domains: tuple[str, ...] = (
        "northwind.example",
        "fabrikam.example",
        "tailspin.example",
        "wingtip.example",
        "adatum.example",
        "litware.example",
    )
    # Mail and users at these hosts belong to the customer whose domain they
    # end with (e.g. eu.fabrikam.example -> fabrikam.example).
    customer_subdomains: tuple[str, ...] = ("eu.fabrikam.example",)
    technicians: int = 4
    msp_staff: int = 3  # MSP members that are not technicians (no generated mail)
    # Users that exist in the directory but have no Exchange Online mailbox:
    # every mailbox endpoint answers 404 MailboxNotEnabledForRESTAPI for them.
    # The default is an MSP user outside the technician list; put a
    # technician UPN here to make one technician mailbox-less.
    no_mailbox_upns: tuple[str, ...] = ("frontdesk@contoso-msp.example",)
    messages_per_mailbox: int = 60
    off_customer_share: float = 0.3
    cc_technician_share: float = 0.2  # customer mail that also lands in a colleague's mailbox
    events_per_mailbox: int = 24
    users_per_customer: int = 8
    guest_share: float = 0.1
    disabled_share: float = 0.1
    mfa_registered_share: float = 0.75
    security_defaults: bool = False  # True: Security Defaults on and no Conditional Access policies
    entra_premium: bool = True  # subscribedSkus include an Entra ID P1 service plan; without it the report answers 403
    # Filler for benchmarks: more groups (some nested) and more Conditional Access
    # policies naming them, on top of the scenario ones.
    extra_groups: int = 0
    extra_ca_policies: int = 0
    hostile_share: float = 0.05
    # A tenant for people to look at (the demo): attack strings only at the
    # SHOWCASE_HOSTILE_DOMAIN customer, where every item carries one, and no
    # body sentinels. Tests keep the default: attacks anywhere, sentinels in every body.
    showcase: bool = False
    mail_history_days: int = 20
    # A busy helpdesk inbox: this many extra messages in the last technician's
    # inbox, all inside the sync's 14-day look-back, about half of them from
    # customers. More than 5,000 trips Graph's cap on filtered message delta
    # (graph.DELTA_FILTER_CAP). Off by default: the session-wide test tenant
    # stays small; the cap's own tests, the demo and the benchmark turn it on.
    busy_inbox_messages: int = 0
    events_past_days: int = 10
    events_future_days: int = 20
    anchor: datetime = field(default_factory=_default_anchor)

    def technician_upns(self) -> list[str]:
        from .directory import technician_identities

        return [f"{local}@{self.msp_domain}" for local, _first, _last in technician_identities(self.technicians)]


# --------------------------------------------------------------------------- records


@dataclass
class UserRecord:
    graph: dict  # every user property the simulator knows (served through $select)
    kind: str  # "technician" | "msp" | "customer" | "guest"
    customer_domain: str | None = None
    has_mailbox: bool = True

    @property
    def id(self) -> str:
        return self.graph["id"]

    @property
    def upn(self) -> str:
        return self.graph["userPrincipalName"]


@dataclass
class ItemRecord:
    """One message or event in one mailbox. `graph` never contains the body."""

    mailbox_id: str
    mailbox_upn: str
    folder: str  # "inbox" | "sentitems" | "calendar"
    graph: dict
    body: dict  # {"contentType": "html", "content": ...}
    sentinel: str | None
    created_seq: int = 0
    changed_seq: int = 0

    @property
    def id(self) -> str:
        return self.graph["id"]

    def participants(self) -> list[str]:
        """Every address on the item: from/sender/to/cc/bcc, or organizer/attendees."""
        g = self.graph
        out = []
        for key in ("from", "sender", "organizer"):
            addr = ((g.get(key) or {}).get("emailAddress") or {}).get("address")
            if addr:
                out.append(addr)
        for key in ("toRecipients", "ccRecipients", "bccRecipients", "attendees"):
            for r in g.get(key) or []:
                addr = (r.get("emailAddress") or {}).get("address")
                if addr:
                    out.append(addr)
        return out


@dataclass
class RoleRecord:
    graph: dict  # directoryRole: id, deletedDateTime, description, displayName, roleTemplateId
    members: list[dict]  # directoryObjects with @odata.type


class Collection:
    """Items of one mailbox folder (or calendar) plus its change log.

    The log is the single source for delta rounds: entries (seq, id, kind) are
    appended in seq order, kind "upsert" or "removed".
    """

    def __init__(self) -> None:
        self.items: dict[str, ItemRecord] = {}  # insertion order == creation order
        self.created: list[tuple[int, str]] = []  # (created_seq, id), for paging by cursor
        self.log: list[tuple[int, str, str]] = []

    def created_after(self, after: int, upto: int):
        """Items still present with after < created_seq <= upto, in creation order."""
        start = bisect.bisect_right(self.created, (after, "\uffff"))
        for seq, item_id in self.created[start:]:
            if seq > upto:
                return
            rec = self.items.get(item_id)
            if rec is not None and rec.created_seq == seq:
                yield rec

    def changes_between(self, after: int, upto: int) -> list[tuple[int, str, str]]:
        """Last change per id with after < seq <= upto, ordered by that seq."""
        last: dict[str, tuple[int, str, str]] = {}
        start = bisect.bisect_right(self.log, (after, "\uffff", ""))
        for entry in self.log[start:]:
            if entry[0] > upto:
                break
            last[entry[1]] = entry
        return sorted(last.values())


# --------------------------------------------------------------------------- helpers


def stable_hash(*parts) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def graph_id(prefix: str, *parts, length: int = 66) -> str:
    """An Exchange-style opaque id ("AAMkAG...="), URL-safe so it fits in a path."""
    raw = base64.urlsafe_b64encode(stable_hash(*parts) + stable_hash("x", *parts)).decode().rstrip("=")
    return (prefix + raw)[:length] + "AAA="


def iso_z(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Graph uses 7 fractional digits; Python takes at most 6
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        rest = tail[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def address_at(address: str, domains) -> bool:
    """True if the address's domain is one of `domains` or a subdomain of one."""
    if "@" not in address:
        return False
    host = address.rsplit("@", 1)[1].strip().lower().rstrip(".")
    for d in domains:
        d = d.strip().lower().lstrip("@").rstrip(".")
        if host == d or host.endswith("." + d):
            return True
    return False


def email_address(value) -> dict:
    """Accept "a@b", ("Name", "a@b") or a Graph recipient dict."""
    if isinstance(value, dict):
        return value if "emailAddress" in value else {"emailAddress": value}
    if isinstance(value, (tuple, list)):
        name, address = value
    else:
        address = value
        name = value.split("@", 1)[0].replace(".", " ").title()
    return {"emailAddress": {"name": name, "address": address}}


# --------------------------------------------------------------------------- tenant


class Tenant:
    """The tenant's data and the only code that mutates it (thread-safe)."""

    def __init__(self, spec: TenantSpec) -> None:
        self.spec = spec
        self.lock = threading.RLock()
        self.organization: dict = {}
        self.users: list[UserRecord] = []
        self.technician_upns: list[str] = []
        self.roles: list[RoleRecord] = []
        self.registration_details: dict[str, dict] = {}  # user id -> userRegistrationDetails
        self.auth_methods: dict[str, list[dict]] = {}  # user id -> authentication methods
        # MFA enforcement (enforcement.py)
        self.groups: dict[str, dict] = {}  # group id -> {"graph": {...}, "members": [user or group ids]}
        self.group_ids: dict[str, str] = {}  # "all_staff" | "finance" | "break_glass" -> group id
        self.ca_policies: list[dict] = []
        self.auth_strengths: list[dict] = []
        self.security_defaults: dict = {}
        self.per_user_mfa: dict[str, str] = {}  # user id -> perUserMfaState
        self.enforcement_cases: dict[str, str] = {}  # outcome -> the user id built to produce it
        self.privileged_cases: dict[str, str] = {}  # "via_group" | "eligible" -> user id
        self.role_eligibilities: list[dict] = []  # PIM unifiedRoleEligibilityScheduleInstance
        # customer domain -> personal addresses of that customer's contacts
        # (they take part in events; useful for events_touching(contact_emails=...)).
        self.personal_contacts: dict[str, list[str]] = {}
        self.mail_folder_ids: dict[tuple[str, str], str] = {}  # (user id, folder) -> folder id
        self._users_by_key: dict[str, UserRecord] = {}
        self._mail: dict[tuple[str, str], Collection] = {}
        self._calendar: dict[str, Collection] = {}
        self._seq = 0
        self._sentinels = 0

    # ------------------------------------------------------------------ lookups

    @property
    def seq(self) -> int:
        """The change sequence: every insert/update/remove increments it."""
        return self._seq

    def add_user(self, record: UserRecord) -> None:
        self.users.append(record)
        self._users_by_key[record.id.lower()] = record
        self._users_by_key[record.upn.lower()] = record

    def user(self, id_or_upn: str) -> UserRecord | None:
        return self._users_by_key.get((id_or_upn or "").lower())

    def require_mailbox(self, id_or_upn: str) -> UserRecord:
        user = self.user(id_or_upn)
        if user is None:
            raise KeyError(f"no such user: {id_or_upn}")
        return user

    def folder_id(self, user: UserRecord, folder: str) -> str:
        key = (user.id, folder)
        if key not in self.mail_folder_ids:
            self.mail_folder_ids[key] = graph_id("AQMkAD", self.spec.seed, "folder", user.id, folder, length=40)
        return self.mail_folder_ids[key]

    def resolve_folder(self, user: UserRecord, name_or_id: str) -> str | None:
        """Map a well-known folder name or a folder id to "inbox"/"sentitems"."""
        lowered = name_or_id.lower()
        if lowered in MAIL_FOLDERS:
            return lowered
        for folder in MAIL_FOLDERS:
            if self.folder_id(user, folder) == name_or_id:
                return folder
        return None

    def mail_collection(self, user: UserRecord, folder: str) -> Collection:
        return self._mail.setdefault((user.id, folder), Collection())

    def calendar_collection(self, user: UserRecord) -> Collection:
        return self._calendar.setdefault(user.id, Collection())

    def messages(self, mailbox: str, folder: str | None = None) -> list[ItemRecord]:
        user = self.require_mailbox(mailbox)
        with self.lock:
            folders = [folder] if folder else list(MAIL_FOLDERS)
            return [r for f in folders for r in self.mail_collection(user, f).items.values()]

    def events(self, mailbox: str, *, include_masters: bool = True) -> list[ItemRecord]:
        user = self.require_mailbox(mailbox)
        with self.lock:
            return [
                r
                for r in self.calendar_collection(user).items.values()
                if include_masters or r.graph.get("type") != "seriesMaster"
            ]

    def find_message(self, mailbox: str, message_id: str) -> ItemRecord | None:
        user = self.require_mailbox(mailbox)
        with self.lock:
            for folder in MAIL_FOLDERS:
                rec = self.mail_collection(user, folder).items.get(message_id)
                if rec:
                    return rec
        return None

    def find_event(self, mailbox: str, event_id: str) -> ItemRecord | None:
        user = self.require_mailbox(mailbox)
        with self.lock:
            return self.calendar_collection(user).items.get(event_id)

    def all_messages(self) -> list[ItemRecord]:
        with self.lock:
            return [r for c in self._mail.values() for r in c.items.values()]

    def all_events(self, *, include_masters: bool = False) -> list[ItemRecord]:
        with self.lock:
            return [
                r
                for c in self._calendar.values()
                for r in c.items.values()
                if include_masters or r.graph.get("type") != "seriesMaster"
            ]

    def body_sentinels(self) -> set[str]:
        """Every sentinel string placed in a message or event body."""
        with self.lock:
            return {r.sentinel for r in self.all_messages() + self.all_events(include_masters=True) if r.sentinel}

    # ------------------------------------------------------------------ ground truth

    def messages_touching(self, domains, *, mailboxes=None, since: datetime | str | None = None) -> list[ItemRecord]:
        """Messages with a participant at one of `domains` (or a subdomain of one)."""
        keep = {m.lower() for m in mailboxes} if mailboxes else None
        since_dt = parse_iso(since) if since else None
        out = []
        for rec in self.all_messages():
            if keep is not None and rec.mailbox_upn.lower() not in keep and rec.mailbox_id not in keep:
                continue
            if since_dt and parse_iso(rec.graph["receivedDateTime"]) < since_dt:
                continue
            if any(address_at(a, domains) for a in rec.participants()):
                out.append(rec)
        return out

    def events_touching(
        self,
        domains,
        contact_emails=(),
        *,
        mailboxes=None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> list[ItemRecord]:
        """Events (not series masters) whose organizer or attendees are at one of
        `domains`, or are one of `contact_emails` (case-insensitive). With
        start/end, only events overlapping that window (as calendarView would)."""
        keep = {m.lower() for m in mailboxes} if mailboxes else None
        contacts = {c.lower() for c in contact_emails}
        s = parse_iso(start) if start else None
        e = parse_iso(end) if end else None
        out = []
        for rec in self.all_events():
            if keep is not None and rec.mailbox_upn.lower() not in keep and rec.mailbox_id not in keep:
                continue
            if s and e and not event_overlaps(rec.graph, s, e):
                continue
            addrs = rec.participants()
            if any(address_at(a, domains) for a in addrs) or any(a.lower() in contacts for a in addrs):
                out.append(rec)
        return out

    # ------------------------------------------------------------------ mutations

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def next_sentinel(self) -> str:
        self._sentinels += 1
        return f"{SENTINEL_PREFIX}{self._sentinels:06d}"

    def insert(self, collection: Collection, record: ItemRecord) -> ItemRecord:
        with self.lock:
            if record.id in collection.items:
                raise ValueError(f"duplicate item id {record.id}")
            seq = self._next_seq()
            record.created_seq = record.changed_seq = seq
            collection.items[record.id] = record
            collection.created.append((seq, record.id))
            collection.log.append((seq, record.id, "upsert"))
            return record

    def _touch(self, collection: Collection, record: ItemRecord, fields: dict) -> ItemRecord:
        with self.lock:
            seq = self._next_seq()
            version = seq
            body = fields.pop("body", None)
            if body is not None:
                record.body = body if isinstance(body, dict) else {"contentType": "html", "content": body}
            for key in ("from", "sender", "organizer"):
                if isinstance(fields.get(key), (str, tuple)):
                    fields[key] = email_address(fields[key])
            for key in ("toRecipients", "ccRecipients", "bccRecipients"):
                if key in fields:
                    fields[key] = [email_address(v) for v in fields[key]]
            record.graph.update(fields)
            record.graph["changeKey"] = base64.b64encode(stable_hash("ck", record.id, version)[:18]).decode()
            record.graph["lastModifiedDateTime"] = iso_z(datetime.now(timezone.utc))
            record.changed_seq = seq
            collection.log.append((seq, record.id, "upsert"))
            return record

    def _remove(self, collection: Collection, item_id: str) -> ItemRecord:
        with self.lock:
            record = collection.items.pop(item_id)  # KeyError for an unknown id, on purpose
            collection.log.append((self._next_seq(), item_id, "removed"))
            return record

    def add_message(self, mailbox: str, folder: str, **fields) -> ItemRecord:
        """Add a message; unspecified fields get sensible defaults (and a body
        with a fresh sentinel). Use `from_=` or `**{"from": ...}` for the sender;
        addresses may be plain strings."""
        from .mailboxes import new_message

        user = self.require_mailbox(mailbox)
        with self.lock:
            record = new_message(self, user, folder, fields)
            return self.insert(self.mail_collection(user, folder), record)

    def update_message(self, mailbox: str, folder: str, message_id: str, **fields) -> ItemRecord:
        user = self.require_mailbox(mailbox)
        if "from_" in fields:
            fields["from"] = fields.pop("from_")
        with self.lock:
            collection = self.mail_collection(user, folder)
            return self._touch(collection, collection.items[message_id], fields)

    def remove_message(self, mailbox: str, folder: str, message_id: str) -> ItemRecord:
        user = self.require_mailbox(mailbox)
        with self.lock:
            return self._remove(self.mail_collection(user, folder), message_id)

    def add_event(self, mailbox: str, **fields) -> ItemRecord:
        """Add an event. `start`/`end` may be datetimes or ISO strings;
        `attendees` may be plain addresses; `organizer` a plain address."""
        from .mailboxes import new_event

        user = self.require_mailbox(mailbox)
        with self.lock:
            record = new_event(self, user, fields)
            return self.insert(self.calendar_collection(user), record)

    def update_event(self, mailbox: str, event_id: str, **fields) -> ItemRecord:
        from .mailboxes import event_fields

        user = self.require_mailbox(mailbox)
        with self.lock:
            collection = self.calendar_collection(user)
            return self._touch(collection, collection.items[event_id], event_fields(fields))

    def remove_event(self, mailbox: str, event_id: str) -> ItemRecord:
        user = self.require_mailbox(mailbox)
        with self.lock:
            return self._remove(self.calendar_collection(user), event_id)

    # ------------------------------------------------------------------ comparison

    def snapshot(self) -> dict:
        """Everything generated, as plain data (for determinism checks)."""
        with self.lock:
            return copy.deepcopy(
                {
                    "organization": self.organization,
                    "users": [(u.graph, u.kind, u.customer_domain, u.has_mailbox) for u in self.users],
                    "roles": [(r.graph, r.members) for r in self.roles],
                    "registration": self.registration_details,
                    "methods": self.auth_methods,
                    "groups": self.groups,
                    "ca_policies": self.ca_policies,
                    "security_defaults": self.security_defaults,
                    "per_user_mfa": self.per_user_mfa,
                    "role_eligibilities": self.role_eligibilities,
                    "mail": {
                        f"{k[0]}/{k[1]}": [(r.graph, r.body) for r in c.items.values()] for k, c in self._mail.items()
                    },
                    "calendar": {k: [(r.graph, r.body) for r in c.items.values()] for k, c in self._calendar.items()},
                }
            )


def event_overlaps(graph: dict, start: datetime, end: datetime) -> bool:
    s = parse_iso(graph["start"]["dateTime"])
    e = parse_iso(graph["end"]["dateTime"])
    return s < end and e > start


def build_tenant(spec: TenantSpec | None = None) -> Tenant:
    """Generate a tenant from `spec` (defaults when None). Deterministic."""
    # Imported here: the generators build records defined in this module.
    from .directory import populate_directory
    from .enforcement import populate_enforcement
    from .hostile import add_collisions
    from .mailboxes import populate_mailboxes

    tenant = Tenant(spec or TenantSpec())
    populate_directory(tenant)
    populate_enforcement(tenant)
    populate_mailboxes(tenant)
    add_collisions(tenant)
    return tenant
