"""Private throwaway PostgreSQL, Redis and gunicorn processes, and a relay, for tests that stop dependencies.

Each one lives in its own temporary directory on its own free port, so stopping it never touches the machine's
shared servers; every process is started in a new session and stopped by its own pid or process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from lipservice_fakes import wait_until

from tests.conftest import service_unavailable

ROOT = Path(__file__).resolve().parents[2]
# Variables of the test run that must not leak into the app under test: it gets only the private instances.
_SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CLICKHOUSE_URL",
    "PROMETHEUS_MULTIPROC_DIR",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "LIPSERVICE_LLM_PROVIDER",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str) -> str:
    """The binary's path; a missing one fails the test when services are required, else skips it."""
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if found is None:
        service_unavailable(name, "not installed")
        raise AssertionError("unreachable")
    return found


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _stop_group(process: subprocess.Popen[bytes], *, sig: int, wait: float) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class PrivateRedis:
    """redis-server without persistence: a restart comes back empty, as a crashed cache does."""

    def __init__(self, directory: Path) -> None:
        self.binary = require_binary("redis-server")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--dir", str(self.directory)], stdout=log, stderr=log, start_new_session=True
            )
        if not wait_until(lambda: self.ping(), 10):
            self.kill()
            service_unavailable("private Redis", (self.directory / "redis.log").read_text()[-500:])

    def kill(self) -> None:
        """Stop abruptly, as a crash or an OOM kill would."""
        if self.process is not None:
            _stop_group(self.process, sig=signal.SIGKILL, wait=10)
            self.process = None

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=1, socket_connect_timeout=1)


class PrivatePostgres:
    """A PostgreSQL cluster of its own (trust auth, unix socket in its directory), run as an unprivileged user."""

    def __init__(self) -> None:
        self.initdb = require_binary("initdb")
        self.pg_ctl = require_binary("pg_ctl")
        self._as_user: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root; the cluster belongs to the `postgres` system user instead.
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                service_unavailable("private PostgreSQL", "running as root and there is no 'postgres' user")
                raise
            self._as_user = [require_binary("runuser"), "-u", "postgres", "--"]
        # Its own top-level directory: the cluster's owner must be able to reach it, which pytest's tmp_path is not.
        self.directory = Path(tempfile.mkdtemp(prefix="faults_pg_"))
        if owner is not None:
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self.data = self.directory / "data"
        self.port = free_port()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, *command], capture_output=True, text=True, timeout=timeout, cwd=self.directory
        )

    def init(self) -> None:
        result = self._run(
            self.initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )
        if result.returncode != 0:
            service_unavailable("private PostgreSQL (initdb)", (result.stderr or result.stdout)[-500:])

    def start(self) -> None:
        # fsync=off only skips flushing the OS cache, which a killed server does not lose; commits stay synchronous,
        # so an immediate stop loses nothing that was acknowledged.
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40"
        result = self._run(
            self.pg_ctl, "-D", str(self.data), "-l", str(self.directory / "postgres.log"), "-w", "-t", "30",
            "-o", options, "start",
        )  # fmt: skip
        if result.returncode != 0:
            log = self.directory / "postgres.log"
            service_unavailable(
                "private PostgreSQL", (result.stderr + (log.read_text() if log.exists() else ""))[-800:]
            )

    def running(self) -> bool:
        return self._run(self.pg_ctl, "-D", str(self.data), "status").returncode == 0

    def start_if_stopped(self) -> None:
        if not self.running():
            self.start()

    def stop(self, *, mode: str = "immediate") -> None:
        """`immediate` ends every backend at once, mid-transaction, as a crash would."""
        if (self.data / "postmaster.pid").exists():
            self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5)

    def create_database(self, name: str, *, template: str = "template1") -> str:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def rows(self, database: str, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.connect(database) as conn:
            return list(conn.execute(sql, params or {}).fetchall())


def app_environment(
    *, data_dir: Path, database_url: str, redis: PrivateRedis | None = None, **extra: str
) -> dict[str, str]:
    """The app's environment: only the private instances given, short timeouts, and no throttling in the way."""
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    if redis is not None:
        env.update({"REDIS_URL": redis.url(0), "CELERY_BROKER_URL": redis.url(1)})
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "lipservice.settings",
            "LIPSERVICE_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "DATABASE_CONNECT_TIMEOUT": "2",
            "REDIS_CONNECT_TIMEOUT": "0.5",
            "REDIS_TIMEOUT": "0.5",
            "CELERY_BROKER_CONNECTION_TIMEOUT": "1",
            "LIPSERVICE_API_RATE": "1000000/min",
            "LIPSERVICE_LLM_PROVIDER": "rules",
            "LIPSERVICE_LOG_LEVEL": "WARNING",
            # The private PostgreSQL, Redis and ClickHouse instances and the local LLM stand-in are on loopback.
            "LIPSERVICE_OUTBOUND_ALLOW": "127.0.0.0/8,::1/128,localhost",
            **extra,
        }
    )
    return env


def run_django(code: str, env: Mapping[str, str], *, timeout: float = 120) -> str:
    """Run Python with Django set up against `env`'s services; returns the last line it printed."""
    result = subprocess.run(
        [sys.executable, "-c", "import django\ndjango.setup()\n" + code],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"django snippet failed:\n{result.stderr[-3000:]}")
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def migrate(env: Mapping[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stderr[-3000:]}")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Gunicorn:
    """The real app (lipservice.wsgi) in a gunicorn of its own, spoken to over HTTP."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "lipservice.wsgi", "--bind", f"127.0.0.1:{self.port}",
            "--workers", "1", "--threads", "4", "--timeout", "60", "--graceful-timeout", "5",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        if not wait_until(lambda: self.alive() and self._healthy(), 60, interval=0.2):
            self.stop()
            raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def processes(self) -> set[int]:
        """The master and its workers: the same set after a fault means nothing was restarted."""
        if self.process is None:
            return set()
        master = self.process.pid
        workers = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                # The command name may hold spaces; the parent pid is the second field after its closing paren.
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                    workers.add(int(stat.parent.name))
        return {master, *workers} if workers else {master}

    def _healthy(self) -> bool:
        if not _port_answers(self.port):
            return False
        try:
            return self.request("GET", "/api/v1/health", timeout=10).status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process, sig=signal.SIGTERM, wait=10)

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the app's Prometheus metrics (one worker, so its counters are the whole app's)."""
        text = self.request("GET", "/metrics").body.decode()
        wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
        for line in text.splitlines():
            sample, _, value = line.rpartition(" ")
            if sample == wanted:
                return float(value)
        return 0.0

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 15,
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


class TcpRelay:
    """Forwards a local port to a server's port and calls `trip` once after `after_bytes` of the server's replies.

    It changes no byte; it only tells the test when a conversation has reached a known point, so the real server
    can be killed there rather than at a moment guessed with sleeps.
    """

    def __init__(self, target_port: int, *, after_bytes: int, trip: Callable[[], None]) -> None:
        self.target_port = target_port
        self.after_bytes = after_bytes
        self._trip = trip
        self.replied = 0
        self.tripped = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, name="faults-relay", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
                if replies:
                    self._count(len(chunk))
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _count(self, size: int) -> None:
        with self._lock:
            self.replied += size
            due = self.replied >= self.after_bytes and not self.tripped.is_set()
            if due:
                self.tripped.set()
        if due:
            self._trip()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
