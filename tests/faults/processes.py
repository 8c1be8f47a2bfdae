"""Real processes for the fault suite: Celery workers and beat (separate
`celery` processes on this run's own queue) and a private redis-server.

The test process serves the Graph simulator (in a thread) and owns the test
database; the workers are pointed at both (the test database by DATABASE_URL,
the simulator by VECTIS_GRAPH_BASE_URL, VECTIS_LOGIN_BASE_URL and
VECTIS_GRAPH_CA_BUNDLE). The broker is REDIS_URL (each engineer or CI job its
own Redis database), or a private redis-server for the test that restarts it:
the shared one is never restarted.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import connection

WORKER_APPLICATION_NAME = "vectis-fault-worker"  # how the workers' database sessions are told apart


def worker_database_url():
    """DATABASE_URL of the database this test runs on (pytest-django's test_<name>)."""
    s = connection.settings_dict
    auth = ""
    if s["USER"]:
        auth = quote(s["USER"], safe="") + (":" + quote(s["PASSWORD"], safe="") if s["PASSWORD"] else "") + "@"
    port = f":{s['PORT']}" if s["PORT"] else ""
    options = urlencode({**(s.get("OPTIONS") or {}), "application_name": WORKER_APPLICATION_NAME})
    return f"postgres://{auth}{s['HOST'] or 'localhost'}{port}/{quote(s['NAME'], safe='')}?{options}"


def wait_for(what, predicate, timeout, processes=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.name} ---\n{p.log()[-6000:]}" for p in processes)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


class CeleryProcess:
    """A `celery` command in its own process group, logging to a file."""

    def __init__(self, name, args, env, log_dir):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - the process writes to it until stop() closes it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.faults.worker_app", *args],
            cwd=settings.BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def log(self):
        return self.log_path.read_text(errors="replace")

    def kill_everything(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown: unacked messages go back to Redis
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # pool processes left behind, if any
        except ProcessLookupError:
            pass
        self._log.close()


class CeleryWorker(CeleryProcess):
    """`celery worker --pool prefork --concurrency N` on one queue."""

    def __init__(self, name, queue, env, log_dir, concurrency=1):
        super().__init__(f"worker-{name}", [
            "worker", "--pool", "prefork", "--concurrency", str(concurrency), "-Q", queue, "-n", f"{queue}-{name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"], env, log_dir)

    def wait_ready(self, timeout=60):
        wait_for(f"{self.name} to start", lambda: " ready." in self.log() or self.process.poll() is not None,
                 timeout, [self])
        assert self.process.poll() is None, f"{self.name} exited:\n{self.log()}"

    def pool_processes(self):
        """Pids of the prefork pool processes (children of the worker's main process)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def kill_pool_process(self):
        [pid] = self.pool_processes()
        os.kill(pid, signal.SIGKILL)
        return pid


class CeleryBeat(CeleryProcess):
    """`celery beat` with its schedule file at `schedule_path` (kept across restarts, as a volume would)."""

    def __init__(self, name, env, log_dir, schedule_path):
        super().__init__(f"beat-{name}", ["beat", "--schedule", str(schedule_path), "--loglevel", "INFO"], env, log_dir)

    def sent(self):
        """How many due tasks this beat has sent so far."""
        return self.log().count("Scheduler: Sending due task")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _service_env():
    """The environment for a service process (Redis): without libfaketime,
    which a run at another date (README: faketime ./dev test) preloads into
    every child. Redis runs on its own clock in production too, and under
    libfaketime it never starts (its allocator's clock_gettime recursion)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME")}
    env["LD_PRELOAD"] = " ".join(lib for lib in env.get("LD_PRELOAD", "").split() if "faketime" not in lib)
    return env


class PrivateRedis:
    """A redis-server of this test's own (never the shared one), configured as
    docker-compose runs it: nothing kept on disk, so a restart empties it."""

    def __init__(self, directory):
        self.name = "redis"
        self.port = free_port()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def log(self):
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self):
        redis_server = shutil.which("redis-server")
        assert redis_server, "redis-server is not installed"
        self.process = subprocess.Popen(
            [redis_server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=_service_env())
        wait_for("the private redis-server to answer", self.ping, 15, [self])

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash would: no save, no goodbye
            self.process.wait(timeout=10)

    def restart(self):
        self.stop()
        self.start()
