"""Small typed readers for settings from the environment; they fail loudly on bad values."""

import os
import re

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    """A string; `required` raises when unset or empty (used for production-only values)."""
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default if default is not None else ""
    return value


def env_bool(name: str, default: bool = False) -> bool:
    """A boolean from 1/0, true/false, yes/no, on/off."""
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}.")


def env_int(name: str, default: int) -> int:
    """An integer."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blanks are dropped."""
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


_RATE = re.compile(r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A throttle rate as "N/period" (period: s, min, hour or day), checked at start-up rather
    than failing the first request that is counted against it."""
    value = env_str(name, default).strip()
    if not _RATE.match(value):
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 10/min (N per s, min, hour or day), not {value!r}."
        )
    return value


_CURRENCY = re.compile(r"^[A-Z]{3}$")


def env_currency(name: str, default: str) -> str:
    """An ISO 4217 currency code: three capital letters, such as EUR or USD."""
    value = env_str(name, default).strip()
    if not _CURRENCY.match(value):
        raise ImproperlyConfigured(
            f"{name} must be an ISO 4217 currency code of three capital letters such as EUR, "
            f"not {value!r}."
        )
    return value


def env_networks(name: str) -> list[str]:
    """A comma-separated list of IP addresses or networks ("10.0.0.0/8", "127.0.0.1", "::1"),
    each checked at start-up; returned as written."""
    import ipaddress

    networks = env_list(name, [])
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks such as 10.0.0.0/8, not {network!r}."
            ) from None
    return networks
