"""The bench's throughput measure: the load generator counts what it gets, and gunicorn, started
as production runs it, serves /api/projects/ to it with a token and is always stopped."""

import http.server
import re
import secrets
import threading
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from knox.models import AuthToken

from crm_alignment import throughput
from crm_alignment.portfolio import Shape, generate_portfolio


class _Handler(http.server.BaseHTTPRequestHandler):
    """200 on /ok; 500 on /fail; on /flaky every second request fails."""

    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn's threaded workers do
    flaky_count = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        status = 200
        if self.path == "/fail":
            status = 500
        elif self.path == "/flaky":
            with self.lock:
                type(self).flaky_count += 1
                status = 500 if self.flaky_count % 2 == 0 else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def local_server():
    server = http.server.ThreadingHTTPServer((throughput.HOST, 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_load_generator_counts_requests_and_their_latency(local_server):
    result = throughput.drive(local_server, "/ok", connections=3, seconds=0.5, warmup=0.1)

    assert result.requests > 0 and result.errors == 0
    assert result.per_second == pytest.approx(result.requests / 0.5)
    assert 0 < result.percentile(50) <= result.percentile(95) <= max(result.latencies)


def test_the_load_generator_counts_every_answer_but_200_as_an_error(local_server):
    failing = throughput.drive(local_server, "/fail", connections=2, seconds=0.3, warmup=0)
    flaky = throughput.drive(local_server, "/flaky", connections=1, seconds=0.3, warmup=0)

    assert failing.requests == 0 and failing.errors > 0
    assert failing.first_error.startswith("500")
    assert flaky.requests > 0 and abs(flaky.errors - flaky.requests) <= 1


def test_the_load_generator_counts_a_refused_connection_as_an_error():
    port = throughput.free_port()  # nothing listens there

    result = throughput.drive(port, "/", connections=1, seconds=0.2, warmup=0)

    assert result.requests == 0 and result.errors > 0
    assert "ConnectionRefusedError" in result.first_error


def test_gunicorn_that_cannot_start_is_reported_with_its_log(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "CRM_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "crm_alignment.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "too-short",
        "DJANGO_ALLOWED_HOSTS": throughput.HOST,
        "GUNICORN_WORKERS": "1",
    }
    with (
        pytest.raises(throughput.ServerError, match="at least 50 random characters"),
        throughput.gunicorn(env, tmp_path / "gunicorn.log"),
    ):
        pytest.fail("gunicorn should not have started")


def test_gunicorn_is_stopped_when_the_block_fails(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "CRM_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "crm_alignment.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": throughput.HOST,
        "GUNICORN_WORKERS": "1",
    }
    with (
        pytest.raises(RuntimeError, match="on purpose"),
        throughput.gunicorn(env, tmp_path / "gunicorn.log") as server,
    ):
        status, _ = server.request("GET", "/api/projects/")
        assert status == 401  # served, by a production process: no token, no list
        raise RuntimeError("on purpose")

    assert server.process.poll() is not None


def test_gunicorn_settings_come_from_the_environment():
    assert throughput.server_settings({})["workers"] >= 1
    assert throughput.server_settings({"GUNICORN_WORKERS": "5"})["workers"] == 5
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS must be a whole number"):
        throughput.server_settings({"GUNICORN_WORKERS": "many"})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_drives_the_project_list_on_gunicorn_with_a_token(monkeypatch, settings):
    # PostgreSQL: gunicorn's processes read what this test commits (transaction=True).
    settings.DEBUG = True  # a development command; Django's test set-up turns DEBUG off
    monkeypatch.setenv("GUNICORN_WORKERS", "1")
    generate_portfolio(Shape(projects=20, features_per_project=2))
    executive = get_user_model().objects.filter(groups__name="executive").order_by("pk").first()
    password_before = executive.password

    out = StringIO()
    call_command(
        "bench",
        reuse=True,
        repeat=1,
        recheck_runs=1,
        connections=2,
        duration=1.5,
        warmup=0.5,
        stdout=out,
    )

    output = out.getvalue()
    line = next(row for row in output.splitlines() if row.startswith("/api/projects/ on gunicorn"))
    match = re.search(r"(\d+) req/s .* (\d+) errors \(([\d,]+) requests", line)
    assert match, line
    assert int(match[1]) > 0 and int(match[3].replace(",", "")) > 0
    assert int(match[2]) == 0, output
    assert "/api/projects/ on gunicorn: req/s (p50 / p95, errors)" in output
    # The run's password and token are gone again.
    executive.refresh_from_db()
    assert executive.password == password_before
    assert not AuthToken.objects.filter(user=executive).exists()
