"""Check a pack against its own manifest: every listed file present with its
SHA-256, no unlisted file, and the file-list hash recomputed.

The manifest cannot vouch for itself: its own SHA-256 is reported so it can be
compared with the hash the audit log recorded when the pack was downloaded.
"""

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from io import BytesIO

from .packs import MANIFEST_NAME, file_list_sha256


@dataclass
class Verification:
    checked: list = field(default_factory=list)  # (path, "ok" | problem text)
    problems: list = field(default_factory=list)  # human-readable, one per mismatch
    manifest_sha256: str = ""
    file_list_sha256: str = ""

    @property
    def ok(self):
        return not self.problems


def verify_pack(data):
    """Verify a pack given as bytes (or a file path). Never raises for a bad pack: problems are listed."""
    result = Verification()
    try:
        archive = zipfile.ZipFile(data if isinstance(data, str) else BytesIO(data))
    except (zipfile.BadZipFile, OSError) as error:
        result.problems.append(f"not a readable ZIP file: {error}")
        return result
    with archive:
        names = [info.filename for info in archive.infolist()]
        if len(names) != len(set(names)):
            result.problems.append("the ZIP holds two entries with the same name")
        if MANIFEST_NAME not in names:
            result.problems.append(f"{MANIFEST_NAME} is missing")
            return result
        manifest_bytes = archive.read(MANIFEST_NAME)
        result.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        try:
            manifest = json.loads(manifest_bytes)
            entries = manifest["files"]
            listed = {entry["path"]: entry for entry in entries}
            result.file_list_sha256 = file_list_sha256(entries)
        except (ValueError, KeyError, TypeError) as error:
            result.problems.append(f"{MANIFEST_NAME} cannot be read: {error!r}")
            return result
        for path, entry in sorted(listed.items()):
            if path not in names:
                result.problems.append(f"{path}: listed in the manifest but missing from the ZIP")
                result.checked.append((path, "missing"))
                continue
            actual = hashlib.sha256(archive.read(path)).hexdigest()
            if actual != entry.get("sha256"):
                result.problems.append(f"{path}: SHA-256 is {actual}, the manifest says {entry.get('sha256')}")
                result.checked.append((path, "MISMATCH"))
            else:
                result.checked.append((path, "ok"))
        for path in sorted(set(names) - set(listed) - {MANIFEST_NAME}):
            result.problems.append(f"{path}: in the ZIP but not listed in the manifest")
            result.checked.append((path, "unlisted"))
        if manifest.get("file_list_sha256") != result.file_list_sha256:
            result.problems.append(
                f"file list: SHA-256 is {result.file_list_sha256}, the manifest says {manifest.get('file_list_sha256')}")
    return result
