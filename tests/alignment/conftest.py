"""Helpers for engine tests: a healthy chain that no rule flags, and flag look-ups."""

import datetime

import pytest
from django.utils import timezone

from alignment import engine
from alignment.models import UNRESOLVED_STATES, Flag
from projects.models import ProjectStatus
from tests.factories import (
    CRMStrategyFactory,
    ProjectCheckInFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)


def today() -> datetime.date:
    return timezone.localdate()


def healthy_project(crm_strategy=None, **fields):
    """An active project on an active chain with sponsor, metric, roadmap, fresh check-in."""
    crm_strategy = crm_strategy or CRMStrategyFactory()
    fields.setdefault("status", ProjectStatus.ACTIVE)
    fields.setdefault("start_date", today())
    project = ProjectFactory(**fields)
    ProjectLinkFactory(project=project, crm_strategy=crm_strategy)
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    ProjectCheckInFactory(project=project, checked_in_on=today())
    return project


def scan():
    return engine.scan_full()


def flagged(code: str) -> set[str]:
    """Labels of the unresolved flags of one rule."""
    return set(
        Flag.objects.filter(rule=code, state__in=UNRESOLVED_STATES).values_list(
            "subject_label", flat=True
        )
    )


def all_unresolved() -> set[tuple[str, str]]:
    return set(
        Flag.objects.filter(state__in=UNRESOLVED_STATES).values_list("rule", "subject_label")
    )


@pytest.fixture
def healthy(db):
    return healthy_project()


@pytest.fixture
def queued_rechecks(monkeypatch):
    """The re-checks edits queue, as the argument lists they were queued with (not run)."""
    from alignment import tasks

    queued: list = []
    monkeypatch.setattr(
        tasks.recheck_projects, "apply_async", lambda args, countdown: queued.append(args)
    )
    return queued
