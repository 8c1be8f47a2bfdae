"""python manage.py verify_pack PACK.zip: check every hash in an evidence pack.

Prints one line per file, then every mismatch; exits 0 only when all match.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.verify import verify_pack


class Command(BaseCommand):
    help = "Check the SHA-256 of every file in an evidence pack against its manifest.json."

    def add_arguments(self, parser):
        parser.add_argument("pack", help="path to the evidence pack ZIP")

    def handle(self, *args, pack, **options):
        path = Path(pack)
        if not path.is_file():
            raise CommandError(f"{pack}: no such file", returncode=2)
        result = verify_pack(str(path))
        for name, status in result.checked:
            self.stdout.write(f"{status:>9}  {name}")
        if result.manifest_sha256:
            self.stdout.write(f"manifest.json SHA-256: {result.manifest_sha256} (compare with the audit log)")
        if result.file_list_sha256:
            self.stdout.write(f"file list SHA-256:     {result.file_list_sha256}")
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(f"MISMATCH {problem}")
            raise CommandError(f"{len(result.problems)} problem(s): this pack does not match its manifest", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"OK: all {len(result.checked)} files match the manifest"))
