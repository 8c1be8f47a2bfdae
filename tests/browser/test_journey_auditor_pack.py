"""Journey 3 — an auditor downloads an evidence pack and checks it.

Audrey is a viewer. She opens /security (every customer's MFA posture side
by side), follows one customer to its posture page and from there to its
compliance evidence, picks a framework, reads the control rows and downloads
the pack. The test then does what her auditor would: recompute every file's
SHA-256 against the pack's manifest (compliance.verify, and the
`manage.py verify_pack` command), and compare the manifest's own hash with
the one the audit log recorded at download time.
"""

import hashlib
import json
import zipfile

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from audit.models import AuditEvent
from compliance.verify import verify_pack
from security.models import PostureSnapshot

pytestmark = pytest.mark.browser

FRAMEWORK = "HIPAA Security Rule"


def test_auditor_opens_security_then_a_customer_compliance_page_and_downloads_a_verifiable_pack(synced_world, visit, capsys):
    world = synced_world
    # The customer with the most users in its snapshot: the fullest pack.
    snapshot = max(PostureSnapshot.objects.select_related("customer"), key=lambda s: (len(s.users), -s.customer.pk))
    customer = snapshot.customer

    audrey = visit("audrey")
    page = audrey.page
    audrey.sign_in("audrey")

    page.get_by_role("link", name="Security", exact=True).click()
    expect(page).to_have_url(audrey.url("/security/"))
    expect(page.get_by_role("heading", name="Security posture across customers")).to_be_visible()
    expect(page.locator("table.rollup tbody tr:not(.averages)")).to_have_count(PostureSnapshot.objects.values("customer").distinct().count())
    audrey.shot("security-rollup")

    page.locator("table.rollup").get_by_role("link", name=customer.name, exact=True).click()
    expect(page.get_by_role("heading", name=customer.name)).to_be_visible()
    audrey.shot("security-customer")

    page.get_by_role("link", name="Compliance evidence packs →").first.click()
    expect(page.get_by_role("heading", name="Compliance evidence")).to_be_visible()
    expect(page.get_by_label("Customer")).to_have_value(str(customer.pk))
    page.get_by_label("Framework").select_option(label=FRAMEWORK)
    page.get_by_role("button", name="Show control rows").click()
    expect(page.locator(".pack-head h2")).to_contain_text(FRAMEWORK)
    expect(page.locator(".pack-head")).to_contain_text(f"tenant {world.spec.tenant_name}")
    expect(page.locator("table.control-rows tbody.control-row").first).to_be_visible()
    audrey.shot("compliance-control-rows")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download evidence pack (ZIP)").click()
    download = download_info.value
    pack_path = audrey.shots.directory / download.suggested_filename
    download.save_as(pack_path)
    assert download.failure() is None and pack_path.suffix == ".zip"

    # The auditor's check: every file matches the manifest, nothing extra, nothing missing.
    result = verify_pack(str(pack_path))
    assert result.ok, result.problems
    assert len(result.checked) == 6 and all(status == "ok" for _path, status in result.checked)
    call_command("verify_pack", str(pack_path))
    assert f"OK: all {len(result.checked)} files match the manifest" in capsys.readouterr().out

    # The manifest's own hash (and the ZIP's) are the ones the audit log recorded for Audrey's download.
    row = AuditEvent.objects.get(action="compliance.pack_download")
    assert row.actor == world.auditor and row.customer_id == customer.pk
    assert row.details["framework"] == "hipaa" and row.details["filename"] == download.suggested_filename
    assert row.details["manifest_sha256"] == result.manifest_sha256
    assert row.details["zip_sha256"] == hashlib.sha256(pack_path.read_bytes()).hexdigest()

    # The pack names the tenant its figures came from (recorded when the admin's Test passed).
    with zipfile.ZipFile(pack_path) as pack:
        collection = json.loads(pack.read("collection.json"))
    assert collection["tenant"] == {"id": world.spec.tenant_id, "name": world.spec.tenant_name}

    audrey.assert_no_script_ran_or_failed()
