"""`manage.py migrate` alone gives a working app: the database cache table (attempt limits,
scan locks) comes from a migration, not from a second command operators forget."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import logging
import django
django.setup()
from django.core.cache import cache
from django.test import Client

warnings = []
class Collect(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("core.throttling").addHandler(Collect(level=logging.WARNING))

cache.set("probe", 1)
assert cache.get("probe") == 1, "the database cache does not store"
client = Client()
login = client.get("/accounts/login/")
assert login.status_code == 200, login.status_code
signin = client.post("/accounts/login/", {"username": "nobody", "password": "wrong"})
assert signin.status_code == 200, signin.status_code
token = client.post(
    "/api/auth/token/", {"username": "nobody", "password": "wrong"},
    content_type="application/json",
)
assert token.status_code == 400, token.status_code
assert not warnings, warnings
print("ok")
"""


def test_a_fresh_database_migrated_with_migrate_alone_serves_sign_in_and_the_token_endpoint(
    tmp_path,
):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CACHE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env |= {
        "DJANGO_DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "crm_alignment.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "CRM_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT),
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr

    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert probe.returncode == 0, probe.stderr[-3000:]
    assert probe.stdout.strip().endswith("ok")
