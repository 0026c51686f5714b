"""What a change would do to the chains, before it is made: the impact preview.

The preview applies the proposed change through the real service inside a transaction,
evaluates the rule catalogue's own queries (`alignment.rules`, with the settings a scan uses,
`engine.effective_settings`) for the part of the portfolio the change can reach, compares
with the unresolved flags — what the next scan would open or resolve — and with the
traceability of the projects and features before the change (`projects.trace`), then rolls
everything back. So the preview and the scan share one definition of every rule: nothing here
restates when a chain is broken.

Nothing escapes the rollback: the only side effects of a write are the re-check and full-scan
tasks queued by `alignment.receivers` with `transaction.on_commit`, which Django discards with a
rolled-back block (savepoint or transaction); the services touch no cache, and the rule
settings are read without creating missing rows.

The scope (`Reach`) is what the changed object can reach down the chain, read before and
after the change: a goal's business strategies, the CRM strategies serving them, the projects
linked to those and their features (and the features linked to them), the groups of those
projects (manager, department, CRM strategy) and the business strategies those CRM strategies
serve. A rule's match outside it cannot change with the object.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from projects.models import (
    LIVE_PROJECT_STATUSES,
    CRMProject,
    Feature,
    FeatureStatus,
    ProjectLink,
    ProjectUserGroup,
)
from projects.selectors import BUDGET_TOTAL
from projects.trace import feature_traceable_exists, project_traceable_exists
from strategies.models import BusinessStrategy, CRMStrategyServes

from .engine import effective_settings
from .models import UNRESOLVED_STATES, Flag, SubjectType
from .rules import RULES, RuleContext

Key = tuple[str, str, int]  # (rule, subject type, subject id)


@dataclass
class Reach:
    """The subjects a change can touch, per subject type."""

    ids: dict[str, set[int]] = field(
        default_factory=lambda: {str(kind): set() for kind in SubjectType.values}
    )

    def add(self, kind: str, values: Any) -> None:
        self.ids[str(kind)].update(int(pk) for pk in values if pk is not None)

    def __ior__(self, other: Reach) -> Reach:
        for kind, values in other.ids.items():
            self.ids[kind] |= values
        return self


def _reach_down(
    *,
    goals: AbstractSet[int] = frozenset(),
    business: AbstractSet[int] = frozenset(),
    crm: AbstractSet[int] = frozenset(),
    projects: AbstractSet[int] = frozenset(),
) -> Reach:
    """Everything below the given objects as the data stands now: a handful of queries."""
    reach = Reach()
    reach.add(SubjectType.GOAL, goals)
    business = set(business) | set(
        BusinessStrategy.objects.filter(goal__in=goals).values_list("pk", flat=True)
    )
    crm = set(crm) | set(
        CRMStrategyServes.objects.filter(business_strategy__in=business).values_list(
            "crm_strategy_id", flat=True
        )
    )
    projects = set(projects) | set(
        ProjectLink.objects.filter(crm_strategy__in=crm).values_list("project_id", flat=True)
    )
    # The CRM strategies the projects link to (their overload, and what they serve).
    crm |= set(
        ProjectLink.objects.filter(project__in=projects).values_list("crm_strategy_id", flat=True)
    )
    business |= set(
        CRMStrategyServes.objects.filter(crm_strategy__in=crm).values_list(
            "business_strategy_id", flat=True
        )
    )
    reach.add(SubjectType.BUSINESS_STRATEGY, business)
    reach.add(SubjectType.CRM_STRATEGY, crm)
    reach.add(SubjectType.PROJECT, projects)
    reach.add(
        SubjectType.FEATURE,
        Feature.objects.filter(
            Q(project__in=projects) | Q(links__crm_strategy__in=crm)
        ).values_list("pk", flat=True),
    )
    for manager, department in CRMProject.objects.filter(pk__in=projects).values_list(
        "manager_id", "department_id"
    ):
        reach.add(SubjectType.MANAGER, [manager])
        reach.add(SubjectType.DEPARTMENT, [department])
    # The user groups the projects' changes land on (portfolio.change_collision).
    reach.add(
        SubjectType.USER_GROUP,
        ProjectUserGroup.objects.filter(project__in=projects).values_list(
            "user_group_id", flat=True
        ),
    )
    return reach


def reach_of(kind: str, pk: int) -> Reach:
    """What a change to this goal, business strategy, CRM strategy or project can reach."""
    if kind == SubjectType.GOAL:
        return _reach_down(goals={pk})
    if kind == SubjectType.BUSINESS_STRATEGY:
        return _business_reach(pk)
    if kind == SubjectType.CRM_STRATEGY:
        return _reach_down(crm={pk})
    return _reach_down(projects={pk})


def _business_reach(pk: int) -> Reach:
    # A business strategy's goal: whether it still has an active strategy (goal.no_strategy).
    reach = _reach_down(business={pk})
    reach.add(
        SubjectType.GOAL, BusinessStrategy.objects.filter(pk=pk).values_list("goal_id", flat=True)
    )
    return reach


def _matches(reach: Reach) -> tuple[set[Key], set[str]]:
    """The (rule, subject type, id) the enabled rules match within `reach`, by the rules' own
    queries with the scan's settings; and the rules evaluated."""
    settings = effective_settings(create_missing=False)
    today = timezone.localdate()
    found: set[Key] = set()
    evaluated: set[str] = set()
    for code, rule in RULES.items():
        setting = settings[code]
        if not setting.enabled:
            continue
        evaluated.add(code)
        findings = rule.findings(
            RuleContext(today=today, threshold=setting.threshold, window=setting.window)
        )
        for subject_type, queryset in findings.items():
            ids = reach.ids.get(str(subject_type))
            if not ids:
                continue
            found.update(
                (code, str(subject_type), int(pk))
                for pk in queryset.filter(pk__in=ids).values_list("pk", flat=True)
            )
    return found, evaluated


def _unresolved(reach: Reach, rules: set[str]) -> set[Key]:
    """The unresolved flags of these rules about subjects within `reach`."""
    which = Q(pk__in=[])
    for subject_type, ids in reach.ids.items():
        if ids:
            which |= Q(subject_type=subject_type, subject_id__in=ids)
    return {
        (rule, subject_type, int(subject_id))
        for rule, subject_type, subject_id in Flag.objects.filter(
            which, rule__in=rules, state__in=UNRESOLVED_STATES
        ).values_list("rule", "subject_type", "subject_id")
    }


def _traced(reach: Reach) -> tuple[dict[int, bool], dict[int, bool]]:
    """Per live project and live feature within reach: does it trace (projects.trace)?"""
    projects = dict(
        CRMProject.objects.filter(
            pk__in=reach.ids[SubjectType.PROJECT], status__in=LIVE_PROJECT_STATUSES
        )
        .annotate(traced=project_traceable_exists())
        .values_list("pk", "traced")
    )
    features = dict(
        Feature.objects.filter(
            pk__in=reach.ids[SubjectType.FEATURE], project__status__in=LIVE_PROJECT_STATUSES
        )
        .exclude(status=FeatureStatus.DROPPED)
        .annotate(traced=feature_traceable_exists())
        .values_list("pk", "traced")
    )
    return projects, features


@dataclass(frozen=True)
class FlagChange:
    rule: str
    subject_type: str
    subject_id: int
    label: str = ""


@dataclass
class Impact:
    """What the proposed change would do, nothing of it saved."""

    projects_losing_chain: list[int]
    features_losing_chain: list[int]
    budget_losing_chain: Decimal
    flags_opening: list[FlagChange]
    projects_tracing_again: list[int]
    features_tracing_again: list[int]
    flags_closing: list[FlagChange]
    # For the confirmation page: the projects' titles and budgets, the features' titles.
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    features: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def breaks_nothing(self) -> bool:
        return not (self.projects_losing_chain or self.features_losing_chain or self.flags_opening)


class _Rollback(Exception):
    """Raised to undo the proposed change once measured."""


def _labels(keys: set[Key]) -> dict[Key, str]:
    """Each subject's readable label, as the flag would show it: a query per subject type."""
    from .rules import SUBJECTS, subject_label_expression

    by_type: dict[str, set[int]] = {}
    for _rule, subject_type, pk in keys:
        by_type.setdefault(subject_type, set()).add(pk)
    names: dict[tuple[str, int], str] = {}
    for subject_type, ids in by_type.items():
        model = SUBJECTS[subject_type].model
        for pk, label in (
            model._default_manager.filter(pk__in=ids)
            .annotate(impact_label=subject_label_expression(subject_type))
            .values_list("pk", "impact_label")
        ):
            names[(subject_type, pk)] = label
    return {key: names.get((key[1], key[2]), "") for key in keys}


def _changes(keys: set[Key], labels: dict[Key, str]) -> list[FlagChange]:
    return [
        FlagChange(rule, subject_type, pk, labels.get((rule, subject_type, pk), ""))
        for rule, subject_type, pk in sorted(keys)
    ]


def preview(kind: str, pk: int, apply: Callable[[], Any]) -> Impact:
    """The impact of `apply()` — a call of the real service that would make the change — on the
    object `kind`/`pk`, measured and rolled back. The service's own refusals (404, 403, 400,
    409, 412) propagate unchanged, as they would for the change itself."""
    result: Impact | None = None
    try:
        with transaction.atomic():
            reach = reach_of(kind, pk)
            before_projects, before_features = _traced(reach)
            apply()
            reach |= reach_of(kind, pk)  # what the change linked it to
            matched, evaluated = _matches(reach)
            flagged = _unresolved(reach, evaluated)
            after_projects, after_features = _traced(reach)
            opening = matched - flagged
            closing = flagged - matched
            # Labels as they stand after the change (a deleted subject keeps its flag's).
            labels = _labels(opening)
            labels.update(
                {
                    (rule, subject_type, subject_id): label
                    for rule, subject_type, subject_id, label in Flag.objects.filter(
                        state__in=UNRESOLVED_STATES,
                        rule__in={k[0] for k in closing},
                        subject_id__in={k[2] for k in closing},
                    ).values_list("rule", "subject_type", "subject_id", "subject_label")
                }
            )
            raise _Rollback(
                _measure(
                    before_projects,
                    before_features,
                    after_projects,
                    after_features,
                    opening,
                    closing,
                    labels,
                )
            )
    except _Rollback as done:
        result = done.args[0]
    assert result is not None
    _describe(result)
    return result


def _measure(
    before_projects: dict[int, bool],
    before_features: dict[int, bool],
    after_projects: dict[int, bool],
    after_features: dict[int, bool],
    opening: set[Key],
    closing: set[Key],
    labels: dict[Key, str],
) -> Impact:
    """Lose the chain: live and traced before, still live and traced no longer (a project the
    change cancels or deletes stops rather than loses its chain). Trace again: the reverse."""

    def losing(before: dict[int, bool], after: dict[int, bool]) -> list[int]:
        return sorted(pk for pk, traced in before.items() if traced and after.get(pk) is False)

    def regaining(before: dict[int, bool], after: dict[int, bool]) -> list[int]:
        return sorted(pk for pk, traced in after.items() if traced and before.get(pk) is False)

    return Impact(
        projects_losing_chain=losing(before_projects, after_projects),
        features_losing_chain=losing(before_features, after_features),
        budget_losing_chain=Decimal("0.00"),
        flags_opening=_changes(opening, labels),
        projects_tracing_again=regaining(before_projects, after_projects),
        features_tracing_again=regaining(before_features, after_features),
        flags_closing=_changes(closing, labels),
    )


def _describe(impact: Impact) -> None:
    """Titles and budgets of the projects and features named (after the rollback: as stored)."""
    project_ids = set(impact.projects_losing_chain) | set(impact.projects_tracing_again)
    rows = (
        CRMProject.objects.filter(pk__in=project_ids)
        .annotate(impact_budget=BUDGET_TOTAL)
        .values("pk", "title", "status", "impact_budget")
    )
    impact.projects = {
        row["pk"]: {"title": row["title"], "status": row["status"], "budget": row["impact_budget"]}
        for row in rows
    }
    total = sum(
        (impact.projects[pk]["budget"] for pk in impact.projects_losing_chain), Decimal("0.00")
    )
    impact.budget_losing_chain = Decimal(total).quantize(Decimal("0.01"))
    feature_ids = set(impact.features_losing_chain) | set(impact.features_tracing_again)
    impact.features = {
        row["pk"]: {"title": row["title"], "project": row["project__title"]}
        for row in Feature.objects.filter(pk__in=feature_ids).values(
            "pk", "title", "project__title"
        )
    }


def budget_of(project_ids: list[int]) -> Decimal:
    """The total budget of these projects, to the cent (the test's own sum)."""
    total = (
        CRMProject.objects.filter(pk__in=project_ids)
        .annotate(b=BUDGET_TOTAL)
        .aggregate(s=Sum("b"))["s"]
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


__all__ = ["FlagChange", "Impact", "Reach", "budget_of", "preview", "reach_of"]
