"""The fake tenant's directory: organization, users, directory roles and MFA.

Deterministic: every section draws from its own `random.Random` seeded with
the spec seed and a label, so changing one size does not reshuffle unrelated
data. Nothing here reads the clock: "now" is `spec.anchor`. Mail and calendar
data are in mailboxes.py.
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import timedelta

from .tenant import SHOWCASE_HOSTILE_DOMAIN, RoleRecord, Tenant, UserRecord, address_at, iso_z, stable_hash

HOSTILE_PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
)

TECHNICIANS = (
    ("jane", "Jane", "Whitfield"),
    ("jack", "Jack", "Mercer"),
    ("priya", "Priya", "Raman"),
    ("tomas", "Tomas", "Novak"),
    ("mei", "Mei", "Lindgren"),
    ("omar", "Omar", "Haddad"),
    ("sofia", "Sofia", "Marchetti"),
    ("kwame", "Kwame", "Asante"),
)
MSP_STAFF = (
    ("frontdesk", "Front", "Desk"),
    ("accounts", "Accounts", "Team"),
    ("ops.manager", "Rita", "Okafor"),
    ("sales", "Sam", "Ellery"),
)
FIRST_NAMES = (
    "Alex", "Amira", "Ben", "Carla", "Chen", "Dana", "Elif", "Farid", "Grace", "Hana", "Ivan", "Jonas",
    "Kemi", "Liam", "Maya", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wen", "Yusuf", "Zoe", "Marta", "Noah", "Ines",
)
LAST_NAMES = (
    "Alvarez", "Brennan", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallagher", "Ishikawa", "Jansen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Petrov", "Quintero", "Rahman", "Schneider", "Tanaka",
    "Ueda", "Varga", "Whitaker", "Xu", "Yilmaz", "Zielinski",
)
JOB_TITLES = ("Office Manager", "Finance Director", "Operations Lead", "Sales Executive", "CEO", "IT Contact", "Analyst")
COMPANY_NAMES = {
    "northwind.example": "Northwind Traders",
    "fabrikam.example": "Fabrikam Inc",
    "tailspin.example": "Tailspin Toys",
    "wingtip.example": "Wingtip Toys",
    "adatum.example": "Adatum Corporation",
    "litware.example": "Litware Inc",
    "hostile-mail-test.example": "Hostile Mail Test",
}
GUEST_DOMAINS = ("freelance-mail.example", "partner-consulting.example")

# roleTemplateIds from Microsoft's built-in role list (graph-facts.md).
ROLE_TEMPLATES = {
    "Global Administrator": (
        "62e90394-69f5-4237-9190-012177145e10",
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
    ),
    "Exchange Administrator": ("29232cdf-9323-42fd-ade2-1d097af3e4de", "Can manage all aspects of the Exchange product."),
    "User Administrator": (
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
    ),
    "Helpdesk Administrator": (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Can reset passwords for non-administrators and Helpdesk Administrators.",
    ),
    "Directory Readers": (
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        "Can read basic directory information. Commonly used to grant directory read access to applications and guests.",
    ),
}

# MFA registration profiles: (weight, methodsRegistered, preferred secondary method).
# "email" alone is SSPR only, not MFA; temporaryAccessPass alone is not MFA either.
MFA_PROFILES = (
    (32, ("microsoftAuthenticatorPush", "softwareOneTimePasscode"), "push"),
    (14, ("mobilePhone", "microsoftAuthenticatorPush", "softwareOneTimePasscode"), "push"),
    (9, ("mobilePhone",), "sms"),
    (6, ("fido2", "microsoftAuthenticatorPush"), "push"),
    (5, ("windowsHelloForBusiness", "microsoftAuthenticatorPush", "softwareOneTimePasscode"), "push"),
    (4, ("passKeyDeviceBound",), "none"),
    (3, ("softwareOneTimePasscode",), "oath"),
    (6, ("email",), "none"),
    (2, ("temporaryAccessPass",), "none"),
    (19, (), "none"),
)
NOT_MFA = {"email", "temporaryAccessPass"}
PASSWORDLESS = {"fido2", "windowsHelloForBusiness", "passKeyDeviceBound"}
PHONE_MODELS = ("iPhone 15", "iPhone 13 mini", "Pixel 8", "Galaxy S23", "iPhone SE")
KEY_MODELS = (("YubiKey 5 NFC", "2fc0579f-8113-47ea-b116-555a8db9202a"), ("Feitian ePass", "12ded745-4bed-47d4-abaa-e713f51d6393"))
PASSKEY_AUTHENTICATOR = ("Microsoft Authenticator - iOS", "90a3ccdf-635c-4729-a248-9b709135078f")
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"  # fixed by Microsoft for every user
MOBILE_PHONE_METHOD_ID = "3179e48a-750b-4051-897c-87b9720928f7"  # fixed id of the "mobile" phone method
EMAIL_METHOD_ID = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"



def technician_identities(count: int) -> list[tuple[str, str, str]]:
    out = list(TECHNICIANS[:count])
    for n in range(len(out), count):
        out.append((f"tech{n + 1}", "Tech", f"Number {n + 1}"))
    return out


def rng_for(tenant: Tenant, label: str) -> random.Random:
    return random.Random(f"{tenant.spec.seed}:{label}")


def guid_for(tenant: Tenant, *parts) -> str:
    return str(uuid.UUID(bytes=stable_hash(tenant.spec.seed, *parts)[:16], version=4))


def pick_share(rng: random.Random, count: int, share: float) -> set[int]:
    """Exactly round(count*share) indexes (at least one when share > 0)."""
    if count == 0 or share <= 0:
        return set()
    k = min(count, max(1, round(count * share)))
    return set(rng.sample(range(count), k))


def customer_of(tenant: Tenant, address: str) -> str | None:
    for d in tenant.spec.customer_domains:
        if address_at(address, [d]):
            return d
    return None


def populate_directory(tenant: Tenant) -> None:
    _organization(tenant)
    _users(tenant)
    _roles(tenant)
    _mfa(tenant)


# --------------------------------------------------------------------------- directory


def _organization(tenant: Tenant) -> None:
    spec = tenant.spec

    def domain(name, default=False, initial=False):
        return {
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": default,
            "isInitial": initial,
            "name": name,
            "type": "Managed",
        }

    tenant.organization = {
        "id": spec.tenant_id,
        "deletedDateTime": None,
        "businessPhones": ["+44 20 7946 0000"],
        "city": "London",
        "country": None,
        "countryLetterCode": "GB",
        "createdDateTime": "2021-08-02T10:30:06Z",
        "defaultUsageLocation": "GB",
        "displayName": spec.tenant_name,
        "isMultipleDataLocationsForServicesEnabled": None,
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": None,
        "partnerTenantType": "ResellerPartnerDelegatedAdmin",
        "postalCode": None,
        "preferredLanguage": "en",
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": None,
        "street": None,
        "technicalNotificationMails": [f"it@{spec.msp_domain}"],
        "tenantType": "AAD",
        "directorySizeQuota": {"used": 698, "total": 50000},
        "assignedPlans": [
            {
                "assignedDateTime": "2021-08-02T10:36:57Z",
                "capabilityStatus": "Enabled",
                "service": "exchange",
                "servicePlanId": "113feb6c-3fe4-4440-bddc-54d774bf0318",
            },
            {
                "assignedDateTime": "2022-04-03T02:46:42Z",
                "capabilityStatus": "Enabled",
                "service": "MultiFactorService",
                "servicePlanId": "8a256a2b-b617-496d-b51b-e76466e88db0",
            },
        ],
        "privacyProfile": {"contactEmail": "", "statementUrl": ""},
        "provisionedPlans": [{"capabilityStatus": "Enabled", "provisioningStatus": "Success", "service": "exchange"}],
        # dict.fromkeys: a customer's own tenant lists its default domain among its "customer" domains too.
        "verifiedDomains": [domain(spec.msp_domain, default=True), domain(spec.initial_domain, initial=True)]
        + [domain(d) for d in dict.fromkeys(spec.customer_domains + spec.customer_subdomains) if d != spec.msp_domain],
    }


def _user_graph(tenant: Tenant, *, key, upn, first, last, mail, job, user_type="Member", enabled=True, display=None):
    rng = rng_for(tenant, f"user-props:{key}")
    return {
        "id": guid_for(tenant, "user", key),
        "businessPhones": [f"+1 425 555 {rng.randint(100, 999):04d}"] if user_type == "Member" else [],
        "displayName": display or f"{first} {last}",
        "givenName": first,
        "jobTitle": job,
        "mail": mail,
        "mobilePhone": f"+1 206 555 {rng.randint(1000, 9999)}" if user_type == "Member" and rng.random() < 0.6 else None,
        "officeLocation": None,
        "preferredLanguage": "en-GB",
        "surname": last,
        "userPrincipalName": upn,
        "accountEnabled": enabled,
        "userType": user_type,
        "createdDateTime": iso_z(tenant.spec.anchor - timedelta(days=rng.randint(60, 1500))),
        "usageLocation": "GB",
        "department": None,
        "companyName": None,
        "otherMails": [],
        "onPremisesSyncEnabled": None,
        "externalUserState": "Accepted" if user_type == "Guest" else None,
        "creationType": "Invitation" if user_type == "Guest" else None,
    }


def _users(tenant: Tenant) -> None:
    spec = tenant.spec
    no_mailbox = {u.lower() for u in spec.no_mailbox_upns}
    rng = rng_for(tenant, "users")

    for local, first, last in technician_identities(spec.technicians):
        upn = f"{local}@{spec.msp_domain}"
        graph = _user_graph(tenant, key=upn, upn=upn, first=first, last=last, mail=upn, job="Service Desk Technician")
        graph["companyName"] = spec.tenant_name
        tenant.add_user(UserRecord(graph, "technician", None, upn.lower() not in no_mailbox))
        tenant.technician_upns.append(upn)

    staff = list(MSP_STAFF[: spec.msp_staff])
    # A configured mailbox-less MSP address (the default "frontdesk@") is always present.
    for upn in spec.no_mailbox_upns:
        local, _, domain = upn.partition("@")
        if domain.lower() == spec.msp_domain and tenant.user(upn) is None and all(s[0] != local for s in staff):
            staff.insert(0, (local, local.split(".")[0].title(), "Desk"))
    for local, first, last in staff:
        upn = f"{local}@{spec.msp_domain}"
        if tenant.user(upn):
            continue
        graph = _user_graph(tenant, key=upn, upn=upn, first=first, last=last, mail=upn, job="Operations")
        tenant.add_user(UserRecord(graph, "msp", None, upn.lower() not in no_mailbox))

    hostile_left = 0 if spec.hostile_share <= 0 else max(1, round(spec.users_per_customer * len(spec.customer_domains) * spec.hostile_share))
    for d_index, domain in enumerate(spec.customer_domains):
        subdomains = [s for s in spec.customer_subdomains if s.endswith("." + domain)]
        used = set()
        disabled = pick_share(rng, spec.users_per_customer, spec.disabled_share)
        for i in range(spec.users_per_customer):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{first}.{last}".lower()
            while local in used:
                local = f"{local}{rng.randint(2, 9)}"
            used.add(local)
            host = subdomains[i % len(subdomains)] if subdomains and i % 3 == 2 else domain
            upn = f"{local}@{host}"
            if (d_index + i) % 4 == 1:  # admins type UPNs in any case: matching must not care
                upn = ".".join(p.capitalize() for p in local.split(".")) + "@" + host[0].upper() + host[1:]
            display = None
            if spec.showcase:
                if domain == SHOWCASE_HOSTILE_DOMAIN:
                    display = f"{first} {HOSTILE_PAYLOADS[i % 3]} {last}"
            elif hostile_left and rng.random() < spec.hostile_share * 3:
                display = f"{first} {HOSTILE_PAYLOADS[hostile_left % 3]} {last}"
                hostile_left -= 1
            graph = _user_graph(
                tenant, key=upn.lower(), upn=upn, first=first, last=last, mail=upn,
                job=rng.choice(JOB_TITLES), enabled=i not in disabled, display=display,
            )
            graph["companyName"] = COMPANY_NAMES.get(domain, domain.split(".")[0].title())
            tenant.add_user(UserRecord(graph, "customer", domain, upn.lower() not in no_mailbox))
        tenant.personal_contacts[domain] = [f"{domain.split('.')[0]}.owner@personal-mail.example"]

    # Guests: external people and one customer user invited into this tenant.
    n_members = len(tenant.users)
    n_guests = max(1, round(n_members * spec.guest_share)) if spec.guest_share > 0 else 0
    for g in range(n_guests):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if g == 0 and spec.customer_domains:
            mail = f"{first}.{last}.guest@{spec.customer_domains[0]}".lower()
        else:
            mail = f"{first}.{last}@{GUEST_DOMAINS[g % len(GUEST_DOMAINS)]}".lower()
        upn = f"{mail.replace('@', '_')}#EXT#@{spec.initial_domain}"
        graph = _user_graph(
            tenant, key=upn.lower(), upn=upn, first=first, last=last, mail=mail, job=None,
            user_type="Guest", display=f"{first} {last} (Guest)",
        )
        graph["otherMails"] = [mail]
        tenant.add_user(UserRecord(graph, "guest", customer_of(tenant, mail), False))


def _member_object(user: UserRecord) -> dict:
    g = user.graph
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": g["id"],
        "businessPhones": g["businessPhones"],
        "displayName": g["displayName"],
        "givenName": g["givenName"],
        "jobTitle": g["jobTitle"],
        "mail": g["mail"],
        "mobilePhone": g["mobilePhone"],
        "officeLocation": g["officeLocation"],
        "preferredLanguage": g["preferredLanguage"],
        "surname": g["surname"],
        "userPrincipalName": g["userPrincipalName"],
    }


def _roles(tenant: Tenant) -> None:
    """Activated roles and their members: technicians and customer users (some
    in several roles), a role-assignable group and service principals."""
    techs = [u for u in tenant.users if u.kind == "technician"]
    by_customer: dict[str, list[UserRecord]] = {}
    for u in tenant.users:
        if u.kind == "customer":
            by_customer.setdefault(u.customer_domain, []).append(u)
    firsts = [users[0] for users in by_customer.values() if users]
    seconds = [users[1] for users in by_customer.values() if len(users) > 1]

    group = {
        "@odata.type": "#microsoft.graph.group",
        "id": guid_for(tenant, "group", "tier2"),
        "deletedDateTime": None,
        "description": "Technicians with helpdesk rights in every customer's users",
        "displayName": "MSP Tier 2 Admins",
        "groupTypes": [],
        "isAssignableToRole": True,
        "mail": None,
        "mailEnabled": False,
        "mailNickname": "msp-tier2-admins",
        "securityEnabled": True,
        "visibility": "Private",
    }

    def service_principal(name, key):
        return {
            "@odata.type": "#microsoft.graph.servicePrincipal",
            "id": guid_for(tenant, "sp", key),
            "accountEnabled": True,
            "appDisplayName": name,
            "appId": guid_for(tenant, "app", key),
            "displayName": name,
            "servicePrincipalType": "Application",
        }

    members = {
        "Global Administrator": techs[:2] + firsts[:3],
        "Exchange Administrator": techs[2:3] + firsts[:1] + seconds[1:2],
        "User Administrator": seconds[:3] + firsts[3:4],
        "Helpdesk Administrator": techs[3:4] + seconds[3:5],
        "Directory Readers": firsts[4:6],
    }
    extra = {
        "Exchange Administrator": [service_principal("Mail Migration Tool", "migration")],
        "Helpdesk Administrator": [group],
        "Directory Readers": [service_principal("Backup Connector", "backup")],
    }
    for name, (template_id, description) in ROLE_TEMPLATES.items():
        graph = {
            "id": guid_for(tenant, "role", template_id),
            "deletedDateTime": None,
            "description": description,
            "displayName": name,
            "roleTemplateId": template_id,
        }
        objs = [_member_object(u) for u in members.get(name, [])] + extra.get(name, [])
        tenant.roles.append(RoleRecord(graph, objs))


def _privileged_user_ids(tenant: Tenant) -> list[str]:
    ids = []
    for role in tenant.roles:
        if role.graph["displayName"] == "Directory Readers":
            continue
        for m in role.members:
            if m["@odata.type"] == "#microsoft.graph.user" and m["id"] not in ids:
                ids.append(m["id"])
    return ids


# --------------------------------------------------------------------------- MFA


def _mfa(tenant: Tenant) -> None:
    spec = tenant.spec
    rng = rng_for(tenant, "mfa")
    admin_ids = {m["id"] for r in tenant.roles for m in r.members if m["@odata.type"] == "#microsoft.graph.user"}
    privileged = _privileged_user_ids(tenant)
    # Deterministic cases evidence pages must show: a privileged customer
    # user with nothing registered, and one with email only (not MFA).
    forced = {}
    customer_privileged = [i for i in privileged if tenant.user(i).kind == "customer"]
    if customer_privileged:
        forced[customer_privileged[0]] = ((), "none")
    if len(customer_privileged) > 2:
        forced[customer_privileged[2]] = (("email",), "none")

    registered_weight = sum(w for w, m, _ in MFA_PROFILES if set(m) - NOT_MFA)
    unregistered_weight = sum(w for w, m, _ in MFA_PROFILES if not set(m) - NOT_MFA)
    share = min(max(spec.mfa_registered_share, 0.0), 1.0)

    def weight(profile):
        w, methods, _ = profile
        is_mfa = bool(set(methods) - NOT_MFA)
        scale = share / registered_weight if is_mfa else (1 - share) / unregistered_weight
        return w * scale

    weights = [weight(p) for p in MFA_PROFILES]
    for user in tenant.users:
        if user.id in forced:
            methods, preferred = forced[user.id]
        elif user.kind == "guest":
            methods, preferred = (), "none"  # guests do MFA in their home tenant
        elif user.kind == "technician":
            methods, preferred = MFA_PROFILES[0][1], "push"  # the MSP's own staff are enrolled
        else:
            _, methods, preferred = rng.choices(MFA_PROFILES, weights=weights)[0]
        tenant.registration_details[user.id] = _registration(tenant, user, methods, preferred, user.id in admin_ids)
        tenant.auth_methods[user.id] = _methods(tenant, user, methods, rng)


def _registration(tenant, user: UserRecord, methods, preferred, is_admin) -> dict:
    mfa = bool(set(methods) - NOT_MFA)
    sspr_methods = set(methods) & {"mobilePhone", "email", "microsoftAuthenticatorPush", "softwareOneTimePasscode"}
    member = user.graph["userType"] == "Member"
    system_preferred = []
    if "fido2" in methods or "passKeyDeviceBound" in methods:
        system_preferred = ["Fido2"]
    elif "microsoftAuthenticatorPush" in methods:
        system_preferred = ["push"]
    elif "softwareOneTimePasscode" in methods:
        system_preferred = ["oath"]
    elif "mobilePhone" in methods:
        system_preferred = ["sms"]
    rng = rng_for(tenant, f"reg:{user.id}")
    return {
        "id": user.id,
        "userPrincipalName": user.upn,
        "userDisplayName": user.graph["displayName"],
        "isAdmin": is_admin,
        "isSsprRegistered": bool(sspr_methods),
        "isSsprEnabled": member,
        "isSsprCapable": member and bool(sspr_methods) and user.graph["accountEnabled"],
        "isMfaRegistered": mfa,
        "isMfaCapable": mfa and user.graph["accountEnabled"],
        "isPasswordlessCapable": bool(set(methods) & PASSWORDLESS),
        "lastUpdatedDateTime": iso_z(tenant.spec.anchor - timedelta(hours=rng.randint(1, 72))).replace("Z", ".0000000Z"),
        "methodsRegistered": list(methods),
        "isSystemPreferredAuthenticationMethodEnabled": True,
        "systemPreferredAuthenticationMethods": system_preferred,
        "userPreferredMethodForSecondaryAuthentication": preferred,
        "userType": "member" if member else "guest",
    }


def _methods(tenant: Tenant, user: UserRecord, methods, rng: random.Random) -> list[dict]:
    """The per-user method objects, consistent with methodsRegistered. They carry
    device names and phone numbers as Microsoft returns them, which the app must
    NOT store (only the @odata.type)."""
    created = lambda days: iso_z(tenant.spec.anchor - timedelta(days=days))  # noqa: E731
    out = [
        {
            "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
            "id": PASSWORD_METHOD_ID,
            "password": None,
            "createdDateTime": created(rng.randint(30, 400)),
        }
    ]
    phone_suffix = int.from_bytes(stable_hash(tenant.spec.seed, "phone", user.id)[:2], "big") % 9000 + 1000
    for method in methods:
        mid = guid_for(tenant, "method", user.id, method)
        if method == "microsoftAuthenticatorPush":
            out.append(
                {
                    "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                    "id": mid,
                    "displayName": rng.choice(PHONE_MODELS),
                    "deviceTag": "SoftwareTokenActivated",
                    "phoneAppVersion": f"6.{rng.randint(2300, 2412)}.{rng.randint(1000, 9999)}",
                    "createdDateTime": created(rng.randint(10, 300)),
                }
            )
        elif method == "softwareOneTimePasscode" and "microsoftAuthenticatorPush" not in methods:
            out.append({"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": mid})
        elif method == "mobilePhone":
            out.append(
                {
                    "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
                    "id": MOBILE_PHONE_METHOD_ID,
                    "phoneNumber": f"+1 206555{phone_suffix}",
                    "phoneType": "mobile",
                    "smsSignInState": "notAllowedByPolicy",
                }
            )
        elif method == "email":
            out.append(
                {
                    "@odata.type": "#microsoft.graph.emailAuthenticationMethod",
                    "id": EMAIL_METHOD_ID,
                    "emailAddress": f"{user.graph['givenName'].lower()}.recovery@personal-mail.example",
                }
            )
        elif method in ("fido2", "passKeyDeviceBound"):
            model, aaguid = PASSKEY_AUTHENTICATOR if method == "passKeyDeviceBound" else rng.choice(KEY_MODELS)
            out.append(
                {
                    "@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
                    "id": base64.urlsafe_b64encode(stable_hash("fido", user.id, method)[:16]).decode().rstrip("="),
                    "displayName": f"{user.graph['givenName']}'s {model.split(' - ')[0]}",
                    "createdDateTime": created(rng.randint(10, 300)),
                    "aaGuid": aaguid,
                    "model": model,
                    "attestationCertificates": [stable_hash("att", user.id).hex()[:40]],
                    "attestationLevel": "attested",
                }
            )
        elif method == "windowsHelloForBusiness":
            out.append(
                {
                    "@odata.type": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
                    "id": mid,
                    "displayName": f"DESKTOP-{stable_hash('pc', user.id).hex()[:7].upper()}",
                    "createdDateTime": created(rng.randint(10, 300)),
                    "keyStrength": "normal",
                }
            )
        elif method == "temporaryAccessPass":
            out.append(
                {
                    "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
                    "id": mid,
                    "createdDateTime": created(1),
                    "startDateTime": created(1),
                    "lifetimeInMinutes": 60,
                    "isUsableOnce": True,
                    "isUsable": False,
                    "methodUsabilityReason": "Expired",
                }
            )
    return out
