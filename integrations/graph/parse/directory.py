"""Organization, users, MFA registration and method types, directory roles and members.
Only method type names survive parsing: never phone numbers, device names or secrets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .values import _bool, _dict, _list, _str, parse_datetime

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
