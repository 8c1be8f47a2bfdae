"""The demo's tenant shows visitors no attack strings or body sentinels, except
at the one clearly named test customer, where every item carries an attack."""

import json

from graphsim import SENTINEL_PREFIX, SHOWCASE_HOSTILE_DOMAIN, TenantSpec, address_at, build_tenant
from graphsim.directory import HOSTILE_PAYLOADS

DOMAINS = (*TenantSpec().customer_domains, SHOWCASE_HOSTILE_DOMAIN)


def _attack_in(text):
    return any(payload in text for payload in HOSTILE_PAYLOADS)


def test_showcase_keeps_attacks_at_the_hostile_customer_and_bodies_clean():
    tenant = build_tenant(TenantSpec(showcase=True, customer_domains=DOMAINS))
    for user in tenant.users:
        if _attack_in(user.graph["displayName"]):
            assert user.customer_domain == SHOWCASE_HOSTILE_DOMAIN, user.graph["displayName"]
    attacked = 0
    for item in tenant.all_messages() + tenant.all_events():
        visible = json.dumps(item.graph) + item.body["content"]
        assert SENTINEL_PREFIX not in item.body["content"]
        at_hostile = any(address_at(a, [SHOWCASE_HOSTILE_DOMAIN]) for a in item.participants())
        if not at_hostile:
            assert not _attack_in(visible), item.graph.get("subject")
        attacked += _attack_in(item.graph.get("subject") or "")
    assert attacked > 0  # the test customer really carries them
    assert any(_attack_in(u.graph["displayName"]) for u in tenant.users)


def test_the_test_tenant_keeps_attacks_everywhere_and_sentinels_in_bodies():
    tenant = build_tenant(TenantSpec())
    assert all(SENTINEL_PREFIX in m.body["content"] for m in tenant.all_messages())
    assert any(_attack_in(m.graph["subject"]) for m in tenant.all_messages())
