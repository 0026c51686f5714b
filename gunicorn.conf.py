"""gunicorn's worker settings, read by the production image (Dockerfile) and by `manage.py bench`,
which starts gunicorn with this file to measure what production runs. The address, the access
log and the trusted proxies are given on the command line by whoever starts it.

GUNICORN_WORKERS: worker processes (default 3).
"""

import os
from collections.abc import Mapping
from typing import Any


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}.") from None
    if number < 1:
        raise SystemExit(f"{name} must be 1 or more, not {number}.")
    return number


def worker_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The worker settings this environment asks for."""
    return {
        "workers": _positive_int(environ, "GUNICORN_WORKERS", 3),
        "worker_class": "sync",
        "threads": 1,
    }


_settings = worker_settings(os.environ)
workers = _settings["workers"]
worker_class = _settings["worker_class"]
threads = _settings["threads"]
