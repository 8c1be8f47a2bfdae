"""Simulator: tenant data."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from graphsim import (
    SENTINEL_PREFIX,
    address_at,
    build_tenant,
)

from .kit import (
    ANCHOR,
    EXCHANGE_ADMIN,
    GLOBAL_ADMIN,
    JANE,
    SPEC,
)


def test_same_spec_same_tenant_and_seed_matters():
    assert build_tenant(SPEC).snapshot() == build_tenant(SPEC).snapshot()
    other = build_tenant(replace(SPEC, seed=2)).snapshot()
    assert other["mail"] != build_tenant(SPEC).snapshot()["mail"]


def test_directory_has_the_cases_the_app_must_handle():
    t = build_tenant(SPEC)
    upns = [u.upn for u in t.users]
    assert t.technician_upns == [JANE, "jack@contoso-msp.example", "priya@contoso-msp.example", "tomas@contoso-msp.example"]
    assert any(u != u.lower() for u in upns), "some UPNs in mixed case"
    assert any(u.lower().endswith("@eu.fabrikam.example") for u in upns), "users at a customer subdomain"
    guests = [u for u in t.users if u.graph["userType"] == "Guest"]
    assert guests and all("#EXT#@" in g.upn for g in guests)
    assert any(not u.graph["accountEnabled"] for u in t.users), "disabled accounts"
    frontdesk = t.user("FRONTDESK@contoso-msp.example")
    assert frontdesk is not None and not frontdesk.has_mailbox
    assert any("<script>" in u.graph["displayName"] or "onerror" in u.graph["displayName"] or "javascript:" in u.graph["displayName"] for u in t.users)
    org = t.organization
    assert org["displayName"] == "Contoso MSP Ltd"
    assert {"contoso-msp.example", "northwind.example", "eu.fabrikam.example"} <= {d["name"] for d in org["verifiedDomains"]}


def test_mail_data_cases():
    t = build_tenant(SPEC)
    msgs = t.all_messages()
    assert 4 * 60 <= len(msgs) <= 4 * 60 * 1.5
    received = [datetime.fromisoformat(m.graph["receivedDateTime"].replace("Z", "+00:00")) for m in msgs]
    assert min(received) < ANCHOR - timedelta(days=14) < max(received), "some mail older than 14 days"
    assert max(received) <= ANCHOR and min(received) >= ANCHOR - timedelta(days=20)
    # One message, two technician mailboxes: different ids, same internetMessageId.
    by_imid = {}
    for m in msgs:
        by_imid.setdefault(m.graph["internetMessageId"], []).append(m)
    dupes = [v for v in by_imid.values() if len({m.mailbox_upn for m in v}) > 1]
    assert dupes and all(len({m.id for m in v}) == len(v) for v in dupes)
    # Sentinels: in the body only, never in preview or subject, one per message.
    for m in msgs:
        assert m.sentinel and m.sentinel in m.body["content"]
        assert SENTINEL_PREFIX not in json.dumps(m.graph)
        assert len(m.graph["bodyPreview"]) <= 255
    # One sentinel per message: copies of one share it; a reused Message-ID from another sender has its own.
    messages = {(m.graph["internetMessageId"], m.graph["from"]["emailAddress"]["address"]) for m in msgs}
    assert len(t.body_sentinels()) == len(messages) + len({e.sentinel for e in t.all_events(include_masters=True)})
    senders = {m.graph["from"]["emailAddress"]["address"].lower() for m in msgs}
    assert any(a.endswith("@eu.fabrikam.example") for a in senders), "mail sent from a customer subdomain"
    assert any("<script>alert(1)</script>" in m.graph["subject"] for m in msgs)
    assert any("<" in m.graph["from"]["emailAddress"]["name"] for m in msgs)
    off_customer = [m for m in msgs if not any(address_at(a, SPEC.customer_domains) for a in m.participants())]
    assert 0.15 < len(off_customer) / len(msgs) < 0.45
    near_misses = {a for m in off_customer for a in m.participants()}
    assert "billing@fabrikam.example.invoices.example" in near_misses or "ana.brooks@notnorthwind.example" in near_misses


def test_event_data_cases():
    t = build_tenant(SPEC)
    events = t.all_events()
    starts = [datetime.fromisoformat(e.graph["start"]["dateTime"][:19]).replace(tzinfo=timezone.utc) for e in events]
    assert min(starts) < ANCHOR < max(starts)
    assert min(starts) >= ANCHOR - timedelta(days=11) and max(starts) <= ANCHOR + timedelta(days=21)
    assert any(e.graph["isCancelled"] for e in events)
    assert any(e.graph["isAllDay"] for e in events)
    assert any(e.graph["isOnlineMeeting"] and e.graph["onlineMeeting"]["joinUrl"].startswith("https://") for e in events)
    occurrences = [e for e in events if e.graph["type"] in ("occurrence", "exception")]
    assert occurrences and all(e.graph["seriesMasterId"] for e in occurrences)
    customer = t.events_touching(SPEC.customer_domains)
    assert customer and len(customer) < len(events), "some internal-only events"
    assert all(e.sentinel in e.body["content"] and SENTINEL_PREFIX not in json.dumps(e.graph) for e in events)
    # A contact on a personal address counts only when named.
    contact = t.personal_contacts["northwind.example"][0]
    with_contact = t.events_touching(["nothing.example"], contact_emails=[contact.upper()])
    assert all(contact in [a.lower() for a in e.participants()] for e in with_contact)


def test_mfa_and_roles_data():
    t = build_tenant(SPEC)
    members = [u for u in t.users if u.kind == "customer"]
    registered = sum(t.registration_details[u.id]["isMfaRegistered"] for u in members)
    assert 0.6 <= registered / len(members) <= 0.9
    methods_seen = {m for r in t.registration_details.values() for m in r["methodsRegistered"]}
    assert {"mobilePhone", "email", "microsoftAuthenticatorPush"} <= methods_seen
    assert methods_seen & {"fido2", "windowsHelloForBusiness", "passKeyDeviceBound"}
    for user in t.users:
        types = [m["@odata.type"] for m in t.auth_methods[user.id]]
        assert "#microsoft.graph.passwordAuthenticationMethod" in types
        reg = t.registration_details[user.id]
        if "mobilePhone" in reg["methodsRegistered"]:
            phone = next(m for m in t.auth_methods[user.id] if m["@odata.type"].endswith("phoneAuthenticationMethod"))
            assert phone["phoneNumber"].startswith("+1 ")
        if "microsoftAuthenticatorPush" in reg["methodsRegistered"]:
            assert any(m.get("displayName") for m in t.auth_methods[user.id] if "Authenticator" in m["@odata.type"])
    roles = {r.graph["roleTemplateId"]: r for r in t.roles}
    assert GLOBAL_ADMIN in roles and EXCHANGE_ADMIN in roles and "88d8e3e3-8f55-4a1e-953a-9b9898b8876b" in roles
    member_types = {m["@odata.type"] for r in t.roles for m in r.members}
    assert member_types == {"#microsoft.graph.user", "#microsoft.graph.group", "#microsoft.graph.servicePrincipal"}
    user_ids = [m["id"] for r in t.roles for m in r.members if m["@odata.type"] == "#microsoft.graph.user"]
    assert len(user_ids) > len(set(user_ids)), "someone holds several roles"
    privileged = {m["id"] for r in t.roles if r.graph["displayName"] != "Directory Readers" for m in r.members if "user" in m["@odata.type"]}
    assert any(not t.registration_details[i]["isMfaRegistered"] for i in privileged), "a privileged user without MFA"
    assert any(t.user(i).kind == "customer" for i in privileged), "customers' users are privileged too"


def test_ground_truth_matches_subdomains_case_and_not_near_misses():
    t = build_tenant(SPEC)
    fabrikam = t.messages_touching(["Fabrikam.EXAMPLE"])
    assert fabrikam
    for m in fabrikam:
        assert any(a.lower().rsplit("@", 1)[1] in ("fabrikam.example", "eu.fabrikam.example") for a in m.participants())
    assert not any("invoices.example" in a for m in fabrikam for a in m.participants() if "fabrikam" not in a.split("@")[1][:9])
    assert address_at("x@eu.fabrikam.example", ["fabrikam.example"])
    assert address_at("X@FABRIKAM.Example", ["fabrikam.example"])
    assert not address_at("x@notfabrikam.example", ["fabrikam.example"])
    assert not address_at("x@fabrikam.example.invoices.example", ["fabrikam.example"])
    recent = t.messages_touching(SPEC.customer_domains, mailboxes=[JANE], since=ANCHOR - timedelta(days=14))
    assert recent and all(m.mailbox_upn == JANE for m in recent)
