"""Helpers for page tests: sign in as a persona, and compare query counts for 2 and 50 rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@pytest.fixture
def as_user(client):
    """as_user(user) → the test client signed in as that user."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def queries_for(client):
    """queries_for(url) → the number of queries one GET of `url` makes (after a warm-up
    request, so one-off lookups such as content types do not count)."""

    def count(url: str) -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured)

    return count
