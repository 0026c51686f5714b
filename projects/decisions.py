"""A project's approval thread: the entries (decisions, resubmissions, comments) and the events
they emit.

The sponsor's decisions — approve, reject, send back — live in `alignment.services`, because
approval is refused while the readiness rules block it and `projects` never imports the engine;
they record their entry with `record` and emit with the events below. The manager's side —
resubmitting after a send-back, commenting — lives here.

How the states map onto the project's status (see README, "Approval workflow"):

- waiting for approval: proposed (or on hold) with no open send-back;
- sent back: proposed (or on hold) and the newest decision of state is a send-back, until the
  manager resubmits (`models.sent_back_decision`);
- approved: status approved, as before;
- rejected: status cancelled, with the rejection (and its reason) on the thread — so every rule,
  filter, list, the workbook and the generator keep reading six statuses.

Events are emitted inside the deciding transaction (core.events): a rolled-back decision leaves
no event behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from core import events
from core.permissions import can_comment_on_project
from core.roles import Role
from core.services import Actor, Version, check_version, require, touch

from .access import project_for
from .models import (
    DECISION_COMMENT_MAX,
    DECISION_KINDS_NEEDING_COMMENT,
    CRMProject,
    DecisionKind,
    ProjectDecision,
    sent_back_decision,
)


def clean_comment(comment: Any, *, required: bool) -> str:
    """The comment as stored (surrounding blanks dropped); a ValidationError naming `comment`
    when it is required and blank, too long, or not text."""
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise ValidationError({"comment": "Write the comment as text."})
    comment = comment.strip()
    if required and not comment:
        raise ValidationError({"comment": "A comment is required: say why, or what to fix."})
    if len(comment) > DECISION_COMMENT_MAX:
        raise ValidationError(
            {"comment": f"At most {DECISION_COMMENT_MAX} characters ({len(comment)} were sent)."}
        )
    if "\x00" in comment:
        raise ValidationError({"comment": "Null characters are not allowed."})
    return comment


def thread(project_id: int) -> list[ProjectDecision]:
    """The project's thread, oldest first, with each author: one query."""
    return list(
        ProjectDecision.objects.filter(project_id=project_id)
        .select_related("author")
        .order_by("created_at", "id")
    )


def open_send_back(project: CRMProject) -> ProjectDecision | None:
    """The send-back the manager has not answered yet (None when there is none)."""
    return sent_back_decision(thread(project.pk), project.status)


def record(project: CRMProject, kind: str, comment: str, actor: Actor) -> ProjectDecision:
    """Add an entry to the thread (the caller holds the project's row lock)."""
    if kind in DECISION_KINDS_NEEDING_COMMENT and not comment:
        raise ValidationError({"comment": "A comment is required: say why, or what to fix."})
    entry = ProjectDecision(project=project, kind=kind, comment=comment, author=actor)
    entry.full_clean()
    entry.save()
    return entry


# --- events -----------------------------------------------------------------------------------


def _others(ids: Iterable[int | None], actor: Actor) -> tuple[int, ...]:
    """The recipients, each once, in order, without the person who acted."""
    actor_id = getattr(actor, "pk", None)
    return tuple(dict.fromkeys(pk for pk in ids if pk is not None and pk != actor_id))


def approvers(project: CRMProject) -> list[int | None]:
    """Who an approval waits for: the project's sponsor, then every active executive (who may
    decide any project: core.permissions.can_approve_project). One query."""
    executives = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.EXECUTIVE.value)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [project.sponsor_id, *executives]


def emit_approval_requested(
    project: CRMProject, *, key: str, actor: Actor, comment: str = ""
) -> None:
    """The project now waits for a decision: tell its sponsor and the executives. Only a
    project with a sponsor waits (without one, approval is refused by `project.no_sponsor`)."""
    if project.sponsor_id is None:
        return
    events.emit(
        events.Event(
            type=events.APPROVAL_REQUESTED,
            key=key,
            subject_kind="project",
            subject_id=project.pk,
            subject_title=project.title,
            path=project.get_absolute_url(),
            summary=f"“{project.title}” waits for your approval.",
            recipients=_others(approvers(project), actor),
            actor_id=getattr(actor, "pk", None),
            data={"comment": comment} if comment else {},
        )
    )


DECIDED_EVENTS = {
    DecisionKind.APPROVED: (events.PROJECT_APPROVED, "was approved"),
    DecisionKind.REJECTED: (events.PROJECT_REJECTED, "was rejected"),
    DecisionKind.SENT_BACK: (events.PROJECT_SENT_BACK, "was sent back to you"),
}


def emit_decided(project: CRMProject, decision: ProjectDecision, *, actor: Actor) -> None:
    """Tell the project's manager what was decided, with the comment."""
    event_type, verb = DECIDED_EVENTS[DecisionKind(decision.kind)]
    events.emit(
        events.Event(
            type=event_type,
            key=f"{event_type}:{project.pk}:{decision.pk}",
            subject_kind="project",
            subject_id=project.pk,
            subject_title=project.title,
            path=project.get_absolute_url(),
            summary=f"“{project.title}” {verb}.",
            recipients=_others([project.manager_id], actor),
            actor_id=getattr(actor, "pk", None),
            data={"decision_id": decision.pk, "comment": decision.comment},
        )
    )


# --- the manager's side -------------------------------------------------------------------------


@transaction.atomic
def project_resubmit(
    *, actor: Actor, project_id: int, comment: Any = "", version: Version = None
) -> ProjectDecision:
    """The manager answers a send-back: the project waits for a decision again. Refused unless
    it was sent back and not answered yet; a stale version (If-Match) is refused."""
    project = project_for(
        actor,
        project_id,
        change=True,
        refusal="Only the project's manager may resubmit it.",
        for_update=True,
    )
    check_version(project, version)
    comment = clean_comment(comment, required=False)
    if open_send_back(project) is None:
        raise ValidationError(
            {"status": "Only a project sent back (and not resubmitted yet) can be resubmitted."}
        )
    entry = record(project, DecisionKind.RESUBMITTED, comment, actor)
    touch(project, actor=actor)  # a decision taken on the sent-back version is now stale
    emit_approval_requested(
        project,
        key=f"{events.APPROVAL_REQUESTED}:{project.pk}:{entry.pk}",
        actor=actor,
        comment=comment,
    )
    return entry


@transaction.atomic
def project_comment(*, actor: Actor, project_id: int, comment: Any) -> ProjectDecision:
    """Add a comment to the thread: the project's manager, its sponsor, executives, admins.
    A comment decides nothing, so it needs no version and bumps none."""
    project = project_for(actor, project_id, for_update=True)  # 404 for who may not see it
    require(
        can_comment_on_project(actor, project),
        "Only the project's manager, its sponsor or an executive may comment on its approval.",
    )
    comment = clean_comment(comment, required=True)
    return record(project, DecisionKind.COMMENT, comment, actor)
