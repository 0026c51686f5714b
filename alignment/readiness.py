"""Readiness for approval: the rule catalogue evaluated for one project.

A project's readiness checklist is not a second definition of "ready". It is every rule about a
project or its features (`Rule.project_scoped`), evaluated by the same functions with the same
settings and date as a scan, restricted to that one project. A proposed or on-hold project is
evaluated as it would stand once approved (`RuleContext.approving`): that is the decision the
sponsor takes. So:

- for an approved or active project, an item is not ok exactly when a scan keeps an open flag
  of that rule on the project (or on one of its features);
- for a proposed or on-hold project, exactly when approving it would open one.

A rule that is not ok and whose setting says "blocks approval" stops the approval
(`alignment.services.project_approve`, which names it). A rule switched off is shown as not
checked and never blocks. Done and cancelled projects are history; no rule checks them.

Three queries whatever the number of rules or features: the settings, the project's row with
one EXISTS per project rule, and the features for which a feature rule holds.
"""

from __future__ import annotations

import datetime
import functools
import operator
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.permissions import can_approve_project
from projects.models import APPROVABLE_PROJECT_STATUSES, LIVE_PROJECT_STATUSES, CRMProject

from .engine import effective_settings
from .models import SubjectType
from .rules import RULES, SUBJECTS, RuleContext, rule_project_status, subject_label_expression


@dataclass(frozen=True)
class ChecklistItem:
    """One rule of the catalogue, evaluated for one project."""

    code: str
    title: str  # the rule's title: what its flag says
    check: str  # what holds when the rule does not (threshold filled in)
    severity: str
    ok: bool | None  # None: the rule is switched off, so not checked
    advice: str  # what to do: the flag's message, threshold filled in
    blocks_approval: bool
    subjects: tuple[str, ...] = ()  # for a rule about features: those it holds for

    @property
    def checked(self) -> bool:
        return self.ok is not None

    @property
    def blocking(self) -> bool:
        return self.ok is False and self.blocks_approval


@dataclass(frozen=True)
class Readiness:
    """A project's checklist, and what stands in the way of its approval."""

    project_id: int
    status: str  # the project's status as the rules saw it (approved, for a proposal)
    items: tuple[ChecklistItem, ...]

    @property
    def checked(self) -> bool:
        """False for done and cancelled projects: no rule checks history."""
        return self.status in LIVE_PROJECT_STATUSES

    @property
    def blocking(self) -> list[ChecklistItem]:
        return [item for item in self.items if item.blocking]

    @property
    def missing(self) -> str:
        """What must hold before approval, as one phrase ("" when nothing blocks)."""
        return "; ".join(item.check[:1].lower() + item.check[1:] for item in self.blocking)

    @property
    def refusal(self) -> str:
        return f"Cannot approve until {self.missing}." if self.blocking else ""


def _checks(findings_by_alias: dict[str, QuerySet[Any]]) -> dict[str, Exists]:
    return {
        alias: Exists(findings.filter(pk=OuterRef("pk")))
        for alias, findings in findings_by_alias.items()
    }


def project_readiness(project_id: int, *, today: datetime.date | None = None) -> Readiness:
    """Evaluate every project-scoped rule for this project (CRMProject.DoesNotExist if none)."""
    today = today or timezone.localdate()
    settings = effective_settings(create_missing=False)
    rules = [rule for rule in RULES.values() if rule.project_scoped]
    # subject type → {annotation alias: the rule's findings for that type}
    findings: dict[str, dict[str, QuerySet[Any]]] = defaultdict(dict)
    for index, rule in enumerate(rules):
        setting = settings[rule.code]
        if setting.enabled:
            ctx = RuleContext(today=today, threshold=setting.threshold, approving=project_id)
            for subject_type, queryset in rule.findings(ctx).items():
                findings[subject_type][f"rule_{index}"] = queryset

    project_checks = _checks(findings.pop(SubjectType.PROJECT, {}))
    row = (
        CRMProject.objects.filter(pk=project_id)
        .annotate(
            rule_status=rule_project_status(
                RuleContext(today=today, threshold=None, approving=project_id)
            ),
            **project_checks,
        )
        .values("rule_status", *project_checks)
        .first()
    )
    if row is None:
        raise CRMProject.DoesNotExist(f"No project {project_id}.")
    holds: dict[str, list[str]] = {alias: ["project"] for alias in project_checks if row[alias]}
    # Features (and any other subject that belongs to a project): one query per subject type,
    # only the subjects for which some rule holds.
    for subject_type, by_alias in findings.items():
        kind = SUBJECTS[subject_type]
        assert kind.project_field is not None  # project_scoped rules only
        checks = _checks(by_alias)
        any_holds = functools.reduce(operator.or_, (Q(**{alias: True}) for alias in checks))
        subjects = (
            kind.model.objects.filter(**{kind.project_field: project_id})
            .annotate(subject_label=subject_label_expression(subject_type), **checks)
            .filter(any_holds)
            .order_by("subject_label", "pk")
            .values("subject_label", *checks)
        )
        for subject in subjects:
            for alias in checks:
                if subject[alias]:
                    holds.setdefault(alias, []).append(subject["subject_label"])

    items = []
    for index, rule in enumerate(rules):
        setting = settings[rule.code]
        alias = f"rule_{index}"
        held = holds.get(alias, [])
        items.append(
            ChecklistItem(
                code=rule.code,
                title=rule.title,
                check=rule.check_text(setting.threshold),
                severity=setting.severity,
                ok=(not held) if setting.enabled else None,
                advice=rule.message(setting.threshold),
                blocks_approval=setting.blocks_approval and setting.enabled,
                subjects=tuple(label for label in held if rule.subject_type != "project"),
            )
        )
    return Readiness(project_id=project_id, status=row["rule_status"], items=tuple(items))


def readiness_panel(user: Any, project: CRMProject) -> dict[str, Any]:
    """What the project page's readiness card shows this user."""
    return {
        "project": project,
        "readiness": project_readiness(project.pk),
        "can_approve": can_approve_project(user, project)
        and project.status in APPROVABLE_PROJECT_STATUSES,
    }
