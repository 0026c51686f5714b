import pytest

from core import events
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://crm.example.com"
    settings.NOTIFICATIONS_MAIL_MAX_ATTEMPTS = 3


def event(type_=events.APPROVAL_REQUESTED, *, key="k1", recipients=(), **fields):
    fields.setdefault("severity", events.INFO)
    return events.Event(
        type=type_,
        key=key,
        subject_kind="project",
        subject_id=fields.pop("subject_id", 7),
        subject_title=fields.pop("subject_title", "Loyalty app"),
        path=fields.pop("path", "/projects/7/"),
        summary=fields.pop("summary", "“Loyalty app” waits for your approval"),
        recipients=tuple(recipients),
        **fields,
    )


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", roles=["sponsor"])


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", roles=["project_manager"])
