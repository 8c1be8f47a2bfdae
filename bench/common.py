"""Plumbing shared by the benchmarks and the load test: databases, child
processes (measured with wait4), the simulator process, the environment."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
PG_HOST = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
# A key for the benchmark databases only: nothing real is ever encrypted with it.
BENCH_FERNET_KEY = "kA-ubPh-d7iyirwphjrNrMTKbguDKZKIxOOYf4uRaX0="
_DB_NAME = re.compile(r"^vectis_bench[a-z0-9_]*$")


def pg_url(db_name: str) -> str:
    return f"{PG_HOST}/{db_name}"


def _check_name(db_name: str) -> None:
    # The benchmark only ever creates or drops databases it owns.
    if not _DB_NAME.match(db_name) or db_name == "vectis_bench_tests":
        raise ValueError(f"refusing to touch database {db_name!r}: benchmark databases are vectis_bench*")


def _admin():
    import psycopg

    return psycopg.connect(pg_url("postgres"), autocommit=True)


def db_exists(db_name: str) -> bool:
    with _admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone() is not None


def db_drop(db_name: str) -> None:
    _check_name(db_name)
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def db_create(db_name: str) -> None:
    """A fresh, migrated database (dropped first if it exists)."""
    db_drop(db_name)
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=child_env(db_name), check=True)


def collectstatic(env: dict) -> None:
    """Production static storage (manifest) needs collected files before any page renders."""
    subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def child_env(db_name: str, **extra) -> dict:
    """Production settings (DEBUG off: no query log growing in memory) on a bench database."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DATABASE_URL=pg_url(db_name),
        # Production refuses to start without its broker; the benchmarks call
        # the sync functions directly, so nothing is enqueued there.
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        VECTIS_BEHIND_TLS_PROXY="false",
        VECTIS_ENCRYPTION_KEYS=BENCH_FERNET_KEY,
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="vectis.settings",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_child(task: str, params: dict, env: dict, timeout: float = 3600) -> dict:
    """Run bench.child TASK in its own process; returns its JSON result plus
    the child's own peak RSS (wait4's ru_maxrss for exactly that child, KiB)."""
    with tempfile.TemporaryDirectory(prefix="vectis-bench-") as tmp:
        params_path, out_path = Path(tmp) / "params.json", Path(tmp) / "out.json"
        params_path.write_text(json.dumps(params))
        proc = subprocess.Popen([PY, "-m", "bench.child", task, str(params_path), str(out_path)], cwd=ROOT, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                raise RuntimeError(f"bench child {task} timed out after {timeout:.0f} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"bench child {task} failed with exit code {proc.returncode}")
        result = json.loads(out_path.read_text())
    result["child_max_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    result["child_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    return result


@contextmanager
def simulator(**spec):
    """The Graph simulator in its own process (bench.simproc); yields its info dict."""
    with tempfile.TemporaryDirectory(prefix="vectis-sim-") as tmp:
        info_path = Path(tmp) / "info.json"
        args = [PY, "-m", "bench.simproc", "--info-file", str(info_path)]
        for key, value in spec.items():
            if key == "faults":
                for fault in value:
                    args += ["--fault", fault]
            elif value is True:
                args.append(f"--{key.replace('_', '-')}")  # a flag
            elif value is not None and value is not False:
                args += [f"--{key.replace('_', '-')}", str(value)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 600
            while not info_path.exists():
                if proc.poll() is not None:
                    raise RuntimeError("the simulator process exited before it was ready")
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start within 600 s")
                time.sleep(0.1)
            info = json.loads(info_path.read_text())
            info["pid"] = proc.pid
            yield info
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def sim_env(info: dict) -> dict:
    """Settings that point the app at a running simulator."""
    return {
        "VECTIS_GRAPH_BASE_URL": info["graph_base_url"],
        "VECTIS_LOGIN_BASE_URL": info["login_base_url"],
        "VECTIS_GRAPH_CA_BUNDLE": info["ca_path"],
    }


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    pg = ""
    try:
        with _admin() as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as error:  # noqa: BLE001 - the description goes on without the version
        pg = f"unknown ({type(error).__name__})"
    return {
        "cores": os.cpu_count(), "cpu": cpu, "memory_gib": mem_gib, "python": platform.python_version(),
        "postgresql": pg, "kernel": platform.release(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
