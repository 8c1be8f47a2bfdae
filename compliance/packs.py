"""Build an evidence pack: one customer, one framework, one posture snapshot -> a ZIP.

The ZIP is a pure function of the snapshot, the customer's name, the
framework's threshold setting and the application version: entries are
written in sorted order with a fixed timestamp (the snapshot's collection
time), fixed permissions and fixed compression, and every file inside is
itself deterministic. Building twice gives the same bytes, so a pack's hash
identifies exactly what an auditor received.
"""

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from io import BytesIO

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.text import slugify
from django.utils.timezone import override as timezone_override

from .enforcement_files import enforcement_files
from .evaluate import Evaluation, evaluate_snapshot
from .exports import PACK_FORMAT, collection_json, controls_csv, privileged_users_csv, users_csv
from .report import VERIFY_NOTE, pack_files, provenance_items, reading_notes, report_facts
from .report_pdf import report_pdf

MANIFEST_NAME = "manifest.json"
FILE_LIST_RULE = (
    "file_list_sha256 is the SHA-256 of the text made of one line '<sha256>  <path>' (two spaces, LF) per file "
    "above, in this order (sorted by path): the output of `LC_ALL=C sha256sum` run on those files in that order."
)
ZIP_COMPRESSION = zipfile.ZIP_DEFLATED
ZIP_LEVEL = 9
_EARLIEST_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the ZIP format cannot store anything earlier


@dataclass(frozen=True)
class PackSource:
    """Everything a pack is built from, read once from the database."""

    customer_id: int
    customer_name: str
    snapshot_id: int
    taken_on: date
    as_of_utc: datetime
    provenance: dict
    evaluation: Evaluation
    app_version: str


@dataclass(frozen=True)
class Pack:
    filename: str
    data: bytes
    files: dict  # name -> bytes, every entry including the manifest
    manifest_sha256: str
    file_list_sha256: str

    @property
    def zip_sha256(self):
        return hashlib.sha256(self.data).hexdigest()


def pack_source(snapshot, framework, threshold=None):
    """Read a PostureSnapshot into a PackSource (raises SnapshotUnreadable on a malformed user list)."""
    return PackSource(
        customer_id=snapshot.customer_id,
        customer_name=snapshot.customer.name,
        snapshot_id=snapshot.pk,
        taken_on=snapshot.taken_on,
        as_of_utc=snapshot.as_of.astimezone(timezone.utc),
        provenance=snapshot.provenance if isinstance(snapshot.provenance, dict) else {},
        evaluation=evaluate_snapshot(snapshot, framework, threshold),
        app_version=settings.VECTIS_VERSION,
    )


def file_list_sha256(entries):
    """SHA-256 over '<sha256>  <path>\\n' lines sorted by path, as `sha256sum` prints them."""
    lines = "".join(f"{entry['sha256']}  {entry['path']}\n" for entry in sorted(entries, key=lambda e: e["path"]))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def manifest_json(files):
    entries = [{"path": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
               for name, data in sorted(files.items())]
    manifest = {
        "format": PACK_FORMAT,
        "algorithm": "sha256",
        "files": entries,
        "file_list_sha256": file_list_sha256(entries),
        "file_list_rule": FILE_LIST_RULE,
    }
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def report_html(source):
    # UTC whatever the downloading user's zone: the bytes must not depend on who asks.
    with timezone_override(timezone.utc):
        return _render_report_html(source)


def _render_report_html(source):
    return render_to_string("compliance/report.html", {
        "source": source,
        "evaluation": source.evaluation,
        "facts": report_facts(source),
        "notes": reading_notes(source),
        "provenance": provenance_items(source),
        "files": pack_files(source),
        "verify_note": VERIFY_NOTE,
    }).encode("utf-8")


def zip_bytes(files, moment):
    """A ZIP whose bytes depend only on `files` and `moment`."""
    stamp = max(tuple(moment.timetuple())[:6], _EARLIEST_ZIP_TIME)
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = ZIP_COMPRESSION
            info.create_system = 3  # Unix, whatever machine builds it
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            archive.writestr(info, files[name], compress_type=ZIP_COMPRESSION, compresslevel=ZIP_LEVEL)
    return buffer.getvalue()


def pack_filename(source):
    name = slugify(source.customer_name) or f"customer-{source.customer_id}"
    return f"vectis-evidence-{name}-{source.evaluation.framework.key}-{source.taken_on.isoformat()}.zip"


def build_pack(source):
    files = {
        "collection.json": collection_json(source),
        "controls.csv": controls_csv(source.evaluation),
        "privileged_users.csv": privileged_users_csv(source.evaluation.population),
        "report.html": report_html(source),
        "report.pdf": report_pdf(source),
        "users.csv": users_csv(source.evaluation.population),
        **enforcement_files(source),
    }
    files[MANIFEST_NAME] = manifest_json(files)
    manifest = json.loads(files[MANIFEST_NAME])
    return Pack(
        filename=pack_filename(source),
        data=zip_bytes(files, source.as_of_utc),
        files=files,
        manifest_sha256=hashlib.sha256(files[MANIFEST_NAME]).hexdigest(),
        file_list_sha256=manifest["file_list_sha256"],
    )
