"""Contract: every write gives the same outcome whichever door it comes through.

Each write — create, update, status change, delete, link, approve, acknowledge, waive — is done
by every role through the page (posting the page's own form, as a browser would), the REST API
and the Django admin, each from the same starting point (a savepoint rolled back after each
try). The state it leaves must be the same for page and API for every role, and for the admin
too where the role can use the admin (superusers; everyone else is sent to its sign-in page and
nothing changes). Each row also names the roles that may do it, so the doors cannot all agree
on the wrong answer.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alignment.models import Flag
from goals.models import KPI, BusinessGoal, GoalStatus
from projects.models import CRMProject, Feature, ProjectStatus, RoadmapPhase, SuccessMetric
from strategies.models import BusinessStrategy, CRMStrategy, StrategyStatus
from tests.contract.forms import form_data
from tests.factories import (
    BusinessStrategyFactory,
    CRMStrategyFactory,
    FeatureFactory,
    GoalFactory,
    KPIFactory,
    ProjectFactory,
    ProjectLinkFactory,
    RoadmapPhaseFactory,
    SuccessMetricFactory,
)
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

ROLES = ["nobody", "viewer", "executive", "project_manager", "sponsor", "admin"]
STRATEGISTS = {"executive", "admin"}
MANAGER = {"project_manager", "admin"}  # of the world's project (the pm manages it)
DECIDERS = {"sponsor", "executive", "admin"}  # the world's project's sponsor, executives, admins


@dataclass
class Door:
    """How one door does the write. `url(w)` is the address; for page and admin `scrape(w)` is
    the page whose form is posted (default: the same address) and `marker` a field that picks
    the form; `data(w)` the changes (page/admin) or the JSON body (API)."""

    url: Callable[[Any], str]
    data: Callable[[Any], dict[str, Any]] = lambda w: {}
    marker: str | None = None
    scrape: Callable[[Any], str] | None = None
    method: str = "post"
    form: bool = True  # False: a button that posts no form (retire, delete, acknowledge)


@dataclass
class Write:
    name: str
    allowed: set[str]
    state: Callable[[Any], Any]  # what the write changes, read from the database
    page: Door | None = None
    api: Door | None = None
    admin: Door | None = None
    notes: list[str] = field(default_factory=list)


# --- The world


@pytest.fixture
def w(executive, pm, other_pm, sponsor, viewer, admin_user, nobody):
    goal = GoalFactory(owner=executive, title="Grow revenue")
    retired_goal = GoalFactory(owner=executive, title="Old goal", status=GoalStatus.RETIRED)
    bs = BusinessStrategyFactory(goal=goal, owner=executive, title="Mature markets")
    crm = CRMStrategyFactory(owner=executive, title="One face to the customer", serves=[bs])
    crm2 = CRMStrategyFactory(owner=executive, title="Partner enablement", serves=[bs])
    project = ProjectFactory(manager=pm, sponsor=sponsor, title="Unified customer view")
    ProjectLinkFactory(project=project, crm_strategy=crm)
    metric = SuccessMetricFactory(project=project)
    phase = RoadmapPhaseFactory(project=project)
    now = timezone.now()
    return SimpleNamespace(
        metric=metric,
        phase=phase,
        users={
            "nobody": nobody,
            "viewer": viewer,
            "executive": executive,
            "project_manager": pm,
            "sponsor": sponsor,
            "admin": admin_user,
        },
        pm=pm,
        other_pm=other_pm,
        sponsor=sponsor,
        goal=goal,
        retired_goal=retired_goal,
        leaf_goal=GoalFactory(owner=executive, title="Nothing under it"),
        kpi=KPIFactory(goal=goal, name="Margin"),
        bs=bs,
        crm=crm,
        crm2=crm2,
        project=project,
        proposal=ProjectFactory(manager=pm, sponsor=sponsor, title="Never started"),
        ready=_ready_proposal(pm, sponsor),
        approved=ProjectFactory(
            manager=pm,
            sponsor=sponsor,
            title="Approved, not started",
            status=ProjectStatus.APPROVED,
            approved_at=now,
        ),
        leaf_bs=BusinessStrategyFactory(goal=goal, owner=executive, title="Nothing serves it"),
        leaf_crm=CRMStrategyFactory(owner=executive, title="Nothing links to it", serves=[]),
        feature=FeatureFactory(project=project, title="Single sign-on"),
        flag=Flag.objects.create(
            rule="project.no_roadmap",
            severity="warning",
            subject_type="project",
            subject_id=project.pk,
            subject_label=project.title,
            project=project,
            message="Add a roadmap.",
            first_seen=now,
            last_seen=now,
        ),
    )


def _ready_proposal(pm, sponsor):
    """A proposal nothing blocks: sponsor, a metric with baseline and target, a roadmap."""
    project = ProjectFactory(
        manager=pm, sponsor=sponsor, title="Ready to approve", status=ProjectStatus.PROPOSED
    )
    SuccessMetricFactory(project=project)
    RoadmapPhaseFactory(project=project)
    return project


def _values(model, pk, *fields):
    return model.objects.filter(pk=pk).values_list(*fields).first()


def _in_week():
    return (timezone.now() + datetime.timedelta(days=7)).replace(microsecond=0)


WRITES = [
    Write(
        "goal create",
        STRATEGISTS,
        state=lambda w: BusinessGoal.objects.filter(title="Keep customers").count(),
        page=Door(lambda w: reverse("goals:create"), lambda w: {"title": "Keep customers"}),
        api=Door(lambda w: reverse("api:goal-list"), lambda w: {"title": "Keep customers"}),
        admin=Door(
            lambda w: reverse("admin:goals_businessgoal_add"),
            lambda w: {"title": "Keep customers", "owner": w.users["executive"].pk},
        ),
    ),
    Write(
        "goal update",
        STRATEGISTS,
        state=lambda w: _values(BusinessGoal, w.goal.pk, "description", "priority"),
        page=Door(
            lambda w: reverse("goals:edit", args=[w.goal.pk]), lambda w: {"description": "Why"}
        ),
        api=Door(
            lambda w: reverse("api:goal-detail", args=[w.goal.pk]),
            lambda w: {"description": "Why"},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:goals_businessgoal_change", args=[w.goal.pk]),
            lambda w: {"description": "Why"},
        ),
    ),
    Write(
        "goal retire (status change)",
        STRATEGISTS,
        state=lambda w: _values(BusinessGoal, w.goal.pk, "status"),
        page=Door(lambda w: reverse("goals:retire", args=[w.goal.pk]), form=False),
        api=Door(
            lambda w: reverse("api:goal-detail", args=[w.goal.pk]),
            lambda w: {"status": GoalStatus.RETIRED},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:goals_businessgoal_change", args=[w.goal.pk]),
            lambda w: {"status": GoalStatus.RETIRED},
        ),
    ),
    Write(
        "goal delete",
        STRATEGISTS,
        state=lambda w: BusinessGoal.objects.filter(pk=w.leaf_goal.pk).exists(),
        api=Door(lambda w: reverse("api:goal-detail", args=[w.leaf_goal.pk]), method="delete"),
        admin=Door(
            lambda w: reverse("admin:goals_businessgoal_delete", args=[w.leaf_goal.pk]),
            lambda w: {"post": "yes"},
        ),
    ),
    Write(
        "goal delete with strategies under it (refused everywhere)",
        set(),
        state=lambda w: BusinessGoal.objects.filter(pk=w.goal.pk).exists(),
        api=Door(lambda w: reverse("api:goal-detail", args=[w.goal.pk]), method="delete"),
        admin=Door(
            lambda w: reverse("admin:goals_businessgoal_delete", args=[w.goal.pk]),
            lambda w: {"post": "yes"},
        ),
    ),
    Write(
        "KPI create",
        STRATEGISTS,
        state=lambda w: KPI.objects.filter(name="Churn").count(),
        page=Door(
            lambda w: reverse("goals:kpi_create", args=[w.goal.pk]),
            lambda w: {"name": "Churn", "baseline": "10", "target": "5", "direction": "decrease"},
        ),
        api=Door(
            lambda w: reverse("api:kpi-list"),
            lambda w: {
                "goal": w.goal.pk,
                "name": "Churn",
                "baseline": "10",
                "target": "5",
                "direction": "decrease",
            },
        ),
        admin=Door(
            lambda w: reverse("admin:goals_kpi_add"),
            lambda w: {
                "goal": w.goal.pk,
                "name": "Churn",
                "baseline": "10",
                "target": "5",
                "direction": "decrease",
            },
        ),
    ),
    Write(
        "KPI update",
        STRATEGISTS,
        state=lambda w: _values(KPI, w.kpi.pk, "unit", "target"),
        page=Door(lambda w: reverse("goals:kpi_edit", args=[w.kpi.pk]), lambda w: {"unit": "pts"}),
        api=Door(
            lambda w: reverse("api:kpi-detail", args=[w.kpi.pk]),
            lambda w: {"unit": "pts"},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:goals_kpi_change", args=[w.kpi.pk]), lambda w: {"unit": "pts"}
        ),
    ),
    Write(
        "KPI delete",
        STRATEGISTS,
        state=lambda w: KPI.objects.filter(pk=w.kpi.pk).exists(),
        page=Door(lambda w: reverse("goals:kpi_delete", args=[w.kpi.pk]), form=False),
        api=Door(lambda w: reverse("api:kpi-detail", args=[w.kpi.pk]), method="delete"),
        admin=Door(
            lambda w: reverse("admin:goals_kpi_delete", args=[w.kpi.pk]),
            lambda w: {"post": "yes"},
        ),
    ),
    Write(
        "KPI reading",
        STRATEGISTS,
        state=lambda w: (_values(KPI, w.kpi.pk, "current"), w.kpi.check_ins.count()),
        page=Door(
            lambda w: reverse("goals:kpi_check_in", args=[w.kpi.pk]),
            lambda w: {"reading-value": "12", "reading-recorded_on": "2026-01-15"},
        ),
        api=Door(
            lambda w: reverse("api:kpi-check-in", args=[w.kpi.pk]),
            lambda w: {"value": "12", "recorded_on": "2026-01-15"},
        ),
    ),
]

WRITES += [
    # --- strategies
    Write(
        "business strategy create",
        STRATEGISTS,
        state=lambda w: BusinessStrategy.objects.filter(title="Top accounts").count(),
        page=Door(
            lambda w: reverse("strategies:business_create"),
            lambda w: {"title": "Top accounts", "goal": w.goal.pk},
        ),
        api=Door(
            lambda w: reverse("api:business-strategy-list"),
            lambda w: {"title": "Top accounts", "goal": w.goal.pk},
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_businessstrategy_add"),
            lambda w: {
                "title": "Top accounts",
                "goal": w.goal.pk,
                "owner": w.users["executive"].pk,
            },
        ),
    ),
    Write(
        "business strategy update",
        STRATEGISTS,
        state=lambda w: _values(BusinessStrategy, w.bs.pk, "scope"),
        page=Door(
            lambda w: reverse("strategies:business_edit", args=[w.bs.pk]),
            lambda w: {"scope": "Top 100 accounts"},
        ),
        api=Door(
            lambda w: reverse("api:business-strategy-detail", args=[w.bs.pk]),
            lambda w: {"scope": "Top 100 accounts"},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_businessstrategy_change", args=[w.bs.pk]),
            lambda w: {"scope": "Top 100 accounts"},
        ),
    ),
    Write(
        "business strategy moved under a retired goal (refused everywhere)",
        set(),
        state=lambda w: _values(BusinessStrategy, w.bs.pk, "goal"),
        page=Door(
            lambda w: reverse("strategies:business_edit", args=[w.bs.pk]),
            lambda w: {"goal": w.retired_goal.pk},
        ),
        api=Door(
            lambda w: reverse("api:business-strategy-detail", args=[w.bs.pk]),
            lambda w: {"goal": w.retired_goal.pk},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_businessstrategy_change", args=[w.bs.pk]),
            lambda w: {"goal": w.retired_goal.pk},
        ),
    ),
    Write(
        "business strategy retire",
        STRATEGISTS,
        state=lambda w: _values(BusinessStrategy, w.bs.pk, "status"),
        page=Door(lambda w: reverse("strategies:business_retire", args=[w.bs.pk]), form=False),
        api=Door(
            lambda w: reverse("api:business-strategy-detail", args=[w.bs.pk]),
            lambda w: {"status": StrategyStatus.RETIRED},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_businessstrategy_change", args=[w.bs.pk]),
            lambda w: {"status": StrategyStatus.RETIRED},
        ),
    ),
    Write(
        "CRM strategy create",
        STRATEGISTS,
        state=lambda w: CRMStrategy.objects.filter(title="Service to sales").count(),
        page=Door(
            lambda w: reverse("strategies:crm_create"),
            lambda w: {"title": "Service to sales", "business_strategies": [str(w.bs.pk)]},
        ),
        api=Door(
            lambda w: reverse("api:crm-strategy-list"),
            lambda w: {"title": "Service to sales", "business_strategies": [w.bs.pk]},
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_crmstrategy_add"),
            lambda w: {"title": "Service to sales", "owner": w.users["executive"].pk},
        ),
    ),
    Write(
        "CRM strategy update",
        STRATEGISTS,
        state=lambda w: _values(CRMStrategy, w.crm.pk, "customer_need"),
        page=Door(
            lambda w: reverse("strategies:crm_edit", args=[w.crm.pk]),
            lambda w: {"customer_need": "One face"},
        ),
        api=Door(
            lambda w: reverse("api:crm-strategy-detail", args=[w.crm.pk]),
            lambda w: {"customer_need": "One face"},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_crmstrategy_change", args=[w.crm.pk]),
            lambda w: {"customer_need": "One face"},
        ),
    ),
    Write(
        "CRM strategy unlinked from what it serves",
        STRATEGISTS,
        state=lambda w: sorted(w.crm.serves.values_list("business_strategy", flat=True)),
        page=Door(
            lambda w: reverse("strategies:crm_edit", args=[w.crm.pk]),
            lambda w: {"business_strategies": []},
        ),
        api=Door(
            lambda w: reverse("api:crm-strategy-detail", args=[w.crm.pk]),
            lambda w: {"business_strategies": []},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_crmstrategy_change", args=[w.crm.pk]),
            lambda w: {"serves-0-DELETE": "on"},
        ),
    ),
    Write(
        "CRM strategy retire",
        STRATEGISTS,
        state=lambda w: _values(CRMStrategy, w.crm.pk, "status"),
        page=Door(lambda w: reverse("strategies:crm_retire", args=[w.crm.pk]), form=False),
        api=Door(
            lambda w: reverse("api:crm-strategy-detail", args=[w.crm.pk]),
            lambda w: {"status": StrategyStatus.RETIRED},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_crmstrategy_change", args=[w.crm.pk]),
            lambda w: {"status": StrategyStatus.RETIRED},
        ),
    ),
    # --- projects
    Write(
        "project create",
        MANAGER,
        state=lambda w: CRMProject.objects.filter(title="Partner portal").count(),
        page=Door(lambda w: reverse("projects:create"), lambda w: {"title": "Partner portal"}),
        api=Door(lambda w: reverse("api:project-list"), lambda w: {"title": "Partner portal"}),
        admin=Door(
            lambda w: reverse("admin:projects_crmproject_add"),
            lambda w: {"title": "Partner portal", "manager": w.pm.pk},
        ),
    ),
    Write(
        "project update",
        MANAGER,
        state=lambda w: _values(CRMProject, w.project.pk, "integration_notes", "title"),
        page=Door(
            lambda w: reverse("projects:edit", args=[w.project.pk]),
            lambda w: {"integration_notes": "Via the ERP bus"},
        ),
        api=Door(
            lambda w: reverse("api:project-detail", args=[w.project.pk]),
            lambda w: {"integration_notes": "Via the ERP bus"},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:projects_crmproject_change", args=[w.project.pk]),
            lambda w: {"integration_notes": "Via the ERP bus"},
        ),
    ),
    Write(
        "project handed to another manager",
        MANAGER,
        state=lambda w: _values(CRMProject, w.project.pk, "manager"),
        page=Door(
            lambda w: reverse("projects:edit", args=[w.project.pk]),
            lambda w: {"manager": w.other_pm.pk},
        ),
        api=Door(
            lambda w: reverse("api:project-detail", args=[w.project.pk]),
            lambda w: {"manager": w.other_pm.pk},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:projects_crmproject_change", args=[w.project.pk]),
            lambda w: {"manager": w.other_pm.pk},
        ),
    ),
    Write(
        "project put on hold (status change)",
        MANAGER,
        state=lambda w: _values(CRMProject, w.project.pk, "status"),
        page=Door(
            lambda w: reverse("projects:edit", args=[w.project.pk]),
            lambda w: {"status": ProjectStatus.ON_HOLD},
        ),
        api=Door(
            lambda w: reverse("api:project-detail", args=[w.project.pk]),
            lambda w: {"status": ProjectStatus.ON_HOLD},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:projects_crmproject_change", args=[w.project.pk]),
            lambda w: {"status": ProjectStatus.ON_HOLD},
        ),
    ),
    Write(
        "project delete",
        MANAGER,
        state=lambda w: CRMProject.objects.filter(pk=w.proposal.pk).exists(),
        api=Door(lambda w: reverse("api:project-detail", args=[w.proposal.pk]), method="delete"),
        admin=Door(
            lambda w: reverse("admin:projects_crmproject_delete", args=[w.proposal.pk]),
            lambda w: {"post": "yes"},
        ),
    ),
    Write(
        "project linked to another CRM strategy",
        MANAGER,
        state=lambda w: sorted(w.project.links.values_list("crm_strategy", flat=True)),
        page=Door(
            lambda w: reverse("projects:links", args=[w.project.pk]),
            lambda w: {
                f"links-use_{w.crm2.pk}": "on",
                f"links-rationale_{w.crm2.pk}": "Also serves this strategy.",
            },
        ),
        api=Door(
            lambda w: reverse("api:project-detail", args=[w.project.pk]),
            lambda w: {
                "links": [
                    {"crm_strategy": w.crm.pk, "rationale": "Serves this strategy directly."},
                    {"crm_strategy": w.crm2.pk, "rationale": "Also serves this strategy."},
                ]
            },
            method="patch",
        ),
    ),
    Write(
        "feature create",
        MANAGER,
        state=lambda w: Feature.objects.filter(title="Lead routing").count(),
        page=Door(
            lambda w: reverse("projects:feature_create", args=[w.project.pk]),
            lambda w: {"new-feature-title": "Lead routing"},
            scrape=lambda w: reverse("projects:detail", args=[w.project.pk]),
            marker="new-feature-title",
        ),
        api=Door(
            lambda w: reverse("api:feature-list"),
            lambda w: {"project": w.project.pk, "title": "Lead routing"},
        ),
        admin=Door(
            lambda w: reverse("admin:projects_feature_add"),
            lambda w: {"project": w.project.pk, "title": "Lead routing"},
        ),
    ),
    Write(
        "feature update",
        MANAGER,
        state=lambda w: _values(Feature, w.feature.pk, "description"),
        page=Door(
            lambda w: reverse("projects:feature_edit", args=[w.feature.pk]),
            lambda w: {f"feature-{w.feature.pk}-description": "One sign-on"},
        ),
        api=Door(
            lambda w: reverse("api:feature-detail", args=[w.feature.pk]),
            lambda w: {"description": "One sign-on"},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:projects_feature_change", args=[w.feature.pk]),
            lambda w: {"description": "One sign-on"},
        ),
    ),
    Write(
        "feature linked to a CRM strategy",
        MANAGER,
        state=lambda w: sorted(w.feature.links.values_list("crm_strategy", flat=True)),
        page=Door(
            lambda w: reverse("projects:feature_links", args=[w.feature.pk]),
            lambda w: {
                f"links-{w.feature.pk}-use_{w.crm.pk}": "on",
                f"links-{w.feature.pk}-rationale_{w.crm.pk}": "Core to this strategy.",
            },
        ),
        api=Door(
            lambda w: reverse("api:feature-detail", args=[w.feature.pk]),
            lambda w: {
                "links": [{"crm_strategy": w.crm.pk, "rationale": "Core to this strategy."}]
            },
            method="patch",
        ),
    ),
    Write(
        "feature delete",
        MANAGER,
        state=lambda w: Feature.objects.filter(pk=w.feature.pk).exists(),
        page=Door(lambda w: reverse("projects:feature_delete", args=[w.feature.pk]), form=False),
        api=Door(lambda w: reverse("api:feature-detail", args=[w.feature.pk]), method="delete"),
        admin=Door(
            lambda w: reverse("admin:projects_feature_delete", args=[w.feature.pk]),
            lambda w: {"post": "yes"},
        ),
    ),
    Write(
        "success metric create",
        MANAGER,
        state=lambda w: SuccessMetric.objects.filter(name="Win rate").count(),
        page=Door(
            lambda w: reverse("projects:metric_create", args=[w.project.pk]),
            lambda w: {"metrics-name": "Win rate", "metrics-baseline": "1", "metrics-target": "2"},
            scrape=lambda w: reverse("projects:detail", args=[w.project.pk]),
            marker="metrics-name",
        ),
        api=Door(
            lambda w: reverse("api:metric-list"),
            lambda w: {"project": w.project.pk, "name": "Win rate", "baseline": 1, "target": 2},
        ),
    ),
    Write(
        "roadmap phase create",
        MANAGER,
        state=lambda w: RoadmapPhase.objects.filter(name="Pilot").count(),
        page=Door(
            lambda w: reverse("projects:phase_create", args=[w.project.pk]),
            lambda w: {"phases-name": "Pilot", "phases-kind": "milestone"},
            scrape=lambda w: reverse("projects:detail", args=[w.project.pk]),
            marker="phases-name",
        ),
        api=Door(
            lambda w: reverse("api:phase-list"),
            lambda w: {"project": w.project.pk, "name": "Pilot", "kind": "milestone"},
        ),
    ),
    Write(
        "check-in",
        MANAGER,
        state=lambda w: w.project.check_ins.filter(summary="On track").count(),
        page=Door(
            lambda w: reverse("projects:check_in_create", args=[w.project.pk]),
            lambda w: {
                "check_ins-summary": "On track",
                "check_ins-health": "on_track",
                "check_ins-checked_in_on": timezone.localdate().isoformat(),
            },
            scrape=lambda w: reverse("projects:detail", args=[w.project.pk]),
            marker="check_ins-summary",
        ),
        api=Door(
            lambda w: reverse("api:project-check-in-list"),
            lambda w: {"project": w.project.pk, "summary": "On track", "health": "on_track"},
        ),
    ),
    Write(
        "business strategy delete",
        STRATEGISTS,
        state=lambda w: BusinessStrategy.objects.filter(pk=w.leaf_bs.pk).exists(),
        api=Door(
            lambda w: reverse("api:business-strategy-detail", args=[w.leaf_bs.pk]),
            method="delete",
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_businessstrategy_delete", args=[w.leaf_bs.pk]),
            lambda w: {"post": "yes"},
        ),
    ),
    Write(
        "CRM strategy delete",
        STRATEGISTS,
        state=lambda w: CRMStrategy.objects.filter(pk=w.leaf_crm.pk).exists(),
        api=Door(
            lambda w: reverse("api:crm-strategy-detail", args=[w.leaf_crm.pk]), method="delete"
        ),
        admin=Door(
            lambda w: reverse("admin:strategies_crmstrategy_delete", args=[w.leaf_crm.pk]),
            lambda w: {"post": "yes"},
        ),
    ),
    Write(
        "project made active after approval (status change)",
        MANAGER,
        state=lambda w: _values(CRMProject, w.approved.pk, "status"),
        page=Door(
            lambda w: reverse("projects:edit", args=[w.approved.pk]),
            lambda w: {"status": ProjectStatus.ACTIVE},
        ),
        api=Door(
            lambda w: reverse("api:project-detail", args=[w.approved.pk]),
            lambda w: {"status": ProjectStatus.ACTIVE},
            method="patch",
        ),
        admin=Door(
            lambda w: reverse("admin:projects_crmproject_change", args=[w.approved.pk]),
            lambda w: {"status": ProjectStatus.ACTIVE},
        ),
    ),
    Write(
        "project unlinked from every CRM strategy",
        MANAGER,
        state=lambda w: sorted(w.project.links.values_list("crm_strategy", flat=True)),
        page=Door(
            lambda w: reverse("projects:links", args=[w.project.pk]),
            lambda w: {f"links-use_{w.crm.pk}": []},
        ),
        api=Door(
            lambda w: reverse("api:project-detail", args=[w.project.pk]),
            lambda w: {"crm_strategies": []},
            method="patch",
        ),
    ),
    Write(
        "success metric update",
        MANAGER,
        state=lambda w: _values(SuccessMetric, w.metric.pk, "unit"),
        page=Door(
            lambda w: reverse("projects:metric_edit", args=[w.metric.pk]),
            lambda w: {"unit": "pts"},
        ),
        api=Door(
            lambda w: reverse("api:metric-detail", args=[w.metric.pk]),
            lambda w: {"unit": "pts"},
            method="patch",
        ),
    ),
    Write(
        "success metric delete",
        MANAGER,
        state=lambda w: SuccessMetric.objects.filter(pk=w.metric.pk).exists(),
        page=Door(lambda w: reverse("projects:metric_delete", args=[w.metric.pk]), form=False),
        api=Door(lambda w: reverse("api:metric-detail", args=[w.metric.pk]), method="delete"),
    ),
    Write(
        "roadmap phase update",
        MANAGER,
        state=lambda w: _values(RoadmapPhase, w.phase.pk, "name"),
        page=Door(
            lambda w: reverse("projects:phase_edit", args=[w.phase.pk]),
            lambda w: {"name": "Pilot in Brazil"},
        ),
        api=Door(
            lambda w: reverse("api:phase-detail", args=[w.phase.pk]),
            lambda w: {"name": "Pilot in Brazil"},
            method="patch",
        ),
    ),
    Write(
        "roadmap phase delete",
        MANAGER,
        state=lambda w: RoadmapPhase.objects.filter(pk=w.phase.pk).exists(),
        page=Door(lambda w: reverse("projects:phase_delete", args=[w.phase.pk]), form=False),
        api=Door(lambda w: reverse("api:phase-detail", args=[w.phase.pk]), method="delete"),
    ),
    # --- the sponsor's decisions
    Write(
        "project approve",
        DECIDERS,
        state=lambda w: _values(CRMProject, w.ready.pk, "status", "approved_by"),
        page=Door(lambda w: reverse("alignment:project_approve", args=[w.ready.pk]), form=False),
        api=Door(lambda w: reverse("api:project-approve", args=[w.ready.pk])),
        admin=Door(
            lambda w: reverse("admin:projects_crmproject_changelist"),
            lambda w: {"action": "approve_projects", "_selected_action": [str(w.ready.pk)]},
            form=False,
        ),
    ),
    Write(
        "project approve while a blocking rule holds (refused everywhere)",
        set(),
        state=lambda w: _values(CRMProject, w.proposal.pk, "status"),
        page=Door(lambda w: reverse("alignment:project_approve", args=[w.proposal.pk]), form=False),
        api=Door(lambda w: reverse("api:project-approve", args=[w.proposal.pk])),
        admin=Door(
            lambda w: reverse("admin:projects_crmproject_changelist"),
            lambda w: {"action": "approve_projects", "_selected_action": [str(w.proposal.pk)]},
            form=False,
        ),
    ),
    Write(
        "flag acknowledge",
        DECIDERS,
        state=lambda w: _values(Flag, w.flag.pk, "state"),
        page=Door(lambda w: reverse("alignment:flag_acknowledge", args=[w.flag.pk]), form=False),
        api=Door(lambda w: reverse("api:flag-acknowledge", args=[w.flag.pk])),
    ),
    Write(
        "flag waive",
        DECIDERS,
        state=lambda w: _values(Flag, w.flag.pk, "state", "waiver_reason"),
        page=Door(
            lambda w: reverse("alignment:flag_waive", args=[w.flag.pk]),
            lambda w: {"reason": "Pilot only", "expires_on": _in_week().date().isoformat()},
            form=False,
        ),
        api=Door(
            lambda w: reverse("api:flag-waive", args=[w.flag.pk]),
            lambda w: {"reason": "Pilot only", "expires_at": _in_week().isoformat()},
        ),
    ),
]


# --- Doing a write through each door


def _scraped(client: Client, url: str, marker: str | None) -> dict[str, Any]:
    """The form on `url` as the admin sees it (every role posts the same form): the one with
    the field `marker`, else the page's main form (the one with the most fields)."""
    response = client.get(url)
    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    return form_data(response.content.decode(), containing=marker)


def _through_page(w, door: Door, role: str) -> int:
    url = door.url(w)
    data: dict[str, Any] = {}
    if door.form:
        reader = Client()
        reader.force_login(w.users["admin"])
        data = _scraped(reader, door.scrape(w) if door.scrape else url, door.marker)
    for name, value in door.data(w).items():
        data[name] = [value] if not isinstance(value, list) else value
    client = Client()
    client.force_login(w.users[role])
    return client.post(url, data).status_code


def _through_api(w, door: Door, role: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(w.users[role])}")
    return getattr(client, door.method)(door.url(w), door.data(w), format="json").status_code


def _outcome(w, write: Write, door_name: str, role: str) -> tuple[Any, int]:
    door = getattr(write, door_name)
    with transaction.atomic():
        through = _through_api if door_name == "api" else _through_page
        status = through(w, door, role)
        state = write.state(w)
        transaction.set_rollback(True)
    return state, status


@pytest.mark.parametrize("write", WRITES, ids=[write.name for write in WRITES])
def test_a_write_has_the_same_outcome_through_page_api_and_admin(w, write):
    before = write.state(w)
    wrong = []
    for role in ROLES:
        outcomes = {
            name: _outcome(w, write, name, role)
            for name in ("page", "api", "admin")
            if getattr(write, name) is not None
        }
        if role != "admin" and "admin" in outcomes:
            # Only superusers use the admin; everyone else is sent to its sign-in page.
            state, status = outcomes.pop("admin")
            if state != before or status != 302:
                wrong.append(f"{role} changed something through the admin ({status})")
        states = {name: state for name, (state, _) in outcomes.items()}
        expected_change = role in write.allowed
        for name, state in states.items():
            if (state != before) != expected_change:
                verb = "did not change" if expected_change else "changed"
                wrong.append(f"{role} {verb} it through the {name} ({outcomes[name][1]})")
        if len({repr(state) for state in states.values()}) > 1:
            wrong.append(f"{role}: the doors disagree: {states}")
    assert not wrong, f"{write.name}:\n" + "\n".join(wrong)
