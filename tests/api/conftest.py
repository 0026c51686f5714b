"""API test helpers: a token-authenticated client per persona, and the seed chain."""

import pytest
from rest_framework.test import APIClient

from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    GoalFactory,
    ProjectFactory,
    ProjectLinkFactory,
)
from tests.tokens import token_for


@pytest.fixture
def api():
    """api(user) → an APIClient that sends that user's token; api() → anonymous."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
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
    """A fast hasher: every persona has a password."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
