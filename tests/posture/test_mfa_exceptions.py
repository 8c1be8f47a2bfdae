"""Documented MFA exceptions: recorded by an admin (audited), applied to the
next snapshot without leaving any denominator, shown on the pages and listed
in the pack; an expired exception stops applying and is flagged."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from compliance.controls import SOC2
from compliance.packs import build_pack, pack_source
from integrations.posture.posture_sync import posture_sync
from security.models import DirectoryUser, MfaException, PostureSnapshot
from tests.compliance.test_compliance_packs import csv_rows
from tests.posture.test_enforcement_sync import client_for, start
from tests.posture.test_posture_sync import add_customers


@pytest.fixture
def synced(db):
    running = start()
    add_customers(running.simulator.tenant)
    posture_sync(client=client_for(running))
    yield running
    running.stop()


def resync(running):
    posture_sync(client=client_for(running))


def form_data(directory_user, **overrides):
    data = {"user": directory_user.graph_id, "kind": "break_glass", "reason": "Emergency access if Entra MFA fails",
            "owner": "Rita Okafor", "approver": "Sam Ellery (CISO)",
            "expires_on": (timezone.localdate() + timedelta(days=90)).isoformat(),
            "compensating_control": "Sealed credentials; sign-in alert to the SOC"}
    return {**data, **overrides}


def target_user(running):
    return DirectoryUser.objects.get(graph_id=running.simulator.tenant.enforcement_cases["report_only"])


@pytest.mark.django_db(transaction=True)
def test_admin_records_an_exception_it_is_audited_and_applied_on_the_next_sync(synced, admin_client):
    user = target_user(synced)
    url = f"/security/customers/{user.customer_id}/exceptions/"
    before = PostureSnapshot.objects.get(customer=user.customer).metrics
    response = admin_client.post(url, form_data(user))
    assert response.status_code == 302
    exception = MfaException.objects.get()
    event = AuditEvent.objects.get(action="mfa_exception.create")
    assert event.details["approver"] == "Sam Ellery (CISO)" and event.customer_id == user.customer_id
    resync(synced)
    snapshot = PostureSnapshot.objects.get(customer=user.customer)
    m = snapshot.metrics
    row = next(r for r in snapshot.users if r["graph_id"] == user.graph_id)
    assert row["exception"]["id"] == exception.pk and row["protected"] is False  # still not protected
    assert m["enforcement_denominator"] == before["enforcement_denominator"]  # never dropped
    assert (m["protected"], m["protected_with_exceptions"]) == (before["protected"], before["protected"] + 1)
    assert m["exceptions_in_force"] == 1
    hub = admin_client.get(f"/customers/{user.customer_id}/").content.decode()
    assert "Documented exceptions: 1 in force" in hub and "Exception until" in hub
    assert f"protected {m['protected_pct']}%" in hub and f"protected {m['protected_pct_with_exceptions']}%" in hub
    pack = build_pack(pack_source(PostureSnapshot.objects.select_related("customer").get(pk=snapshot.pk), SOC2))
    listed = csv_rows(pack.files["exceptions.csv"])
    assert [(r["user_principal_name"], r["approver"], r["status"]) for r in listed] == [
        (user.user_principal_name, "Sam Ellery (CISO)", "in force")]
    assert listed[0]["expires_on"] == exception.expires_on.isoformat()
    controls = {r["control_id"]: r for r in csv_rows(pack.files["controls.csv"])}
    assert "With documented exceptions (1 in force" in controls["CC6.1"]["figure"]


@pytest.mark.django_db(transaction=True)
def test_bad_exception_forms_save_nothing(synced, admin_client):
    user = target_user(synced)
    url = f"/security/customers/{user.customer_id}/exceptions/"
    for bad in ({"expires_on": (date.today() - timedelta(days=1)).isoformat()}, {"reason": "   "},
                {"approver": ""}, {"user": "not-a-user-of-this-customer"},
                {"expires_on": (date.today() + timedelta(days=400)).isoformat()}):
        response = admin_client.post(url, form_data(user, **bad))
        assert response.status_code == 200, bad
    assert not MfaException.objects.exists() and not AuditEvent.objects.filter(action="mfa_exception.create").exists()


@pytest.mark.django_db(transaction=True)
def test_expired_exception_stops_applying_and_is_flagged(synced, admin_client):
    user = target_user(synced)
    admin_client.post(f"/security/customers/{user.customer_id}/exceptions/", form_data(user))
    MfaException.objects.update(expires_on=timezone.localdate() - timedelta(days=1))
    resync(synced)
    snapshot = PostureSnapshot.objects.get(customer=user.customer)
    assert all(r["exception"] is None for r in snapshot.users)
    assert snapshot.metrics["exceptions_expired"] == 1 and snapshot.metrics["exceptions_in_force"] == 0
    assert "Expired MFA exception" in admin_client.get("/security/").content.decode()
    assert "1 expired" in admin_client.get(f"/customers/{user.customer_id}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_revoked_exception_is_audited_and_no_longer_applied(synced, admin_client):
    user = target_user(synced)
    url = f"/security/customers/{user.customer_id}/exceptions/"
    admin_client.post(url, form_data(user))
    exception = MfaException.objects.get()
    assert admin_client.post(url, {"action": "revoke", "exception_id": exception.pk}).status_code == 302
    exception.refresh_from_db()
    assert exception.revoked_at is not None and AuditEvent.objects.filter(action="mfa_exception.revoke").count() == 1
    resync(synced)
    snapshot = PostureSnapshot.objects.get(customer=user.customer)
    assert all(r["exception"] is None for r in snapshot.users) and snapshot.metrics["exceptions_in_force"] == 0
    assert "revoked" in admin_client.get(url).content.decode()
