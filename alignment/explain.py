"""Why a traceability flag holds: the broken chain, in words and as data.

For a page of flags, `explain(flags)` reads each subject's chains set-based — a fixed handful of
queries whatever the number of flags (the projects', the features', the CRM strategies' chains,
one query each) — and answers per flag an `Explanation`: the path from the subject up the chain
to where it breaks, each step with its kind, id, title, status and, where recorded, when its
status last changed and by whom (`core.models.StatusStamped`), e.g.

    Mid-market telesales dialler → CRM strategy “Mid-market telesales lead factory” (active) →
    business strategy “Grow mid-market revenue through direct telesales” (retired on 20 Nov
    2026 by Erin Executive)

Which chains exist, and that each is broken, is the rules' business (`projects.trace`); this
only spells out the chains the flag's subject has. The rules explained: project.untraced,
project.broken_chain, feature.untraced, feature.off_scope, crm_strategy.unanchored. Other
flags get no explanation (their message says it all).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from goals.models import GoalStatus
from projects.models import CRMProject, Feature, FeatureLink, ProjectLink
from projects.trace import feature_link_off_scope
from strategies.models import CRMStrategy, CRMStrategyServes, StrategyStatus

EXPLAINED_RULES = (
    "project.untraced",
    "project.broken_chain",
    "feature.untraced",
    "feature.off_scope",
    "crm_strategy.unanchored",
)

KIND_WORDS = {
    "project": "project",
    "feature": "feature",
    "crm_strategy": "CRM strategy",
    "business_strategy": "business strategy",
    "goal": "goal",
}


@dataclass(frozen=True)
class Step:
    kind: str
    id: int
    title: str
    status: str
    changed_at: datetime.datetime | None = None
    changed_by: str | None = None

    @property
    def live(self) -> bool:
        """Active: what a chain needs of each of its steps (`strategies.trace`)."""
        return self.status in (StrategyStatus.ACTIVE, GoalStatus.ACTIVE)

    def words(self, *, first: bool = False) -> str:
        if first:
            return self.title
        state = self.status
        if self.changed_at is not None and self.status != StrategyStatus.ACTIVE:
            when = timezone.localtime(self.changed_at)
            state += f" on {when.day} {when:%b %Y}"
            if self.changed_by:
                state += f" by {self.changed_by}"
        return f"{KIND_WORDS[self.kind]} “{self.title}” ({state})"

    def as_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "changed_at": self.changed_at,
            "changed_by": self.changed_by,
        }


@dataclass
class Explanation:
    text: str
    path: list[Step] = field(default_factory=list)

    def path_data(self) -> list[dict[str, Any]]:
        return [step.as_data() for step in self.path]


def _name(row: dict[str, Any], prefix: str) -> str | None:
    username = row.get(f"{prefix}status_changed_by__username")
    if not username:
        return None
    full = " ".join(
        part
        for part in (
            row.get(f"{prefix}status_changed_by__first_name") or "",
            row.get(f"{prefix}status_changed_by__last_name") or "",
        )
        if part
    ).strip()
    return full or username


def _columns(prefix: str) -> list[str]:
    return [
        f"{prefix}id",
        f"{prefix}title",
        f"{prefix}status",
        f"{prefix}status_changed_at",
        f"{prefix}status_changed_by__username",
        f"{prefix}status_changed_by__first_name",
        f"{prefix}status_changed_by__last_name",
    ]


def _step(kind: str, row: dict[str, Any], prefix: str) -> Step | None:
    if row.get(f"{prefix}id") is None:
        return None
    return Step(
        kind=kind,
        id=row[f"{prefix}id"],
        title=row[f"{prefix}title"],
        status=row[f"{prefix}status"],
        changed_at=row.get(f"{prefix}status_changed_at"),
        changed_by=_name(row, prefix),
    )


_BS = "crm_strategy__serves__business_strategy__"
_GOAL = f"{_BS}goal__"


def _chains(links: Any, owner: str) -> dict[int, list[list[Step]]]:
    """Per owner (project or feature id): its chains CRM strategy → business strategy → goal,
    from a link queryset, in one query."""
    rows = links.values(
        owner, *_columns("crm_strategy__"), *_columns(_BS), *_columns(_GOAL)
    ).order_by(owner, "crm_strategy__title", f"{_BS}title", "crm_strategy_id")
    chains: dict[int, list[list[Step]]] = defaultdict(list)
    for row in rows:
        steps = [
            _step("crm_strategy", row, "crm_strategy__"),
            _step("business_strategy", row, _BS),
            _step("goal", row, _GOAL),
        ]
        chains[row[owner]].append([s for s in steps if s is not None])
    return chains


def _up_to_break(first: Step, chain: list[Step]) -> list[Step]:
    """The subject, then the chain up to and including the first step that is not live."""
    path = [first]
    for step in chain:
        path.append(step)
        if not step.live:
            break
    return path


def _broken_text(path: list[Step], chain_ends: bool, others: int) -> str:
    text = " → ".join(step.words(first=i == 0) for i, step in enumerate(path))
    if chain_ends and path[-1].live:
        last = path[-1]
        if last.kind == "crm_strategy":
            text += ", which serves no business strategy"
        elif last.kind == "business_strategy":
            text += ", which is under no goal"
    if others:
        text += (
            f" (and {others} other link{'s' if others != 1 else ''}, "
            f"{'none' if others != 1 else 'which does not'} reach an active goal either)"
        )
    return text


def _explain_chains(first: Step, chains: list[list[Step]]) -> Explanation:
    if not chains:
        return Explanation(f"{first.title} → links to no CRM strategy", [first])
    # The chain that breaks highest up first reads best; all of them are broken.
    chain = chains[0]
    path = _up_to_break(first, chain)
    return Explanation(
        _broken_text(path, chain_ends=len(path) == len(chain) + 1, others=len(chains) - 1), path
    )


def explain(flags: Iterable[Any]) -> dict[int, Explanation]:
    """Per flag id, the explanation of each traceability flag among `flags` (a page): at most
    six queries whatever their number."""
    wanted: dict[str, set[int]] = defaultdict(set)
    flags = [f for f in flags if f.rule in EXPLAINED_RULES]
    for flag in flags:
        wanted[flag.subject_type].add(int(flag.subject_id))
    result: dict[int, Explanation] = {}
    projects: dict[int, Step] = {}
    project_chains: dict[int, list[list[Step]]] = {}
    features: dict[int, Step] = {}
    feature_chains: dict[int, list[list[Step]]] = {}
    off_scope: dict[int, list[tuple[Step, str]]] = defaultdict(list)
    crms: dict[int, Step] = {}
    crm_chains: dict[int, list[list[Step]]] = defaultdict(list)
    if wanted.get("project"):
        ids = wanted["project"]
        projects = {
            pk: Step("project", pk, title, status)
            for pk, title, status in CRMProject.objects.filter(pk__in=ids).values_list(
                "pk", "title", "status"
            )
        }
        project_chains = _chains(ProjectLink.objects.filter(project_id__in=ids), "project_id")
    if wanted.get("feature"):
        ids = wanted["feature"]
        features = {
            pk: Step("feature", pk, title, status)
            for pk, title, status in Feature.objects.filter(pk__in=ids).values_list(
                "pk", "title", "status"
            )
        }
        links = FeatureLink.objects.filter(feature_id__in=ids)
        feature_chains = _chains(links, "feature_id")
        if any(f.rule == "feature.off_scope" for f in flags):
            for row in (
                links.filter(feature_link_off_scope())
                .values("feature_id", *_columns("crm_strategy__"), "feature__project__title")
                .order_by("feature_id", "crm_strategy__title")
            ):
                step = _step("crm_strategy", row, "crm_strategy__")
                assert step is not None
                off_scope[row["feature_id"]].append((step, row["feature__project__title"]))
    if wanted.get("crm_strategy"):
        ids = wanted["crm_strategy"]
        crms = {
            row["id"]: _step("crm_strategy", row, "")  # type: ignore[misc]
            for row in CRMStrategy.objects.filter(pk__in=ids).values(*_columns(""))
        }
        for row in (
            CRMStrategyServes.objects.filter(crm_strategy_id__in=ids)
            .values(
                "crm_strategy_id",
                *_columns("business_strategy__"),
                *_columns("business_strategy__goal__"),
            )
            .order_by("crm_strategy_id", "business_strategy__title")
        ):
            steps = [
                _step("business_strategy", row, "business_strategy__"),
                _step("goal", row, "business_strategy__goal__"),
            ]
            crm_chains[row["crm_strategy_id"]].append([s for s in steps if s is not None])
    for flag in flags:
        pk = int(flag.subject_id)
        if flag.subject_type == "project" and pk in projects:
            result[flag.pk] = _explain_chains(projects[pk], project_chains.get(pk, []))
        elif flag.subject_type == "feature" and pk in features:
            if flag.rule == "feature.off_scope" and off_scope.get(pk):
                step, project_title = off_scope[pk][0]
                path = [features[pk], step]
                result[flag.pk] = Explanation(
                    f"{features[pk].title} → {step.words()}, which its project "
                    f"“{project_title}” does not serve",
                    path,
                )
            elif flag.rule != "feature.off_scope":
                result[flag.pk] = _explain_chains(features[pk], feature_chains.get(pk, []))
        elif flag.subject_type == "crm_strategy" and pk in crms:
            crm = crms[pk]
            chains = crm_chains.get(pk, [])
            if not chains:
                result[flag.pk] = Explanation(
                    f"CRM strategy “{crm.title}” ({crm.status}) → serves no business strategy",
                    [crm],
                )
            else:
                path = _up_to_break(crm, chains[0])
                text = " → ".join(step.words() for step in path)
                if len(chains) > 1:
                    text += (
                        f" (and {len(chains) - 1} other business "
                        f"strateg{'ies' if len(chains) > 2 else 'y'}, none live either)"
                    )
                result[flag.pk] = Explanation(text, path)
    return result


def with_explanations(flags: Iterable[Any]) -> list[Any]:
    """The flags as a list, each with `.explanation` (an Explanation, or None)."""
    flags = list(flags)
    explained = explain(flags)
    for flag in flags:
        flag.explanation = explained.get(flag.pk)
    return flags


__all__ = ["EXPLAINED_RULES", "Explanation", "Step", "explain", "with_explanations"]
