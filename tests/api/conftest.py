"""API test helpers: a token-authenticated client per persona, and the seed chain."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)


@pytest.fixture
def api():
    """api(user) → an APIClient that sends that user's token; api() → anonymous."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def chain(executive):
    """goal → business strategy → CRM strategy, all active, owned by the executive."""
    goal = GoalFactory(owner=executive, title="Grow revenue while maintaining profit margin")
    business = BusinessStrategyFactory(goal=goal, owner=executive, title="Emerging markets")
    crm = CRMStrategyFactory(owner=executive, title="Enable local partners", serves=[business])
    return goal, business, crm


@pytest.fixture
def own_project(pm, sponsor, chain):
    """A proposed project the `pm` manages and the `sponsor` sponsors, linked to the chain."""
    project = ProjectFactory(manager=pm, sponsor=sponsor, title="Partner portal")
    ProjectLinkFactory(project=project, crm_strategy=chain[2])
    return project


@pytest.fixture
def other_project(other_pm, chain):
    """A project someone else manages and sponsors."""
    return ProjectFactory(manager=other_pm, title="Key account programme")


@pytest.fixture(autouse=True)
def _fast_api_settings(settings):
    """A fast hasher (every persona has a password), and a token throttle loose enough that
    only the throttling test itself meets it (it tightens the rate)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "10000/min"},
    }
