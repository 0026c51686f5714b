"""Settings read from the environment: typed helpers fail loudly, production needs real values."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from crm_alignment.env import env_bool, env_currency, env_int, env_list, env_str

REPO = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 20 + "-production-secret-" + "q" * 20


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("off", False)],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("CRM_TEST_FLAG", raw)
    assert env_bool("CRM_TEST_FLAG") is expected


def test_env_bool_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("CRM_TEST_FLAG", raising=False)
    assert env_bool("CRM_TEST_FLAG", default=True) is True


def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CRM_TEST_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="CRM_TEST_FLAG"):
        env_bool("CRM_TEST_FLAG")


def test_env_int_reads_numbers_and_refuses_words(monkeypatch):
    monkeypatch.setenv("CRM_TEST_INT", "42")
    assert env_int("CRM_TEST_INT", 1) == 42
    monkeypatch.setenv("CRM_TEST_INT", "forty-two")
    with pytest.raises(ImproperlyConfigured, match="CRM_TEST_INT must be a whole number"):
        env_int("CRM_TEST_INT", 1)
    monkeypatch.setenv("CRM_TEST_INT", " ")
    assert env_int("CRM_TEST_INT", 7) == 7


def test_env_str_required_refuses_unset_and_empty(monkeypatch):
    monkeypatch.setenv("CRM_TEST_STR", "")
    with pytest.raises(ImproperlyConfigured, match="Set the CRM_TEST_STR"):
        env_str("CRM_TEST_STR", required=True)
    monkeypatch.setenv("CRM_TEST_STR", "value")
    assert env_str("CRM_TEST_STR", required=True) == "value"


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("CRM_TEST_LIST", " a.example, ,b.example ")
    assert env_list("CRM_TEST_LIST", []) == ["a.example", "b.example"]


def test_env_currency_reads_a_three_letter_code_and_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("CRM_TEST_CURRENCY", raising=False)
    assert env_currency("CRM_TEST_CURRENCY", "EUR") == "EUR"
    monkeypatch.setenv("CRM_TEST_CURRENCY", " USD ")
    assert env_currency("CRM_TEST_CURRENCY", "EUR") == "USD"


@pytest.mark.parametrize("value", ["eur", "EURO", "E1R", "€", "US"])
def test_env_currency_refuses_anything_but_three_capital_letters_naming_the_variable(
    monkeypatch, value
):
    monkeypatch.setenv("CRM_TEST_CURRENCY", value)
    with pytest.raises(ImproperlyConfigured, match="CRM_TEST_CURRENCY must be an ISO 4217"):
        env_currency("CRM_TEST_CURRENCY", "EUR")


def _setup_django(tmp_path, code=None, **env):
    """Import the real settings in a clean process (settings are read once per process);
    `code` prints something else once they are set up."""
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "crm_alignment.settings",
        "CRM_VAR_DIR": str(tmp_path / "var"),
        **env,
    }
    code = "import django; django.setup(); " + (
        code
        or "from django.conf import settings; "
        "print(settings.DEBUG, settings.DATABASES['default']['ENGINE'], settings.CURRENCY, "
        "settings.ALLOWED_HOSTS)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_debug_off_without_a_secret_key_refuses_to_start(tmp_path):
    result = _setup_django(tmp_path, DJANGO_DEBUG="0", DJANGO_ALLOWED_HOSTS="crm.example.com")
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr


def test_debug_off_with_a_short_secret_key_refuses_to_start(tmp_path):
    result = _setup_django(
        tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="short",
        DJANGO_ALLOWED_HOSTS="crm.example.com",
    )
    assert result.returncode != 0
    assert "at least 50 random characters" in result.stderr


def _env_example_value(name: str) -> str:
    example = (REPO / ".env.example").read_text()
    match = re.search(rf"^{name}=(.*)$", example, flags=re.MULTILINE)
    assert match, f"{name} is not in .env.example"
    return match.group(1)


def test_debug_off_with_the_env_example_placeholder_key_refuses_to_start(tmp_path):
    placeholder = _env_example_value("DJANGO_SECRET_KEY")
    assert len(placeholder) >= 50  # so it is the placeholder check, not the length, that fails
    result = _setup_django(
        tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=placeholder,
        DJANGO_ALLOWED_HOSTS="crm.example.com",
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is still a placeholder" in result.stderr


@pytest.mark.parametrize("value", ["-1", "two"])
def test_api_num_proxies_must_be_a_whole_number_of_zero_or_more(tmp_path, value):
    result = _setup_django(tmp_path, DJANGO_DEBUG="1", API_NUM_PROXIES=value)
    assert result.returncode != 0
    assert "API_NUM_PROXIES must be" in result.stderr


def test_debug_off_without_allowed_hosts_refuses_to_start(tmp_path):
    result = _setup_django(tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY=GOOD_KEY)
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_production_values_start_cleanly(tmp_path):
    result = _setup_django(
        tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=GOOD_KEY,
        DJANGO_ALLOWED_HOSTS="crm.example.com",
        DATABASE_URL="postgres://crm@db.example.com:5432/crm",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["False", "django.db.backends.postgresql"]


def test_the_default_is_debug_off_unless_asked(tmp_path):
    # No DJANGO_DEBUG at all: production rules apply, so a key is demanded.
    result = _setup_django(tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_development_defaults_need_nothing_but_debug(tmp_path):
    result = _setup_django(tmp_path, DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["True", "django.db.backends.sqlite3"]


def test_a_malformed_boolean_setting_stops_start_up_naming_it(tmp_path):
    result = _setup_django(tmp_path, DJANGO_DEBUG="sometimes")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


@pytest.mark.parametrize("name", ["PASSWORD_RESET_THROTTLE"])
@pytest.mark.parametrize("value", ["ten a minute", "0/min", "10/fortnight"])
def test_a_malformed_throttle_rate_stops_start_up_naming_it(tmp_path, name, value):
    result = _setup_django(tmp_path, DJANGO_DEBUG="1", **{name: value})
    assert result.returncode != 0
    assert f"{name} must be a rate such as 10/min" in result.stderr


@pytest.mark.parametrize("value", ["eur", "Euro", "€"])
def test_a_malformed_currency_stops_start_up_naming_it(tmp_path, value):
    result = _setup_django(tmp_path, DJANGO_DEBUG="1", CURRENCY=value)
    assert result.returncode != 0
    assert "CURRENCY must be an ISO 4217 currency code" in result.stderr


def test_the_currency_defaults_to_euro_and_reads_the_environment(tmp_path):
    default = _setup_django(tmp_path, DJANGO_DEBUG="1")
    francs = _setup_django(tmp_path, DJANGO_DEBUG="1", CURRENCY="CHF")
    assert default.returncode == 0, default.stderr
    assert francs.returncode == 0, francs.stderr
    assert default.stdout.split()[2] == "EUR"
    assert francs.stdout.split()[2] == "CHF"


def test_env_example_lists_every_setting_the_settings_module_reads():
    settings_source = (REPO / "crm_alignment" / "settings.py").read_text()
    example = (REPO / ".env.example").read_text()
    readers = "str|bool|int|list|rate|currency|networks"
    names = set(re.findall(rf'env_(?:{readers})\(\s*"([A-Z0-9_]+)"', settings_source))
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert names, "no settings found"
    assert names - documented == set()


def test_check_deploy_passes_its_security_checks_with_production_values(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "CRM_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "crm_alignment.settings",
        "DJANGO_DEBUG": "0",
        # A key made the way .env.example and the README say to make one.
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "crm.example.com",
    }
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--tag",
            "security",
            "--fail-level",
            "WARNING",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("LOGIN_FAILURE_LIMIT", "LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be 1 or more"),
        (
            "LOGIN_COOLOFF_MINUTES",
            "LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be 1 or more",
        ),
        ("API_TOKEN_TTL", "API_TOKEN_TTL must be a whole number of days"),
    ],
)
def test_a_lockout_or_token_lifetime_below_one_stops_start_up_naming_it(tmp_path, name, message):
    result = _setup_django(tmp_path, DJANGO_DEBUG="1", **{name: "0"})
    assert result.returncode != 0
    assert message in result.stderr


def test_the_lockout_and_token_lifetime_read_the_environment(tmp_path):
    result = _setup_django(
        tmp_path,
        DJANGO_DEBUG="1",
        LOGIN_FAILURE_LIMIT="4",
        LOGIN_COOLOFF_MINUTES="2",
        API_TOKEN_TTL="7",
        code="from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()), "
        "s.REST_KNOX['TOKEN_TTL'].days)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["4", "120", "7"]
