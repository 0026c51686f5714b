"""History pages: an object's History tab, the Activity page, and restoring a deleted object.

The entries are django-auditlog's (core.audit); these pages read them a page at a time.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from auditlog import get_logentry_model
from django import forms
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Model, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from alignment.models import Flag
from core import audit
from core.forms import DateInput, PersonField, refusal_message
from core.people import holding
from core.permissions import can_read, can_restore, can_see_activity, visible_to
from core.services import Restored
from core.views import paginate, uncounted_page
from goals import services as goal_services
from goals.models import KPI, BusinessGoal, KPICheckIn
from projects import services as project_services
from projects.models import (
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    ProjectCheckIn,
    ProjectDecision,
    ProjectLink,
    RoadmapPhase,
    SuccessMetric,
    System,
    UserGroup,
)
from strategies import services as strategy_services
from strategies.models import BusinessStrategy, CRMStrategy, CRMStrategyServes

# kind → (model, the object's page by id or None, how to restore a deleted one or None)
Restore = Callable[..., Restored]
KINDS: dict[str, tuple[type[Model], str | None, Restore | None]] = {
    "goal": (
        BusinessGoal,
        "goals:detail",
        lambda actor, pk: goal_services.goal_restore(actor=actor, goal_id=pk),
    ),
    "kpi": (KPI, None, None),
    "business_strategy": (
        BusinessStrategy,
        "strategies:business_detail",
        lambda actor, pk: strategy_services.business_strategy_restore(
            actor=actor, business_strategy_id=pk
        ),
    ),
    "crm_strategy": (
        CRMStrategy,
        "strategies:crm_detail",
        lambda actor, pk: strategy_services.crm_strategy_restore(actor=actor, crm_strategy_id=pk),
    ),
    "project": (
        CRMProject,
        "projects:detail",
        lambda actor, pk: project_services.project_restore(actor=actor, project_id=pk),
    ),
    "feature": (
        Feature,
        "projects:feature_detail",
        lambda actor, pk: project_services.feature_restore(actor=actor, feature_id=pk),
    ),
    "department": (Department, None, None),
    "user_group": (UserGroup, "projects:user_group_edit", None),
    "system": (System, "projects:system_detail", None),
    "flag": (Flag, None, None),
}
KIND_LABELS = {
    "goal": "Goals and their KPIs",
    "business_strategy": "Business strategies",
    "crm_strategy": "CRM strategies and what they serve",
    "project": "Projects, their links, features, metrics, roadmap and check-ins",
    "feature": "Features and their links",
    "flag": "Flags",
}
RESTORABLE = {kind for kind, (_m, _u, restore) in KINDS.items() if restore is not None}
PER_PAGE = 25


def _kind(kind: str) -> tuple[type[Model], str | None, Restore | None]:
    try:
        return KINDS[kind]
    except KeyError:
        raise Http404 from None


def object_page(kind: str, pk: Any) -> str | None:
    """The live page of an object by kind and id (no query: it may have been deleted)."""
    name = KINDS.get(kind, (None, None, None))[1]
    return reverse(name, args=[pk]) if name else None


def _page_link(key: str) -> str | None:
    kind, _, pk = key.partition(":")
    return object_page(kind, pk) if pk.isdigit() else None


def _rows(request: HttpRequest, entries: Any, *, counted: bool = True) -> dict[str, Any]:
    """A page of `entries`, described. Not `counted`: the whole history is too long to count
    per request (it grows with every edit), so the page only says whether a next exists."""
    entries = entries.select_related("actor", "content_type")
    page: Any = (
        paginate(request, entries, PER_PAGE)
        if counted
        else uncounted_page(entries, request.GET.get("page"), PER_PAGE)
    )
    rows = audit.describe(page.object_list)
    back = _restored(page.object_list)
    for row in rows:
        entry = row.entry
        own_kind = _own_kind(entry)
        row.page_url = _page_link(entry.page_key)  # type: ignore[attr-defined]
        row.history_url = (  # type: ignore[attr-defined]
            reverse("object_history", args=[own_kind, entry.object_id])
            if own_kind in KINDS and entry.object_id is not None
            else None
        )
        deleted = entry.action == audit.DELETED and own_kind in RESTORABLE
        # A deletion whose object is back (restored since) offers no second restore.
        row.restored = deleted and (own_kind, entry.object_id) in back  # type: ignore[attr-defined]
        row.restorable = (  # type: ignore[attr-defined]
            deleted and not row.restored and can_restore(request.user)  # type: ignore[attr-defined]
        )
        row.own_kind = own_kind  # type: ignore[attr-defined]
    return {"page_obj": page, "rows": rows, "uncounted": not counted}


def _restored(entries: Any) -> set[tuple[str, int]]:
    """Of the page's deletions of restorable objects, those whose object exists again: one
    query per kind on the page, whatever the number of entries."""
    deleted: dict[str, set[int]] = {}
    for entry in entries:
        kind = _own_kind(entry)
        if entry.action == audit.DELETED and kind in RESTORABLE and entry.object_id is not None:
            deleted.setdefault(kind, set()).add(entry.object_id)
    back: set[tuple[str, int]] = set()
    for kind, ids in deleted.items():
        model = KINDS[kind][0]
        back.update(
            (kind, pk) for pk in model._base_manager.filter(pk__in=ids).values_list("pk", flat=True)
        )
    return back


def _own_kind(entry: Any) -> str:
    model = entry.content_type.model_class()
    return audit.kind_of(model) if model is not None else ""


def object_history(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """An object's History tab: its changes and its parts', newest first, a page at a time.
    A deleted object's history stays readable (with a Restore button for who may)."""
    model, _page, restore = _kind(kind)
    obj = visible_to(model._default_manager.all(), request.user).filter(pk=pk).first()
    deleted = None
    if obj is None:
        deleted = audit.deletion(model, pk) if can_read(request.user) else None
        if deleted is None:
            raise Http404
        obj = model(pk=pk)
    title = str(obj) if deleted is None else deleted.object_repr
    return render(
        request,
        "history/object_history.html",
        {
            "kind": kind,
            "kind_label": str(model._meta.verbose_name),
            "object_pk": pk,
            "object_title": title,
            "object_url": object_page(kind, pk) if deleted is None else None,
            "deleted": deleted,
            "can_restore": deleted is not None
            and restore is not None
            and can_restore(request.user),
            **_rows(request, audit.history_of(obj)),
        },
    )


class ActivityFilter(forms.Form):
    person = PersonField(holding(), required=False, label="Person")
    kind = forms.ChoiceField(
        required=False,
        label="Kind of object",
        choices=[("", "Everything"), *KIND_LABELS.items()],
    )
    since = forms.DateField(required=False, label="From", widget=DateInput())
    until = forms.DateField(required=False, label="To", widget=DateInput())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return data


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def activity(request: HttpRequest) -> HttpResponse:
    """Every recorded change, newest first, for executives, sponsors and admins (404 for
    others, as for anything they may not see): by person, kind of object and date range."""
    if not can_see_activity(request.user):
        raise Http404
    form = ActivityFilter(request.GET or None)
    entries = get_logentry_model().objects.all()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data.get("person"):
            entries = entries.filter(actor=data["person"])
        if data.get("kind"):
            entries = entries.filter(_of_kind(data["kind"]))
        if data.get("since"):
            entries = entries.filter(timestamp__gte=_day_start(data["since"]))
        if data.get("until"):
            entries = entries.filter(
                timestamp__lt=_day_start(data["until"] + datetime.timedelta(days=1))
            )
    return render(
        request,
        "history/activity.html",
        {"form": form, **_rows(request, entries.order_by("-timestamp", "-id"), counted=False)},
    )


# A kind of object on the Activity page: the models of it and of its parts.
KIND_MODELS: dict[str, tuple[type[Model], ...]] = {
    "goal": (BusinessGoal, KPI, KPICheckIn),
    "business_strategy": (BusinessStrategy,),
    "crm_strategy": (CRMStrategy, CRMStrategyServes),
    "project": (
        CRMProject,
        ProjectLink,
        Feature,
        FeatureLink,
        SuccessMetric,
        RoadmapPhase,
        ProjectCheckIn,
        ProjectDecision,
    ),
    "feature": (Feature, FeatureLink),
    "flag": (Flag,),
}


def _of_kind(kind: str) -> Q:
    """The entries about objects of `kind` or their parts (a project's links, features …):
    by content type, which the history's index on the object leads with."""
    types = ContentType.objects.get_for_models(*KIND_MODELS[kind]).values()
    return Q(content_type__in=[t.pk for t in types])


@require_POST
def restore(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Bring back a deleted goal, strategy, project or feature (executives and admins)."""
    _model, _page, restore_service = _kind(kind)
    if restore_service is None:
        raise Http404
    history_url = reverse("object_history", args=[kind, pk])
    try:
        restored = restore_service(request.user, pk)
    except ValidationError as error:
        messages.error(request, refusal_message(error))
        return redirect(history_url)
    message = f"Restored “{restored.object}”."
    if restored.skipped:
        message += " Not restored: " + "; ".join(restored.skipped) + "."
    messages.success(request, message)
    return redirect(object_page(kind, pk) or history_url)
