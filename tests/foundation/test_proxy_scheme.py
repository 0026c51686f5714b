"""Whether a request came over HTTPS is gunicorn's word (wsgi.url_scheme), never a header a
client can write: X-Forwarded-Proto counts only when a trusted proxy (FORWARDED_ALLOW_IPS) sent
it, which gunicorn checks against the peer's address before Django sees the request."""

import contextlib
import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = "/accounts/login/"


@pytest.fixture
def https_required(settings):
    """Production's redirect to HTTPS (on whenever debug is off)."""
    settings.SECURE_SSL_REDIRECT = True


@pytest.mark.usefixtures("https_required")
def test_a_forged_forwarded_proto_header_is_still_redirected_to_https(client):
    response = client.get(PAGE, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{PAGE}"


@pytest.mark.django_db
@pytest.mark.usefixtures("https_required")
def test_a_request_the_server_received_over_https_is_served(client):
    # secure=True is wsgi.url_scheme "https": what gunicorn sets for a trusted proxy's request.
    response = client.get(PAGE, secure=True)

    assert response.status_code == 200


# --- The same through gunicorn itself, on loopback.


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _gunicorn(tmp_path: Path, forwarded_allow_ips: str):
    """gunicorn serving the app with production settings on a free loopback port."""
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "CRM_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "crm_alignment.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    command = [sys.executable, "-m", "gunicorn", "crm_alignment.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1"]
    command += ["--forwarded-allow-ips", forwarded_allow_ips]
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                _get(port, {})
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def _get(port: int, headers: dict[str, str]) -> http.client.HTTPResponse:
    # The schema needs no database or static files, so a bare production process serves it.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/schema/", headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


FORGED = {"X-Forwarded-Proto": "https"}


def test_gunicorn_ignores_a_forwarded_proto_header_from_an_untrusted_address(tmp_path):
    # Only 192.0.2.1 (a documentation address, never this machine) is the trusted proxy.
    with _gunicorn(tmp_path, "192.0.2.1") as port:
        response = _get(port, FORGED)

    assert response.status == 301
    assert response.getheader("Location") == f"https://127.0.0.1:{port}/api/schema/"


def test_gunicorn_honours_a_forwarded_proto_header_from_the_trusted_proxy(tmp_path):
    with _gunicorn(tmp_path, "127.0.0.1") as port:
        forwarded, plain = _get(port, FORGED), _get(port, {})

    assert forwarded.status == 200
    assert plain.status == 301  # the proxy saying nothing (or "http") is still redirected
