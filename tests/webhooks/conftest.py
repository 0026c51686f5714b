"""A real HTTP receiver on 127.0.0.1 (http.server in a thread) that answers as scripted, and the
settings every webhook test runs with: 127.0.0.1 allowed, the app at crm.example.com, short
timeouts and few attempts."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from core import events
from tests.tokens import token_for

HANG = "hang"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    # Answers in order; the last one repeats. An int is a status; HANG waits past the timeout.
    script: list = field(default_factory=lambda: [200])
    requests: list = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def next_answer(self):
        index = min(len(self.requests) - 1, len(self.script) - 1)
        return self.script[index]


@pytest.fixture
def receiver():
    holder = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            target = holder["receiver"]
            target.requests.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            answer = target.next_answer()
            if answer == HANG:
                # Longer than the client's read timeout; let go when the test ends.
                target.released.wait(10)
                return
            self.send_response(answer)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if answer < 400 else b"receiver broke")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["receiver"] = target = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield target
    target.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1"]
    settings.ALLOWED_HOSTS = ["testserver", "crm.example.com"]
    settings.SITE_URL = "https://crm.example.com"
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 1
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 1
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_PAUSE_AFTER_FAILURES = 10
    return settings


@pytest.fixture
def admin_api(admin_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(admin_user)}")
    return client


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def flag_event(n: int = 1, **overrides) -> events.Event:
    values = {
        "type": events.FLAG_OPENED,
        "key": f"flag.opened:{n}:2026-11-28T04:00:00+00:00",
        "subject_kind": "project",
        "subject_id": 12,
        "subject_title": "Partner portal",
        "path": "/projects/12/",
        "summary": "Critical flag on “Partner portal”: no CRM strategy.",
        "severity": events.CRITICAL,
        "recipients": (1,),
        "data": {"rule": "project.no_strategy", "explanation": "It serves no CRM strategy."},
    }
    return events.Event(**(values | overrides))


@pytest.fixture
def emit(django_capture_on_commit_callbacks):
    """Emit as a service does: inside a transaction; the sends run when it commits."""

    def _emit(*batch):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            events.emit_many(batch)

    return _emit


@pytest.fixture
def captured_events():
    """Every event emitted while the test runs (the real signal, a second receiver)."""
    seen = []

    def _listen(sender, **kwargs):
        seen.extend(kwargs["events"])

    events.emitted.connect(_listen, dispatch_uid="tests.webhooks.captured")
    yield seen
    events.emitted.disconnect(dispatch_uid="tests.webhooks.captured")
