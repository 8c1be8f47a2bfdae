"""The pack ZIP: deterministic bytes, a manifest that verify_pack checks,
CSVs that list every account, a PDF that opens and holds the rows, and
hostile display names that stay inert in every file."""

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from compliance.controls import CMMC, FRAMEWORKS, HIPAA, SOC2
from compliance.evaluate import FAILING, UNKNOWN
from compliance.packs import build_pack, pack_source
from compliance.verify import verify_pack
from customers.models import Customer
from security.models import PostureSnapshot
from tests.factories import GLOBAL_ADMIN, make_snapshot, one_privileged_missing, user, with_unknowns

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    user("x@northwind.example", "<script>alert(1)</script>", mfa=False),
    user("y@northwind.example", '=HYPERLINK("http://evil.example","click")', mfa=False),
    user("z@northwind.example", "张伟 Zoë {nb}", mfa=False),
    user("n@northwind.example", "Line\nbreak\u202eevil", mfa=False, roles=[GLOBAL_ADMIN]),
]


@pytest.fixture
def snapshot(db):
    customer = Customer.objects.create(name="Northwind Traders")
    return make_snapshot(customer, one_privileged_missing() + with_unknowns()[1:2] + HOSTILE)


def pack_for(snapshot, framework=SOC2):
    fresh = PostureSnapshot.objects.select_related("customer").get(pk=snapshot.pk)
    return build_pack(pack_source(fresh, framework))


def csv_rows(data):
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def pdf_text(data):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def rezip(pack_bytes, replace=None, drop=(), add=None):
    """A copy of a pack with one entry changed, removed or added (the manifest left as it was)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(pack_bytes)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename in drop:
                continue
            data = source.read(info.filename)
            if replace and info.filename in replace:
                data = replace[info.filename]
            target.writestr(info, data)
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out.getvalue()


# --- determinism ------------------------------------------------------------------------

@pytest.mark.parametrize("framework", FRAMEWORKS.values(), ids=list(FRAMEWORKS))
def test_same_inputs_give_a_byte_identical_zip(snapshot, framework):
    first, second = pack_for(snapshot, framework), pack_for(snapshot, framework)
    assert first.data == second.data
    assert first.manifest_sha256 == second.manifest_sha256


def test_the_downloading_users_time_zone_does_not_change_the_bytes(snapshot):
    from django.utils import timezone

    utc = pack_for(snapshot)
    with timezone.override("America/Los_Angeles"):
        assert pack_for(snapshot).data == utc.data


def test_zip_layout_is_fixed(snapshot):
    pack = pack_for(snapshot)
    with zipfile.ZipFile(io.BytesIO(pack.data)) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) == ["collection.json", "controls.csv", "manifest.json", "privileged_users.csv",
                                      "report.html", "report.pdf", "users.csv"]
    for info in infos:
        assert info.date_time == (2025, 6, 1, 2, 0, 40)  # the collection time (ZIP stores even seconds)
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.create_system == 3 and info.external_attr == 0o100644 << 16
    assert pack.filename == "vectis-evidence-northwind-traders-soc2-2025-06-01.zip"


def test_a_changed_threshold_or_snapshot_changes_the_pack(snapshot, settings):
    before = pack_for(snapshot)
    settings.VECTIS_MET_THRESHOLD_SOC2 = 50
    assert pack_for(snapshot).data != before.data
    settings.VECTIS_MET_THRESHOLD_SOC2 = 100
    PostureSnapshot.objects.filter(pk=snapshot.pk).update(users=snapshot.users[:-1])
    assert pack_for(snapshot).data != before.data


BUILD_IN_SUBPROCESS = """
import hashlib, sys
import django
django.setup()
from datetime import date, datetime, timezone
from django.conf import settings
from compliance.controls import SOC2
from compliance.evaluate import evaluate
from compliance.packs import PackSource, build_pack
sys.path.insert(0, "tests")
from factories import PROVENANCE, metrics_for, one_privileged_missing
users = one_privileged_missing()
evaluation = evaluate(SOC2, users=users, metrics=metrics_for(users), provenance=PROVENANCE, threshold=100)
source = PackSource(1, "Northwind Traders", 7, date(2025, 6, 1), datetime(2025, 6, 1, 2, 0, 41, tzinfo=timezone.utc),
                    PROVENANCE, evaluation, settings.VECTIS_VERSION)
print(hashlib.sha256(build_pack(source).data).hexdigest())
"""


def test_bytes_do_not_depend_on_the_process():
    """Hash randomisation differs per process; set or dict ordering must not leak into the pack."""
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "vectis.settings"}
        env.pop("DATABASE_URL", None)
        result = subprocess.run([sys.executable, "-c", BUILD_IN_SUBPROCESS], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        digests.add(result.stdout.strip().splitlines()[-1])
    assert len(digests) == 1


# --- manifest and verify_pack ---------------------------------------------------------------

def test_manifest_lists_every_file_with_its_sha256(snapshot):
    pack = pack_for(snapshot)
    manifest = json.loads(pack.files["manifest.json"])
    listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert set(listed) == set(pack.files) - {"manifest.json"}
    for name, digest in listed.items():
        assert hashlib.sha256(pack.files[name]).hexdigest() == digest
    # The file-list hash is what `LC_ALL=C sha256sum <files in path order> | sha256sum` prints.
    lines = "".join(f"{hashlib.sha256(pack.files[n]).hexdigest()}  {n}\n" for n in sorted(listed))
    assert manifest["file_list_sha256"] == hashlib.sha256(lines.encode()).hexdigest() == pack.file_list_sha256
    assert pack.manifest_sha256 == hashlib.sha256(pack.files["manifest.json"]).hexdigest()


def test_verify_accepts_an_untouched_pack(snapshot):
    result = verify_pack(pack_for(snapshot).data)
    assert result.ok, result.problems
    assert [status for _, status in result.checked] == ["ok"] * 6


def test_verify_names_a_changed_missing_or_extra_file(snapshot):
    pack = pack_for(snapshot)
    changed = pack.files["users.csv"].replace(b"not registered", b"registered", 1)
    result = verify_pack(rezip(pack.data, replace={"users.csv": changed}))
    assert not result.ok
    assert result.problems == [f"users.csv: SHA-256 is {hashlib.sha256(changed).hexdigest()}, "
                               f"the manifest says {hashlib.sha256(pack.files['users.csv']).hexdigest()}"]
    assert ("users.csv", "MISMATCH") in result.checked
    assert verify_pack(rezip(pack.data, drop={"report.pdf"})).problems == [
        "report.pdf: listed in the manifest but missing from the ZIP"]
    assert verify_pack(rezip(pack.data, add={"extra.txt": b"x"})).problems == [
        "extra.txt: in the ZIP but not listed in the manifest"]
    assert not verify_pack(b"not a zip").ok


def test_verify_pack_command_exit_code_and_output(snapshot, tmp_path):
    pack = pack_for(snapshot)
    good = tmp_path / pack.filename
    good.write_bytes(pack.data)
    out = io.StringIO()
    call_command("verify_pack", str(good), stdout=out)
    assert "OK: all 6 files match the manifest" in out.getvalue()
    assert pack.manifest_sha256 in out.getvalue()

    bad = tmp_path / "tampered.zip"
    bad.write_bytes(rezip(pack.data, replace={"controls.csv": pack.files["controls.csv"] + b"\r\n"}))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("verify_pack", str(bad), stdout=out, stderr=err)
    assert raised.value.returncode == 1
    assert "MISMATCH controls.csv: SHA-256 is" in err.getvalue()
    assert "MISMATCH  controls.csv" in out.getvalue()
    assert "ok  users.csv" in out.getvalue()

    # The real command line: exit status 1 on a mismatch, 0 on a good pack.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DEBUG"] = "true"
    failed = subprocess.run([sys.executable, "manage.py", "verify_pack", str(bad)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert "MISMATCH controls.csv" in failed.stderr
    passed = subprocess.run([sys.executable, "manage.py", "verify_pack", str(good)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert passed.returncode == 0, passed.stderr


# --- CSVs -------------------------------------------------------------------------------------

def test_users_csv_lists_every_account_with_scope_and_mfa(snapshot):
    pack = pack_for(snapshot)
    rows = csv_rows(pack.files["users.csv"])
    assert sorted(r["user_principal_name"] for r in rows) == sorted(u["upn"] for u in snapshot.users)
    in_scope = {r["user_principal_name"] for r in rows if r["in_scope"] == "yes"}
    assert in_scope == {u["upn"] for u in snapshot.users if u["in_scope"]}
    erin = next(r for r in rows if r["user_principal_name"] == "erin@northwind.example")
    assert erin["mfa_registered"] == "not registered" and erin["privileged_roles"] == "Exchange Administrator"
    assert erin["scope_reason"] == "In scope: enabled member account"
    alice = next(r for r in rows if r["user_principal_name"] == "alice@northwind.example")
    assert alice["mfa_method_types"] == "fido2" and alice["strongest_method"] == "phishing_resistant"
    uma = next(r for r in rows if r["user_principal_name"] == "uma@northwind.example")
    assert uma["mfa_registered"] == "unknown"


def test_privileged_users_csv_has_every_holder_with_roles(snapshot):
    rows = csv_rows(pack_for(snapshot).files["privileged_users.csv"])
    assert {r["user_principal_name"]: r["privileged_roles"] for r in rows} == {
        "alice@northwind.example": "Global Administrator",
        "erin@northwind.example": "Exchange Administrator",
        "n@northwind.example": "Global Administrator",
    }
    assert rows[0]["role_template_ids"] == GLOBAL_ADMIN["template_id"]


@pytest.mark.parametrize("framework", [CMMC, HIPAA, SOC2], ids=["cmmc", "hipaa", "soc2"])
def test_failing_users_in_the_report_match_the_csvs(snapshot, framework):
    pack = pack_for(snapshot, framework)
    users = {r["user_principal_name"]: r for r in csv_rows(pack.files["users.csv"])}
    not_registered = {upn for upn, r in users.items() if r["in_scope"] == "yes" and r["mfa_registered"] == "not registered"}
    unknown = {upn for upn, r in users.items() if r["in_scope"] == "yes" and r["mfa_registered"] == "unknown"}
    html = pack.files["report.html"].decode()
    text = pdf_text(pack.files["report.pdf"])
    evaluation = pack_source(snapshot, framework).evaluation
    mfa_rows = [row for row in evaluation.rows if row.control.check.startswith("mfa_")]
    assert mfa_rows
    csv_by_control = {r["control_id"]: r for r in csv_rows(pack.files["controls.csv"])}
    for row in mfa_rows:
        failing = {a.upn for a in row.accounts_of(FAILING)}
        privileged = row.control.check == "mfa_privileged"
        non_privileged = row.control.check == "mfa_non_privileged"
        expected = {upn for upn in not_registered
                    if (not privileged or users[upn]["privileged"] == "yes")
                    and (not non_privileged or users[upn]["privileged"] == "no")}
        assert failing == expected, row.control.ref_id
        assert {a.upn for a in row.accounts_of(UNKNOWN)} <= unknown
        listed = csv_by_control[row.control.ref_id]["not_registered_accounts"]
        for account in row.accounts_of(FAILING):
            assert account.upn in listed
            assert account.upn in html
            assert account.upn in text
    assert "erin@northwind.example" in not_registered


# --- PDF ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("framework", FRAMEWORKS.values(), ids=list(FRAMEWORKS))
def test_pdf_opens_and_holds_every_control_row(snapshot, framework):
    pack = pack_for(snapshot, framework)
    reader = PdfReader(io.BytesIO(pack.files["report.pdf"]))
    text = "\n".join(page.extract_text() for page in reader.pages)
    evaluation = pack_source(snapshot, framework).evaluation
    for row in evaluation.rows:
        assert row.control.ref_id in text
        assert row.result_label in text
    assert "Northwind Traders" in text and "2025-06-01" in text
    assert f"Page 1 of {len(reader.pages)}" in text
    assert "Figures show MFA registration, not enforcement" in text
    assert reader.metadata.creation_date.year == 2025  # the collection time, not the build time


def test_pdf_shows_soc2_figures_and_named_failures(snapshot):
    text = " ".join(pdf_text(pack_for(snapshot).files["report.pdf"]).split())
    assert "CC6.1" in text and "Not met" in text
    evaluation = pack_source(snapshot, SOC2).evaluation
    figure = " ".join(evaluation.rows[0].figure.split())
    assert figure[:60] in text
    assert "Erin Exchange" in text and "erin@northwind.example" in text


# --- hostile data -------------------------------------------------------------------------------

def test_hostile_names_are_inert_in_html(snapshot):
    html = pack_for(snapshot).files["report.html"].decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "default-src 'none'" in html  # nothing runs even if a name slipped through
    assert "张伟 Zoë {nb}" in html  # exact names survive in the HTML copy


def test_hostile_names_are_inert_in_csvs(snapshot):
    pack = pack_for(snapshot)
    for name in ("users.csv", "controls.csv", "privileged_users.csv"):
        for row in csv_rows(pack.files[name]):
            for value in row.values():
                assert not (value or "").startswith(("=", "+", "-", "@")), (name, value)
    users = {r["user_principal_name"]: r for r in csv_rows(pack.files["users.csv"])}
    assert users["y@northwind.example"]["display_name"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert users["z@northwind.example"]["display_name"] == "张伟 Zoë {nb}"
    assert users["n@northwind.example"]["display_name"] == "Line\nbreak\u202eevil"  # one quoted cell, one row


def test_hostile_names_are_inert_in_the_pdf(snapshot):
    text = pdf_text(pack_for(snapshot).files["report.pdf"])
    compact = "".join(text.split())  # a long name may wrap inside its table cell
    assert "<script>alert(1)</script>" in compact  # drawn as text
    assert '=HYPERLINK("http://evil.example","click")' in compact
    assert "{nb}" in compact  # not replaced by the page count
    assert "\ufffd\ufffdZoë" in compact  # glyphs the font lacks are shown as U+FFFD; Latin-1 and beyond survive
    assert "Line break" in text and "breakevil" in compact and "\u202e" not in text  # newline blanked, bidi override dropped
    assert "report.html and the CSVs hold the exact names" in " ".join(text.split())
