"""Throughput under load: the app on gunicorn, as production runs it, driven over loopback by a
small load generator (threads and http.client from the standard library).

`gunicorn()` starts gunicorn with the project's `gunicorn.conf.py` (the production image's worker
settings) against a database, with production settings (DEBUG off, a throw-away secret key),
bound to a free port on 127.0.0.1, and always stops it. `drive()` keeps N connections busy with
one URL for a fixed time after a warm-up and reports requests per second, latency percentiles
and errors. Both are used by `manage.py bench` (crm_alignment.bench).

Why no load-testing package: the measure needed is one URL, N connections, a fixed time; a
thread per connection on http.client does that in a few dozen lines, adds nothing to install,
and the load generator's own CPU use is small next to the server's (it does not parse the JSON
it gets, only checks the status and reads the body).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import runpy
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = ROOT / "gunicorn.conf.py"
HOST = "127.0.0.1"
# gunicorn trusts X-Forwarded-Proto from this address only; the load generator speaks as the
# TLS proxy in front of the app would, so the app's HTTPS redirect stays out of the measure.
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "Host": HOST}


class ServerError(Exception):
    """gunicorn did not start, or the app would not sign in."""


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def database_url() -> str:
    """The URL of the database this process uses, for a server process to use the same one."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        raise ServerError("gunicorn shares the database only on PostgreSQL (DATABASE_URL).")
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


def server_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """gunicorn's worker settings as `gunicorn.conf.py` resolves them from `environ`."""
    resolve = runpy.run_path(str(GUNICORN_CONFIG))["worker_settings"]
    return dict(resolve(environ))


def describe(settings: Mapping[str, Any]) -> str:
    """'3 sync workers', '2 gthread workers x 4 threads'."""
    workers, kind, threads = settings["workers"], settings["worker_class"], settings["threads"]
    text = f"{workers} {kind} worker{'s' if workers != 1 else ''}"
    return text + (f" x {threads} threads" if kind == "gthread" else "")


def production_environment(**overrides: str) -> dict[str, str]:
    """This process's environment (broker, cache, gunicorn settings pass through) with the values
    production requires: DEBUG off, a secret key made for this run, the loopback host allowed,
    this process's database, and persistent connections as docker-compose.yml keeps them."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="crm_alignment.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS=HOST,
        DATABASE_URL=database_url(),
        DATABASE_CONN_MAX_AGE=os.environ.get("DATABASE_CONN_MAX_AGE") or "60",
    )
    env.update(overrides)
    return env


@dataclass
class Server:
    """A running gunicorn: where it listens and its log."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def request(
        self, method: str, path: str, *, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            payload = None if body is None else json.dumps(body).encode()
            all_headers = {**PROXY_HEADERS, **(headers or {})}
            if payload is not None:
                all_headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=all_headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def sign_in(self, username: str, password: str) -> str:
        """A new API token from POST /api/auth/token/."""
        status, body = self.request(
            "POST", "/api/auth/token/", body={"username": username, "password": password}
        )
        if status != 200:
            raise ServerError(f"POST /api/auth/token/ answered {status}: {body[:300]!r}")
        return str(json.loads(body)["token"])


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"gunicorn exited at start-up:\n{server.log_tail()}")
        try:
            server.request("GET", "/api/")  # any answer (401, 404) means a worker serves
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    raise ServerError(f"gunicorn did not answer within {timeout:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (gunicorn finishes the requests in hand), then SIGKILL if it does not exit."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def gunicorn(
    env: Mapping[str, str], log_path: Path, *, start_timeout: float = 60
) -> Iterator[Server]:
    """gunicorn serving the app with `gunicorn.conf.py` and `env`, on a free loopback port,
    with its access log; stopped when the block ends, whatever happens in it."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(GUNICORN_CONFIG),
        "crm_alignment.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--forwarded-allow-ips",
        HOST,
        "--access-logfile",
        "-",
    ]
    with open(log_path, "wb") as log:
        # This interpreter with fixed arguments; only the port is computed.
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        server = Server(port, process, log_path)
        try:
            _wait_ready(server, start_timeout)
            yield server
        finally:
            _stop(process)


# --- The load generator ---------------------------------------------------------------------


@dataclass
class LoadResult:
    """What N connections got from one URL in the measured window (after the warm-up)."""

    connections: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# Each connection stops after this many requests even if time is left: the loop is bounded in
# count as well as in time.
MAX_REQUESTS_PER_CONNECTION = 100_000


def drive(
    port: int,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    connections: int = 10,
    seconds: float = 10.0,
    warmup: float = 2.0,
    timeout: float = 30.0,
) -> LoadResult:
    """Keep `connections` connections to 127.0.0.1:`port` busy with GET `path`, one request
    after another, for `warmup` then `seconds` seconds. Requests that complete in the measured
    window count, with their latency; an error is any answer but 200, or a failed connection,
    counted from the start of the warm-up."""
    all_headers = {**PROXY_HEADERS, **(headers or {})}
    started = time.monotonic()
    measure_from = started + warmup
    end = measure_from + seconds
    lock = threading.Lock()
    result = LoadResult(connections=connections, seconds=seconds)

    def one_connection() -> None:
        latencies: list[float] = []
        errors = 0
        first_error = ""
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        try:
            for _ in range(MAX_REQUESTS_PER_CONNECTION):
                began = time.monotonic()
                if began >= end:
                    break
                problem = ""
                try:
                    conn.request("GET", path, headers=all_headers)
                    response = conn.getresponse()
                    body = response.read()
                    if response.status != 200:
                        problem = f"{response.status}: {body[:200]!r}"
                except (OSError, http.client.HTTPException) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                    conn.close()  # the next request opens a new connection
                finished = time.monotonic()
                if problem:
                    errors += 1
                    first_error = first_error or problem
                elif measure_from <= finished <= end:
                    latencies.append(finished - began)
        finally:
            conn.close()
            with lock:
                result.latencies.extend(latencies)
                result.errors += errors
                result.first_error = result.first_error or first_error

    threads = [threading.Thread(target=one_connection, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=warmup + seconds + timeout + 10)
    return result
