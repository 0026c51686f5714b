"""What a person's weekly digest says, read from the portfolio as it stands and from the last
two weeks' scan snapshots: their open flags by project, the approvals waiting for them, the
waivers expiring within 7 days, their stalled projects, the alignment figures and their change
since last week, and the events they chose to hear of in the digest. A fixed number of
queries, each with a bounded result, whatever the portfolio size."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from alignment.models import Flag, FlagState, Severity, Snapshot
from alignment.selectors import OPEN_STATES
from core.permissions import user_roles
from core.roles import Role
from projects.models import APPROVABLE_PROJECT_STATUSES, LIVE_PROJECT_STATUSES, CRMProject

from .models import DeliveryKind, DeliveryState, MailDelivery

LIST_LIMIT = 20  # rows per section; the section says how many more there are
STALLED_RULE = "project.stalled"


@dataclass
class Section:
    rows: list[Any] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


@dataclass
class Figure:
    label: str
    now: float | None
    before: float | None

    @property
    def change(self) -> float | None:
        if self.now is None or self.before is None:
            return None
        return round(self.now - self.before, 1)


@dataclass
class Digest:
    user: Any
    week: datetime.date
    flags_by_project: Section
    approvals: Section
    waivers: Section
    stalled: Section
    figures: list[Figure]
    figures_as_of: datetime.datetime | None
    figures_compared_with: datetime.datetime | None
    lines: list[Any]
    line_ids: list[int]

    @property
    def is_empty(self) -> bool:
        return not (
            self.flags_by_project.total
            or self.approvals.total
            or self.waivers.total
            or self.stalled.total
            or self.lines
        )


def _percent(part: Any, whole: Any) -> float | None:
    if not whole:
        return None
    return round(float(Decimal(part) * 100 / Decimal(whole)), 1)


def _figures(snapshot: Snapshot | None) -> dict[str, float | None]:
    if snapshot is None:
        return {}
    return {
        "projects": _percent(snapshot.projects_traced, snapshot.projects_total),
        "features": _percent(snapshot.features_traced, snapshot.features_total),
        "budget": _percent(snapshot.budget_traced, snapshot.budget_total),
        "critical": float(snapshot.open_by_severity.get(Severity.CRITICAL, 0)),
    }


FIGURE_LABELS = {
    "projects": "Projects traced to a goal (%)",
    "features": "Features traced to a goal (%)",
    "budget": "Budget traced to a goal (%)",
    "critical": "Open critical flags",
}


def build(user: Any, week: datetime.date, now: datetime.datetime | None = None) -> Digest:
    now = now or timezone.now()
    mine = Q(manager=user) | Q(sponsor=user)
    my_projects = CRMProject.objects.filter(mine, status__in=LIVE_PROJECT_STATUSES)
    my_flags = Flag.objects.filter(project__in=my_projects.values("pk"))

    # Open flags by project: one GROUP BY.
    by_project = list(
        my_flags.filter(state__in=OPEN_STATES)
        .order_by()
        .values("project_id", "project__title")
        .annotate(
            critical=_count(Severity.CRITICAL),
            warning=_count(Severity.WARNING),
            info=_count(Severity.INFO),
        )
        .order_by("-critical", "-warning", "project__title")
    )
    flags_by_project = Section(rows=by_project[:LIST_LIMIT], total=len(by_project))

    # Approvals waiting: projects they sponsor; every approvable one for an executive.
    approvable = CRMProject.objects.filter(status__in=APPROVABLE_PROJECT_STATUSES)
    if Role.EXECUTIVE not in user_roles(user):
        approvable = approvable.filter(sponsor=user)
    approvals = Section(
        rows=list(approvable.order_by("title").values("pk", "title", "status")[:LIST_LIMIT]),
        total=approvable.count(),
    )

    # Waivers expiring within 7 days that they granted or that cover their projects.
    expiring = Flag.objects.filter(
        Q(waived_by=user) | Q(project__in=my_projects.values("pk")),
        state=FlagState.WAIVED,
        waiver_expires_at__gt=now,
        waiver_expires_at__lte=now + datetime.timedelta(days=7),
    )
    waivers = Section(
        rows=list(
            expiring.order_by("waiver_expires_at", "pk").values(
                "pk", "subject_label", "message", "waiver_expires_at", "project_id"
            )[:LIST_LIMIT]
        ),
        total=expiring.count(),
    )

    stalled_flags = my_flags.filter(rule=STALLED_RULE, state__in=OPEN_STATES)
    stalled = Section(
        rows=list(
            stalled_flags.order_by("subject_label").values("project_id", "subject_label")[
                :LIST_LIMIT
            ]
        ),
        total=stalled_flags.count(),
    )

    latest = Snapshot.objects.order_by("-taken_at", "-id").first()
    before = (
        Snapshot.objects.filter(taken_at__lte=latest.taken_at - datetime.timedelta(days=7))
        .order_by("-taken_at", "-id")
        .first()
        if latest
        else None
    )
    current, previous = _figures(latest), _figures(before)
    figures = [
        Figure(label, current.get(key), previous.get(key)) for key, label in FIGURE_LABELS.items()
    ]

    pending_lines = MailDelivery.objects.filter(
        user=user, kind=DeliveryKind.DIGEST_ITEM, state=DeliveryState.PENDING
    ).select_related("event")
    lines = list(pending_lines.order_by("event__occurred_at", "pk")[:100])
    return Digest(
        user=user,
        week=week,
        flags_by_project=flags_by_project,
        approvals=approvals,
        waivers=waivers,
        stalled=stalled,
        figures=figures if latest else [],
        figures_as_of=latest.taken_at if latest else None,
        figures_compared_with=before.taken_at if before else None,
        lines=[line.event for line in lines],
        line_ids=[line.pk for line in lines],
    )


def _count(severity: str) -> Any:
    return Count("pk", filter=Q(severity=severity))
