"""`python -m bench --quick --only hub` runs end to end (about 15 s).

Only that it runs and every measured page answers 200: speed is reported by
the benchmarks themselves (docs/performance.md), never asserted by a test.
The benchmark makes and drops its own PostgreSQL database, so it needs the
server at 127.0.0.1:5432 whatever database this test run uses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _postgres_reachable():
    try:
        import psycopg

        psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
    except Exception:  # noqa: BLE001 - any failure means "not here"
        return False
    return True


@pytest.mark.skipif(not _postgres_reachable(), reason="the benchmarks need PostgreSQL at 127.0.0.1:5432")
def test_quick_hub_benchmark_runs(tmp_path):
    out = tmp_path / "bench.json"
    subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "hub", "--tag", f"t{os.getpid()}", "--out", str(out)],
        cwd=ROOT, check=True, timeout=600, capture_output=True,
    )
    pages = json.loads(out.read_text())["results"]["hub"]["pages"]
    assert len(pages) >= 10
    assert all(page["status"] == 200 and page["queries"] > 0 for page in pages)


@pytest.mark.skipif(not _postgres_reachable(), reason="the benchmarks need PostgreSQL at 127.0.0.1:5432")
def test_csv_import_benchmark_runs():
    result = subprocess.run(
        [sys.executable, "-m", "bench.csv_import", "--rows", "200", "--existing", "50", "--tag", f"t{os.getpid()}"],
        cwd=ROOT, check=True, timeout=600, capture_output=True, text=True,
    )
    figures = json.loads(result.stdout)
    assert figures["customers"] == 250 and figures["domains"] == 2 * 250 + 200
    for label in ("new", "unchanged", "update"):
        assert figures[label]["preview_queries"] > 0 and figures[label]["confirm_s"] > 0
