"""The compliance page and the pack download: every role may use them, rows
show before download, empty states, and each download writes its audit row."""

import hashlib
import io
import json
import zipfile
from datetime import date

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from compliance.verify import verify_pack
from customers.models import Customer
from security.models import PostureSnapshot
from tests.factories import all_covered, make_snapshot, make_user, one_privileged_missing, user

INDEX = reverse("compliance:index")
DOWNLOAD = reverse("compliance:download")


@pytest.fixture
def northwind(db):
    customer = Customer.objects.create(name="Northwind Traders")
    make_snapshot(customer, one_privileged_missing() + [user("x@northwind.example", "<script>alert(1)</script>", mfa=False)],
                  taken_on=date(2025, 6, 1))
    make_snapshot(customer, all_covered(), taken_on=date(2025, 5, 31))
    return customer


@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
def test_every_role_sees_the_control_rows(client, northwind, role):
    client.force_login(make_user(f"c-{role}", role))
    response = client.get(INDEX, {"customer": northwind.pk, "framework": "soc2"})
    assert response.status_code == 200
    page = response.content.decode()
    for ref in ("CC6.1", "CC6.2", "CC6.3", "CC6.6"):
        assert ref in page
    assert "Not met" in page and "Not evidenced" in page
    assert "Erin Exchange" in page and "erin@northwind.example" in page
    assert "snapshot 2025-06-01" in page
    assert "Download evidence pack (ZIP)" in page
    assert "registration, not enforcement" in page


def test_customer_alone_preselects_and_uses_the_latest_snapshot(viewer_client, northwind):
    response = viewer_client.get(INDEX, {"customer": northwind.pk})
    page = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{northwind.pk}" selected>' in page
    assert "IA.L2-3.5.3[c]" in page  # the first framework, CMMC
    assert 'value="2025-06-01" selected' in page


def test_an_older_snapshot_date_can_be_chosen(viewer_client, northwind):
    page = viewer_client.get(INDEX, {"customer": northwind.pk, "framework": "hipaa", "date": "2025-05-31"}).content.decode()
    assert "snapshot 2025-05-31" in page
    assert "tag-not_met" not in page and "0 not met" in page  # everyone in scope was registered that day
    assert '<input type="hidden" name="date" value="2025-05-31">' in page


def test_a_date_without_snapshot_says_so_and_shows_the_latest(viewer_client, northwind):
    page = viewer_client.get(INDEX, {"customer": northwind.pk, "framework": "soc2", "date": "2024-01-01"}).content.decode()
    assert "Northwind Traders has no snapshot on 2024-01-01; showing the latest, 2025-06-01." in page
    assert '<input type="hidden" name="date" value="2025-06-01">' in page


def test_hostile_names_are_escaped_on_the_page(viewer_client, northwind):
    page = viewer_client.get(INDEX, {"customer": northwind.pk, "framework": "soc2"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_empty_states(viewer_client, db):
    page = viewer_client.get(INDEX).content.decode()
    assert "No customer has a security posture snapshot yet" in page
    assert "This field is required" not in page
    lonely = Customer.objects.create(name="Contoso")
    make_snapshot(Customer.objects.create(name="Other"), all_covered())
    page = viewer_client.get(INDEX, {"customer": lonely.pk}).content.decode()
    assert "Contoso has no security posture snapshot yet" in page
    assert "Download evidence pack" not in page
    page = viewer_client.get(INDEX).content.decode()
    assert "Pick a customer first: its snapshot dates load" in page
    assert '<option value="" selected>Pick a customer first</option>' in page


def test_picking_a_customer_loads_its_snapshot_dates(viewer_client, northwind):
    page = viewer_client.get(INDEX).content.decode()
    select = page.split('name="customer"')[1].split(">")[0]
    assert f'hx-get="{reverse("compliance:dates")}"' in select and 'hx-target="#id_date"' in select
    options = viewer_client.get(reverse("compliance:dates"), {"customer": northwind.pk}).content.decode()
    dates = sorted(PostureSnapshot.objects.filter(customer=northwind).values_list("taken_on", flat=True), reverse=True)
    assert len(dates) > 1
    assert options.count("<option") == len(dates)
    assert f'<option value="{dates[0].isoformat()}">{dates[0].isoformat()} (latest)</option>' in options
    for bad in ("", "abc", "99999999999999999999", "-1"):
        assert "Pick a customer first" in viewer_client.get(reverse("compliance:dates"), {"customer": bad}).content.decode()
    empty = Customer.objects.create(name="No snapshots")
    assert "Pick a customer first" in viewer_client.get(reverse("compliance:dates"), {"customer": empty.pk}).content.decode()


def test_bad_choices_are_explained_next_to_the_fields(viewer_client, northwind):
    page = viewer_client.get(INDEX, {"customer": "abc", "framework": "iso", "date": "soon"}).content.decode()
    assert "Choose a customer from the list." in page
    assert "Choose CMMC, HIPAA or SOC 2." in page
    assert "Download evidence pack" not in page


def test_an_unreadable_snapshot_is_reported_not_packed(viewer_client, db):
    customer = Customer.objects.create(name="Broken")
    rows = all_covered()
    del rows[0]["upn"]
    make_snapshot(customer, rows, metrics={})
    page = viewer_client.get(INDEX, {"customer": customer.pk, "framework": "soc2"}).content.decode()
    assert "This snapshot cannot be evaluated: users[0] has no &#x27;upn&#x27;" in page
    response = viewer_client.post(DOWNLOAD, {"customer": customer.pk, "framework": "soc2", "date": "2025-06-01"})
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="compliance.pack_download").exists()


def test_viewer_downloads_a_verifiable_pack_and_the_audit_log_shows_it(viewer_client, viewer_user, northwind):
    response = viewer_client.post(DOWNLOAD, {"customer": northwind.pk, "framework": "soc2", "date": "2025-06-01"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="vectis-evidence-northwind-traders-soc2-2025-06-01.zip"'
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    data = response.content
    assert verify_pack(data).ok
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = archive.read("manifest.json")
        controls = archive.read("controls.csv").decode("utf-8-sig")
    assert "CC6.1" in controls and "Erin Exchange (erin@northwind.example)" in controls

    event = AuditEvent.objects.get(action="compliance.pack_download")
    assert event.actor_id == viewer_user.pk
    assert event.customer_id == northwind.pk
    assert event.target_type == "security.posturesnapshot"
    assert event.details["framework"] == "soc2"
    snapshot_users = PostureSnapshot.objects.get(customer=northwind, taken_on=date(2025, 6, 1)).users
    assert event.details["rows"]["accounts"] == len(snapshot_users) and event.details["rows"]["controls"] > 0
    assert event.details["snapshot_date"] == "2025-06-01"
    assert event.details["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert event.details["zip_sha256"] == hashlib.sha256(data).hexdigest()
    assert event.details["met_threshold_percent"] == 100
    assert json.loads(manifest)["file_list_sha256"]

    # Downloading again gives the same bytes and a second audit row.
    again = viewer_client.post(DOWNLOAD, {"customer": northwind.pk, "framework": "soc2", "date": "2025-06-01"})
    assert again.content == data
    assert AuditEvent.objects.filter(action="compliance.pack_download").count() == 2


def test_a_download_never_falls_back_to_another_snapshot(viewer_client, northwind):
    for post in ({"customer": northwind.pk, "framework": "soc2", "date": "2024-01-01"},
                 {"customer": northwind.pk, "framework": "iso27001", "date": "2025-06-01"},
                 {"customer": "x", "framework": "soc2", "date": "2025-06-01"}, {}):
        response = viewer_client.post(DOWNLOAD, post)
        assert response.status_code == 302 and response["Location"] == INDEX
    assert not AuditEvent.objects.filter(action="compliance.pack_download").exists()


def test_download_needs_post_and_a_signed_in_user(client, viewer_client, northwind):
    assert viewer_client.get(DOWNLOAD, {"customer": northwind.pk, "framework": "soc2", "date": "2025-06-01"}).status_code == 405
    client.logout()
    response = client.post(DOWNLOAD, {"customer": northwind.pk, "framework": "soc2", "date": "2025-06-01"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not AuditEvent.objects.filter(action="compliance.pack_download").exists()
