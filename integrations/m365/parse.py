"""Pure functions that turn Graph JSON into plain records.

Graph JSON is treated as hostile: any field may be missing, null, of the
wrong type or a placeholder (Microsoft's own samples hold "datetime-value" and
"isRead": "true"). Nothing here raises on bad input; a bad field becomes None
and an item without an id is dropped by the page helpers. Records carry only
what Vectis keeps: never message or event bodies (except message_body(),
which the on-demand body view calls), never phone numbers, device names or
secrets of authentication methods.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# ---------------------------------------------------------------- primitives


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 -> aware UTC datetime; naive values are taken as UTC (Graph's
    own timestamps are UTC). Placeholders and garbage give None."""
    parsed = _fromiso(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _fromiso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    # Graph sends seven fractional digits ("17:00:00.0000000"); trim to the
    # six Python's datetime holds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# Windows zone names Graph may use when outlook.timezone was not honoured.
# Vectis asks for UTC on every calendar call, so this is a fallback only.
_WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "central europe standard time": "Europe/Budapest",
    "e. europe standard time": "Europe/Chisinau",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "us mountain standard time": "America/Phoenix",
    "pacific standard time": "America/Los_Angeles",
    "alaskan standard time": "America/Anchorage",
    "hawaiian standard time": "Pacific/Honolulu",
    "atlantic standard time": "America/Halifax",
    "aus eastern standard time": "Australia/Sydney",
    "india standard time": "Asia/Kolkata",
    "tokyo standard time": "Asia/Tokyo",
    "china standard time": "Asia/Shanghai",
    "singapore standard time": "Asia/Singapore",
}


def parse_graph_datetime(value: Any) -> datetime | None:
    """{"dateTime": ..., "timeZone": ...} -> aware UTC datetime, or None when
    the value or its zone cannot be read (never a guessed time)."""
    obj = _dict(value)
    parsed = _fromiso(obj.get("dateTime"))
    zone = _zone(_str(obj.get("timeZone")) or "UTC")
    if parsed is None or zone is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(timezone.utc)


def _zone(name: str):
    iana = _WINDOWS_ZONES.get(name.strip().lower(), name.strip())
    if iana == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# ---------------------------------------------------------------- addresses


@dataclass(frozen=True)
class Address:
    address: str | None  # lowercased
    name: str | None


def parse_address(value: Any) -> Address | None:
    """{"emailAddress": {"name", "address"}} (or the inner object) -> Address."""
    obj = _dict(value)
    inner = _dict(obj.get("emailAddress")) if "emailAddress" in obj else obj
    address = _str(inner.get("address"))
    name = _str(inner.get("name"))
    if address is None and name is None:
        return None
    return Address(address=address.strip().lower() if address else None, name=name)


def _addresses(value: Any) -> list[Address]:
    return [a for a in (parse_address(item) for item in _list(value)) if a is not None]


# ---------------------------------------------------------------- mail


@dataclass(frozen=True)
class MessageRecord:
    id: str
    internet_message_id: str | None
    conversation_id: str | None
    subject: str | None
    body_preview: str | None
    from_: Address | None
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    received_at: datetime | None
    sent_at: datetime | None
    is_draft: bool | None
    is_read: bool | None
    web_link: str | None
    parent_folder_id: str | None

    def participants(self) -> set[str]:
        """Every lowercased address on the message (from, sender, to, cc, bcc)."""
        people = [self.from_, self.sender, *self.to, *self.cc, *self.bcc]
        return {p.address for p in people if p is not None and p.address}


@dataclass(frozen=True)
class RemovedRecord:
    id: str
    reason: str | None  # "deleted" or "changed" (moved out of the folder)


def parse_message(value: Any) -> MessageRecord | None:
    obj = _dict(value)
    message_id = _str(obj.get("id"))
    if message_id is None:
        return None
    return MessageRecord(
        id=message_id,
        internet_message_id=_str(obj.get("internetMessageId")),
        conversation_id=_str(obj.get("conversationId")),
        subject=_str(obj.get("subject")),
        body_preview=_str(obj.get("bodyPreview")),
        from_=parse_address(obj.get("from")),
        sender=parse_address(obj.get("sender")),
        to=_addresses(obj.get("toRecipients")),
        cc=_addresses(obj.get("ccRecipients")),
        bcc=_addresses(obj.get("bccRecipients")),
        received_at=parse_datetime(obj.get("receivedDateTime")),
        sent_at=parse_datetime(obj.get("sentDateTime")),
        is_draft=_bool(obj.get("isDraft")),
        is_read=_bool(obj.get("isRead")),
        web_link=_str(obj.get("webLink")),
        parent_folder_id=_str(obj.get("parentFolderId")),
    )


def parse_removed(value: Any) -> RemovedRecord | None:
    obj = _dict(value)
    item_id = _str(obj.get("id"))
    if item_id is None or "@removed" not in obj:
        return None
    return RemovedRecord(id=item_id, reason=_str(_dict(obj.get("@removed")).get("reason")))


@dataclass
class DeltaPage:
    changed: list = field(default_factory=list)  # MessageRecord or EventRecord
    removed: list[RemovedRecord] = field(default_factory=list)
    skipped: int = 0  # items without a usable id


def message_page(items: Any) -> DeltaPage:
    """One page of message delta items -> changed messages and removals."""
    return _page(items, parse_message)


@dataclass(frozen=True)
class MessageBody:
    content_type: str  # "html" or "text"
    content: str


def parse_message_body(value: Any) -> MessageBody | None:
    """{"body": {"contentType", "content"}} -> MessageBody (untrusted HTML)."""
    body = _dict(_dict(value).get("body"))
    content = body.get("content")
    if not isinstance(content, str):
        return None
    content_type = (_str(body.get("contentType")) or "text").lower()
    return MessageBody(content_type="html" if content_type == "html" else "text", content=content)


# ---------------------------------------------------------------- calendar


@dataclass(frozen=True)
class Attendee:
    address: str | None
    name: str | None
    type: str | None  # required / optional / resource
    response: str | None  # none / accepted / declined / tentativelyAccepted / ...


@dataclass(frozen=True)
class EventRecord:
    id: str
    ical_uid: str | None
    subject: str | None
    body_preview: str | None
    start: datetime | None
    end: datetime | None
    is_all_day: bool | None
    is_cancelled: bool | None
    organizer: Address | None
    attendees: list[Attendee]
    location: str | None
    is_online_meeting: bool | None
    join_url: str | None
    web_link: str | None
    type: str | None  # singleInstance / occurrence / exception / seriesMaster
    series_master_id: str | None

    def participants(self) -> set[str]:
        people = [a.address for a in self.attendees]
        if self.organizer is not None:
            people.append(self.organizer.address)
        return {p for p in people if p}


def parse_event(value: Any) -> EventRecord | None:
    obj = _dict(value)
    event_id = _str(obj.get("id"))
    if event_id is None:
        return None
    attendees = []
    for item in _list(obj.get("attendees")):
        item = _dict(item)
        address = parse_address(item.get("emailAddress"))
        attendees.append(
            Attendee(
                address=address.address if address else None,
                name=address.name if address else None,
                type=_str(item.get("type")),
                response=_str(_dict(item.get("status")).get("response")),
            )
        )
    return EventRecord(
        id=event_id,
        ical_uid=_str(obj.get("iCalUId")),
        subject=_str(obj.get("subject")),
        body_preview=_str(obj.get("bodyPreview")),
        start=parse_graph_datetime(obj.get("start")),
        end=parse_graph_datetime(obj.get("end")),
        is_all_day=_bool(obj.get("isAllDay")),
        is_cancelled=_bool(obj.get("isCancelled")),
        organizer=parse_address(obj.get("organizer")),
        attendees=attendees,
        location=_str(_dict(obj.get("location")).get("displayName")),
        is_online_meeting=_bool(obj.get("isOnlineMeeting")),
        join_url=_str(_dict(obj.get("onlineMeeting")).get("joinUrl")),
        web_link=_str(obj.get("webLink")),
        type=_str(obj.get("type")),
        series_master_id=_str(obj.get("seriesMasterId")),
    )


def event_page(items: Any) -> DeltaPage:
    return _page(items, parse_event)


def _page(items: Any, parse_one) -> DeltaPage:
    page = DeltaPage()
    for item in _list(items):
        removed = parse_removed(item)
        if removed is not None:
            page.removed.append(removed)
            continue
        record = parse_one(item)
        if record is None:
            page.skipped += 1
        else:
            page.changed.append(record)
    return page


# ---------------------------------------------------------------- directory


@dataclass(frozen=True)
class Organization:
    id: str | None
    display_name: str | None
    verified_domains: list[str]  # lowercased
    default_domain: str | None


def parse_organization(value: Any) -> Organization | None:
    """GET /organization (a collection) or one organization entity."""
    obj = _dict(value)
    if "value" in obj:
        orgs = [o for o in _list(obj.get("value")) if isinstance(o, dict)]
        obj = orgs[0] if orgs else {}
    if not obj:
        return None
    domains, default = [], None
    for item in _list(obj.get("verifiedDomains")):
        item = _dict(item)
        name = _str(item.get("name"))
        if name is None:
            continue
        domains.append(name.lower())
        if _bool(item.get("isDefault")):
            default = name.lower()
    return Organization(
        id=_str(obj.get("id")),
        display_name=_str(obj.get("displayName")),
        verified_domains=domains,
        default_domain=default,
    )


@dataclass(frozen=True)
class UserRecord:
    id: str | None
    user_principal_name: str | None  # lowercased
    display_name: str | None
    mail: str | None  # lowercased
    account_enabled: bool | None
    user_type: str | None  # Member / Guest


def parse_user(value: Any) -> UserRecord | None:
    """A user object (mailbox lookup or /users page item); never phones etc."""
    obj = _dict(value)
    if not obj:
        return None
    upn = _str(obj.get("userPrincipalName"))
    mail = _str(obj.get("mail"))
    return UserRecord(
        id=_str(obj.get("id")),
        user_principal_name=upn.lower() if upn else None,
        display_name=_str(obj.get("displayName")),
        mail=mail.lower() if mail else None,
        account_enabled=_bool(obj.get("accountEnabled")),
        user_type=_str(obj.get("userType")),
    )


def users_page(items: Any) -> list[UserRecord]:
    return [u for u in (parse_user(i) for i in _list(items)) if u is not None and u.id]


# ---------------------------------------------------------------- MFA


_METHOD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class RegistrationRecord:
    """One row of userRegistrationDetails: method type strings and flags only."""

    id: str
    user_principal_name: str | None  # lowercased
    display_name: str | None
    user_type: str | None  # member / guest
    is_admin: bool | None
    is_mfa_registered: bool | None
    is_mfa_capable: bool | None
    is_passwordless_capable: bool | None
    is_sspr_registered: bool | None
    is_sspr_enabled: bool | None
    is_sspr_capable: bool | None
    methods_registered: list[str]
    preferred_secondary_method: str | None
    last_updated: datetime | None


def _method_names(value: Any) -> list[str]:
    # Only identifier-shaped strings survive: a phone number, a device name or
    # anything else that is not a method type name is dropped.
    names = []
    for item in _list(value):
        if isinstance(item, str) and _METHOD_NAME.match(item) and item not in names:
            names.append(item)
    return names


def parse_registration(value: Any) -> RegistrationRecord | None:
    obj = _dict(value)
    user_id = _str(obj.get("id"))
    if user_id is None:
        return None
    upn = _str(obj.get("userPrincipalName"))
    preferred = _method_names([obj.get("userPreferredMethodForSecondaryAuthentication")])
    return RegistrationRecord(
        id=user_id,
        user_principal_name=upn.lower() if upn else None,
        display_name=_str(obj.get("userDisplayName")),
        user_type=_str(obj.get("userType")),
        is_admin=_bool(obj.get("isAdmin")),
        is_mfa_registered=_bool(obj.get("isMfaRegistered")),
        is_mfa_capable=_bool(obj.get("isMfaCapable")),
        is_passwordless_capable=_bool(obj.get("isPasswordlessCapable")),
        is_sspr_registered=_bool(obj.get("isSsprRegistered")),
        is_sspr_enabled=_bool(obj.get("isSsprEnabled")),
        is_sspr_capable=_bool(obj.get("isSsprCapable")),
        methods_registered=_method_names(obj.get("methodsRegistered")),
        preferred_secondary_method=preferred[0] if preferred else None,
        last_updated=parse_datetime(obj.get("lastUpdatedDateTime")),
    )


def registration_page(items: Any) -> list[RegistrationRecord]:
    return [r for r in (parse_registration(i) for i in _list(items)) if r is not None]


# Method types (from @odata.type) that count as a second factor. Password and
# email are sign-in/recovery methods, not MFA.
MFA_METHOD_TYPES = frozenset(
    {
        "microsoftAuthenticator",
        "fido2",
        "phone",
        "softwareOath",
        "windowsHelloForBusiness",
        "temporaryAccessPass",
        "platformCredential",
        "x509Certificate",
        "hardwareOath",
        "passkey",
    }
)

_METHOD_TYPE = re.compile(r"^#?microsoft\.graph\.([A-Za-z0-9]+)AuthenticationMethod$")


def auth_method_type(value: Any) -> str | None:
    """{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", ...} -> "fido2"."""
    odata_type = _str(_dict(value).get("@odata.type"))
    match = _METHOD_TYPE.match(odata_type.strip()) if odata_type else None
    return match.group(1) if match else None


def auth_method_types(items: Any) -> list[str]:
    """Method objects (or a {"value": [...]} page) -> distinct type names.
    Everything but the type (ids, display names, phone numbers, keys) is dropped."""
    if isinstance(items, dict):
        items = items.get("value")
    types = []
    for item in _list(items):
        name = auth_method_type(item)
        if name and name not in types:
            types.append(name)
    return types


def has_mfa_method(types: list[str]) -> bool:
    return any(t in MFA_METHOD_TYPES for t in types)


# ---------------------------------------------------------------- roles


@dataclass(frozen=True)
class DirectoryRole:
    id: str
    display_name: str | None
    role_template_id: str | None


def parse_directory_role(value: Any) -> DirectoryRole | None:
    obj = _dict(value)
    role_id = _str(obj.get("id"))
    if role_id is None:
        return None
    return DirectoryRole(
        id=role_id,
        display_name=_str(obj.get("displayName")),
        role_template_id=_str(obj.get("roleTemplateId")),
    )


def directory_roles_page(items: Any) -> list[DirectoryRole]:
    return [r for r in (parse_directory_role(i) for i in _list(items)) if r is not None]


_MEMBER_KINDS = {
    "#microsoft.graph.user": "user",
    "#microsoft.graph.group": "group",
    "#microsoft.graph.serviceprincipal": "servicePrincipal",
}


@dataclass(frozen=True)
class RoleMember:
    id: str | None
    kind: str  # user / group / servicePrincipal / other / unknown (no @odata.type)
    display_name: str | None
    user_principal_name: str | None  # lowercased; users only

    @property
    def is_user(self) -> bool:
        return self.kind == "user"


def parse_role_member(value: Any) -> RoleMember | None:
    obj = _dict(value)
    if not obj:
        return None
    odata_type = _str(obj.get("@odata.type"))
    # Only @odata.type decides the kind: a member without it (Microsoft's own
    # sample) is "unknown" and is never counted as a user.
    kind = _MEMBER_KINDS.get(odata_type.lower(), "other") if odata_type else "unknown"
    upn = _str(obj.get("userPrincipalName")) if kind == "user" else None
    return RoleMember(
        id=_str(obj.get("id")),
        kind=kind,
        display_name=_str(obj.get("displayName")),
        user_principal_name=upn.lower() if upn else None,
    )


def role_members_page(items: Any) -> list[RoleMember]:
    return [m for m in (parse_role_member(i) for i in _list(items)) if m is not None]


# ---------------------------------------------------------------- batch and errors


@dataclass(frozen=True)
class BatchItem:
    id: str
    status: int | None
    headers: dict  # header names lowercased
    body: Any


def parse_batch(value: Any) -> dict[str, BatchItem]:
    """POST /$batch answer -> {request id: BatchItem}, in any order Graph sends."""
    items = {}
    for item in _list(_dict(value).get("responses")):
        item = _dict(item)
        item_id = item.get("id")
        if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
            continue
        status = item.get("status")
        headers = {
            str(k).lower(): v for k, v in _dict(item.get("headers")).items() if isinstance(v, (str, int, float))
        }
        items[str(item_id)] = BatchItem(
            id=str(item_id),
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            headers=headers,
            body=item.get("body"),
        )
    return items


@dataclass(frozen=True)
class ErrorBody:
    code: str | None
    message: str | None
    request_id: str | None
    client_request_id: str | None
    date: str | None


def parse_error(value: Any) -> ErrorBody:
    """{"error": {"code", "message", "innerError": {...}}} -> ErrorBody.
    Accepts both "request-id" and the older "requestId" spelling."""
    error = _dict(_dict(value).get("error"))
    inner = _dict(error.get("innerError")) or _dict(error.get("innererror"))
    return ErrorBody(
        code=_str(error.get("code")),
        message=_str(error.get("message")),
        request_id=_str(inner.get("request-id")) or _str(inner.get("requestId")),
        client_request_id=_str(inner.get("client-request-id")) or _str(inner.get("clientRequestId")),
        date=_str(inner.get("date")),
    )


# ---------------------------------------------------------------- headers and tokens


def parse_retry_after(value: Any) -> float | None:
    """Retry-After in seconds: Graph sends fractions ("2.128"); HTTP also
    allows a date. Garbage gives None (the caller then backs off itself)."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


def token_roles(access_token: Any) -> frozenset[str] | None:
    """The "roles" claim of an access token (the application permissions
    granted with admin consent). The JWT payload is read without a signature
    check: it only tells which permissions are missing. None when unreadable."""
    try:
        payload = access_token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (AttributeError, IndexError, ValueError, UnicodeError):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    if roles is None and isinstance(claims, dict):
        return frozenset()  # a readable token without roles: nothing granted
    if not isinstance(roles, list):
        return None
    return frozenset(r for r in roles if isinstance(r, str))
