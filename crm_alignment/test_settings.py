"""Settings for the test suite: development defaults unless the environment says otherwise."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from .settings import *  # noqa: F403

# Factories create many users; the default hasher's deliberate slowness would dominate the run.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
