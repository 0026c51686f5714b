"""Writes for projects, features, their links to CRM strategies, metrics, roadmap and check-ins.

Every caller (pages, API, admin, demo) uses these. Services take ids and the changes, load the
row themselves through projects.access (locked, checked against what is stored), refuse an edit
made from a stale version, and save only the fields that changed.
"""

import datetime
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Max, PositiveIntegerField, Q, Value, When
from django.http import Http404
from django.utils import timezone

from core import audit
from core.permissions import (
    can_create_project,
    can_import_portfolio,
    can_manage_departments,
    can_manage_systems,
    can_manage_user_groups,
    is_admin,
)
from core.roles import Role
from core.services import (
    Actor,
    Restored,
    Version,
    apply_changes,
    apply_fields,
    bulk_upsert,
    bulk_upsert_readings,
    check_version,
    delete_unless_named,
    require,
    require_people_roles,
    restore_deleted,
    save_changes,
    touch,
    update_stored,
    validate_and_save,
)
from strategies.models import CRMStrategy, StrategyStatus

from . import decisions
from .access import (
    SYSTEM_REFUSAL,
    check_in_for,
    department_for,
    feature_for,
    metric_for,
    metric_reading_for,
    phase_for,
    project_for,
    project_system_for,
    system_for,
    user_group_for,
)
from .models import (
    CRMProject,
    Department,
    Feature,
    FeatureLink,
    Health,
    MetricReading,
    ProjectCheckIn,
    ProjectDecision,
    ProjectLink,
    ProjectStatus,
    ProjectSystem,
    ProjectUserGroup,
    RoadmapPhase,
    SuccessMetric,
    System,
    UserGroup,
)

# The fields each service writes; the forms, serializers and admins take theirs from here.
PROJECT_FIELDS = (
    "title",
    "description",
    "manager",
    "sponsor",
    "department",
    "business_owner",
    "status",
    "start_date",
    "end_date",
    "budget_technology",
    "budget_people",
    "budget_process",
    "budget_training",
    "budget_incentives",
    "integration_notes",
)
FEATURE_FIELDS = ("title", "description", "priority", "status", "position")
METRIC_FIELDS = ("name", "unit", "baseline", "target", "current")
USER_GROUP_FIELDS = ("name", "description")
DEPARTMENT_FIELDS = ("name", "is_it")
PHASE_FIELDS = ("name", "kind", "start_date", "end_date", "go_live", "position")
CHECK_IN_FIELDS = ("checked_in_on", "health", "summary")


@dataclass(frozen=True)
class LinkSpec:
    """One claimed link: the CRM strategy served (by id), how, and optionally how much.

    `keep`: a link that already exists keeps its stored rationale and weight (a client that
    sends only ids); read under the owner's lock, so a concurrent edit of them is not undone.
    """

    crm_strategy_id: int
    rationale: str = ""
    weight: int | None = None
    keep: bool = False


# A link's rationale says, in at least a sentence, how the project or feature serves the CRM
# strategy: "CRM" or "yes" justifies nothing. Checked when a rationale is written, so links
# stored before the rule stay readable and keep their text until someone edits it.
RATIONALE_MIN_LENGTH = 20
RATIONALE_RULE = (
    f"Say in at least a sentence ({RATIONALE_MIN_LENGTH} characters or more, more than one "
    "word) how it serves this CRM strategy."
)


# What a link's weight does (alignment.dashboard shares investment this way).
WEIGHT_MEANING = (
    "Optional, 1 to 100: how much of the project's budget this link carries in the investment "
    "figures. A traceable project's budget is shared over its traceable links in proportion to "
    "their weights when every one of them has a weight, otherwise evenly (so 70 and 30 split "
    "it 70/30; 1 and 1 split it evenly). A feature's weight is recorded for its team; "
    "features carry no budget of their own."
)


def rationale_refusal(text: str) -> str | None:
    """Why `text` is not a rationale (None: it is). The one rule pages, API and imports use."""
    text = text.strip()
    if not text:
        return f"A rationale is required. {RATIONALE_RULE}"
    if len(text) < RATIONALE_MIN_LENGTH or " " not in text:
        return f"“{text}” is too short to be a rationale. {RATIONALE_RULE}"
    return None


# Who may fill a project's person fields: the browser's pickers offer exactly these people.
PROJECT_PEOPLE: dict[str, tuple[Role, ...]] = {
    "manager": (Role.PROJECT_MANAGER,),
    "sponsor": (Role.SPONSOR, Role.EXECUTIVE),
    "business_owner": (),
}


def project_status_refusal(new: str, *, current: str, approved: bool) -> str | None:
    """Why a project now `current` (and approved or not) may not be given status `new` by an
    edit or on create (None: it may). The one rule the forms' status choices are read from."""
    if new == current:
        return None
    # Approval is the sponsor's decision (alignment.services.project_approve, which checks
    # readiness against the rule catalogue), never a field edit.
    if new == ProjectStatus.APPROVED:
        return "A project is approved by its sponsor; ask for approval."
    if new == ProjectStatus.ACTIVE and not approved:
        return "A project must be approved before it becomes active."
    return None


def project_statuses_offered(*, current: str, approved: bool) -> list[str]:
    """The statuses `project_status_refusal` accepts for such a project, in their usual order:
    what a form offers, so it never offers one the service refuses."""
    return [
        status
        for status in ProjectStatus.values
        if project_status_refusal(status, current=current, approved=approved) is None
    ]


def _check_status_change(project: CRMProject, old_status: str) -> None:
    refusal = project_status_refusal(
        project.status, current=old_status, approved=project.approved_at is not None
    )
    if refusal is not None:
        raise ValidationError({"status": refusal})


@transaction.atomic
def project_create(*, actor: Actor, **fields: Any) -> CRMProject:
    """Create a project; its manager defaults to the project manager creating it."""
    require(can_create_project(actor), "Only project managers create projects.")
    groups = fields.pop("user_groups", None)
    project = CRMProject()
    apply_fields(project, fields, PROJECT_FIELDS)
    if project.manager_id is None:
        project.manager = actor
    elif project.manager_id != actor.pk and not is_admin(actor):
        raise ValidationError({"manager": "You can only create projects you manage yourself."})
    require_people_roles(project, PROJECT_PEOPLE)
    _check_status_change(project, ProjectStatus.PROPOSED)
    project = validate_and_save(project, actor=actor)
    if groups is not None:
        _set_user_groups(project, _ids(groups))
    if project.status == ProjectStatus.PROPOSED:  # it waits for its sponsor's decision
        decisions.emit_approval_requested(
            project, key=f"approval.requested:{project.pk}:created", actor=actor
        )
    return project


@transaction.atomic
def project_update(
    *, actor: Actor, project_id: int, changes: Mapping[str, Any], version: Version = None
) -> CRMProject:
    """Change a project's fields. Status moves except approval (alignment.services). Its
    manager may hand it to another project manager: who may edit is decided on the stored
    manager, before the change."""
    project = project_for(actor, project_id, change=True, for_update=True)
    check_version(project, version)
    stored = {"status": project.status, **{f: getattr(project, f"{f}_id") for f in PROJECT_PEOPLE}}
    changes = dict(changes)
    groups = changes.pop("user_groups", None)
    changed = apply_changes(project, changes, PROJECT_FIELDS)
    require_people_roles(project, PROJECT_PEOPLE, previous=stored)
    _check_status_change(project, stored["status"])
    if groups is not None and _set_user_groups(project, _ids(groups)) and not changed:
        return touch(project, actor=actor)
    project = save_changes(project, changed, actor=actor)
    if (
        "sponsor" in changed
        and project.status == ProjectStatus.PROPOSED
        and decisions.open_send_back(project) is None
    ):
        # A new sponsor: the proposal now waits for them (not while it is with its manager).
        decisions.emit_approval_requested(
            project, key=f"approval.requested:{project.pk}:v{project.version}", actor=actor
        )
    return project


@transaction.atomic
def project_delete(*, actor: Actor, project_id: int, version: Version = None) -> None:
    """Delete a project that never started; approved or running ones are cancelled instead."""
    project = project_for(actor, project_id, change=True, for_update=True)
    check_version(project, version)
    if project.approved_at is not None or project.status not in (
        ProjectStatus.PROPOSED,
        ProjectStatus.CANCELLED,
    ):
        raise ValidationError(
            "Cannot delete a project that was approved or has started; set its status to "
            "cancelled instead, so its history stays.",
            code="protected",
        )
    project.delete()


def _record_link_writes(
    owner_field: str,
    added: Sequence[Any],
    edited: Sequence[tuple[Any, tuple[str, int | None]]],
    *,
    serialize: bool = False,
    related: Sequence[str] = (),
) -> None:
    """The change history of links written in bulk, which sends no signal: each added link
    whole, each edited one's rationale and weight old → new (`edited`: the link and its
    rationale and weight before)."""
    audit.log_rows(
        [
            *(
                (
                    link,
                    audit.CREATED,
                    {
                        owner_field: (None, getattr(link, f"{owner_field}_id")),
                        "crm_strategy": (None, link.crm_strategy_id),
                        "rationale": (None, link.rationale),
                        "weight": (None, link.weight),
                    },
                )
                for link in added
            ),
            *(
                (
                    link,
                    audit.UPDATED,
                    {
                        name: (old, new)
                        for name, old, new in zip(
                            ("rationale", "weight"),
                            was,
                            (link.rationale, link.weight),
                            strict=True,
                        )
                        if old != new
                    },
                )
                for link, was in edited
            ),
        ],
        serialize=serialize,
        related=related,
    )


def _set_links(
    *,
    owner_field: str,
    owner: CRMProject | Feature,
    link_model: type[ProjectLink] | type[FeatureLink],
    links: Iterable[LinkSpec],
    actor: Actor,
) -> None:
    """Make the owner's links exactly `links` (the owner's row is locked by the caller); when
    anything changed, the owner's version moves on too."""
    specs = {spec.crm_strategy_id: spec for spec in links}
    # Locked (in id order, so two writers cannot deadlock): a CRM strategy being deleted or
    # retired meanwhile either waits for this transaction (and then sees the link) or has
    # finished, and is then missing here instead of failing the link's insert with a 500.
    strategies = {
        row.pk: row
        for row in CRMStrategy.objects.select_for_update().filter(pk__in=specs).order_by("pk")
    }
    missing = sorted(set(specs) - set(strategies))
    if missing:
        raise ValidationError(
            f"CRM strategy {', '.join(map(str, missing))} no longer exists (deleted meanwhile?); "
            "nothing was linked. Reload and choose again.",
            code="stale",
        )
    existing = {
        link.crm_strategy_id: link for link in link_model.objects.filter(**{owner_field: owner})
    }
    retired = sorted(
        strategies[pk].title
        for pk in specs
        if pk not in existing and strategies[pk].status == StrategyStatus.RETIRED
    )
    if retired:
        raise ValidationError(
            {"crm_strategies": f"Retired CRM strategies cannot be linked: {', '.join(retired)}."}
        )
    _check_rationales(specs, existing, strategies)
    before = {pk: (link.rationale, link.weight) for pk, link in existing.items()}
    dropped = link_model.objects.filter(**{owner_field: owner}).exclude(crm_strategy_id__in=specs)
    deleted, _ = dropped.delete()
    added: list[Any] = []
    edited: list[Any] = []
    for pk, spec in specs.items():
        link = existing.get(pk)
        if link is None:
            link = link_model(**{owner_field: owner}, crm_strategy=strategies[pk])
            added.append(link)
        elif spec.keep or (link.rationale == spec.rationale and link.weight == spec.weight):
            continue
        else:
            edited.append(link)
            # Named in its history entry without a query of its own.
            setattr(link, owner_field, owner)
            link.crm_strategy = strategies[pk]
        if not spec.keep:
            link.rationale = spec.rationale
            link.weight = spec.weight
        # Field checks only: the weight range is the field's validators, and uniqueness holds
        # by construction (one spec per strategy); constraint checks would query once per link.
        link.full_clean(exclude=[owner_field, "crm_strategy"], validate_constraints=False)
    # Two statements whatever the number of links (and one for their history: bulk writes
    # send no signal, so they are recorded here).
    link_model.objects.bulk_create(added)
    link_model.objects.bulk_update(edited, ["rationale", "weight"])
    _record_link_writes(
        owner_field,
        added,
        [(link, before[link.crm_strategy_id]) for link in edited],
        serialize=True,
    )
    changed = bool(deleted or added or edited)
    if changed:
        touch(owner, actor=actor)


def _check_rationales(
    specs: Mapping[int, LinkSpec], existing: Mapping[int, Any], strategies: Mapping[int, Any]
) -> None:
    """Every new link, and every link whose rationale changes, says how it serves its CRM
    strategy. A link sent by id alone keeps its stored rationale; a new one has none to keep."""
    unexplained: list[str] = []
    weak: list[str] = []
    for pk, spec in specs.items():
        link = existing.get(pk)
        title = strategies[pk].title
        if spec.keep:
            if link is None:
                unexplained.append(title)
            continue
        if link is not None and link.rationale == spec.rationale:
            continue
        refusal = rationale_refusal(spec.rationale)
        if refusal is not None:
            weak.append(f"“{title}”: {refusal}")
    errors: dict[str, list[str]] = {}
    if unexplained:
        errors["crm_strategies"] = [
            "A new link needs its rationale; send it in `links` as "
            "{crm_strategy, rationale, weight} for: " + ", ".join(sorted(unexplained)) + "."
        ]
    if weak:
        errors["rationale"] = weak
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def project_set_links(
    *,
    actor: Actor,
    project_id: int,
    links: Iterable[LinkSpec],
    version: Version = None,
) -> CRMProject:
    """Replace the project's links to CRM strategies with exactly `links`."""
    project = project_for(actor, project_id, change=True, for_update=True)
    check_version(project, version)
    _set_links(
        owner_field="project", owner=project, link_model=ProjectLink, links=links, actor=actor
    )
    return project


def _next_position(queryset: Any) -> int:
    last = queryset.aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


@transaction.atomic
def feature_create(*, actor: Actor, project_id: int, **fields: Any) -> Feature:
    """Add a feature to the end of a project's list unless a position is given."""
    # Locked so two features added at once do not both take the last place.
    project = project_for(actor, project_id, change=True, for_update=True)
    feature = Feature(project=project)
    apply_fields(feature, fields, FEATURE_FIELDS)
    if "position" not in fields:
        feature.position = _next_position(project.features.all())
    return validate_and_save(feature, actor=actor)


@transaction.atomic
def feature_update(
    *, actor: Actor, feature_id: int, changes: Mapping[str, Any], version: Version = None
) -> Feature:
    """Change a feature's fields (it stays in its project)."""
    return update_stored(
        feature_for,
        feature_id,
        actor=actor,
        changes=changes,
        allowed=FEATURE_FIELDS,
        version=version,
    )


@transaction.atomic
def feature_delete(*, actor: Actor, feature_id: int, version: Version = None) -> None:
    """Delete a feature with its links."""
    # The project first, as adding, moving and reordering do: the order of the project's
    # features changes under one lock, so a move never works on a list losing a row meanwhile.
    project_id = feature_for(actor, feature_id, change=True).project_id
    project_for(actor, project_id, change=True, for_update=True)
    feature = feature_for(actor, feature_id, change=True, for_update=True)
    check_version(feature, version)
    feature.delete()


@transaction.atomic
def feature_set_links(
    *,
    actor: Actor,
    feature_id: int,
    links: Iterable[LinkSpec],
    version: Version = None,
) -> Feature:
    """Replace the feature's links to CRM strategies with exactly `links`."""
    feature = feature_for(actor, feature_id, change=True, for_update=True)
    check_version(feature, version)
    _set_links(
        owner_field="feature", owner=feature, link_model=FeatureLink, links=links, actor=actor
    )
    return feature


def _reorder(project: CRMProject, feature_ids: Sequence[int], actor: Actor) -> None:
    rows = list(project.features.values_list("pk", "title", "position"))
    current = {pk for pk, _title, _position in rows}
    if len(feature_ids) != len(set(feature_ids)) or set(feature_ids) != current:
        raise ValidationError({"features": "List every feature of this project exactly once."})
    if not feature_ids:
        return
    position = Case(
        *[When(pk=pk, then=Value(index)) for index, pk in enumerate(feature_ids)],
        output_field=PositiveIntegerField(),
    )
    wanted = {pk: index for index, pk in enumerate(feature_ids)}
    moving = [
        (Feature(pk=pk, project_id=project.pk, title=title, position=wanted[pk]), old)
        for pk, title, old in rows
        if old != wanted[pk]
    ]
    # One statement; only the features that really move get a new version (and an entry in
    # the history, one statement for all: an update sends no signal).
    audit.log_rows(
        (feature, audit.UPDATED, {"position": (old, feature.position)}) for feature, old in moving
    )
    project.features.exclude(position=position).update(
        position=position,
        version=F("version") + 1,
        updated_by=actor if getattr(actor, "is_authenticated", False) else None,
        updated_at=timezone.now(),
    )


@transaction.atomic
def feature_reorder(
    *, actor: Actor, project_id: int, feature_ids: Sequence[int], version: Version = None
) -> None:
    """Put the project's features in the given order; the list must name each exactly once.
    With `version`, refused if the project changed since the caller read it."""
    project = project_for(actor, project_id, change=True, for_update=True)
    check_version(project, version)
    _reorder(project, feature_ids, actor)


@transaction.atomic
def feature_move(
    *,
    actor: Actor,
    feature_id: int,
    direction: Literal["up", "down"],
    version: Version = None,
) -> None:
    """Move a feature one place up or down in its project's order (the priority order); at
    the top or bottom nothing changes."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": "Move a feature up or down."})
    feature = feature_for(actor, feature_id, change=True)
    # The order is read under the project's lock, so two moves at once do not undo each other.
    project = project_for(actor, feature.project_id, change=True, for_update=True)
    feature.refresh_from_db(fields=["version"])
    check_version(feature, version)
    order = list(project.features.order_by("position", "id").values_list("id", flat=True))
    if feature.pk not in order:  # deleted meanwhile
        raise Http404
    index = order.index(feature.pk)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
        _reorder(project, order, actor)


@transaction.atomic
def metric_create(*, actor: Actor, project_id: int, **fields: Any) -> SuccessMetric:
    """Add a success metric; it counts once it has a baseline and a target."""
    project = project_for(actor, project_id, change=True)
    metric = SuccessMetric(project=project)
    apply_fields(metric, fields, METRIC_FIELDS)
    return validate_and_save(metric, actor=actor)


@transaction.atomic
def metric_update(
    *, actor: Actor, metric_id: int, changes: Mapping[str, Any], version: Version = None
) -> SuccessMetric:
    """Change a success metric's fields."""
    return update_stored(
        metric_for, metric_id, actor=actor, changes=changes, allowed=METRIC_FIELDS, version=version
    )


@transaction.atomic
def metric_delete(*, actor: Actor, metric_id: int, version: Version = None) -> None:
    """Delete a success metric."""
    metric = metric_for(actor, metric_id, change=True, for_update=True)
    check_version(metric, version)
    metric.delete()


@transaction.atomic
def phase_create(*, actor: Actor, project_id: int, **fields: Any) -> RoadmapPhase:
    """Add a roadmap phase or milestone (at the end unless a position is given)."""
    project = project_for(actor, project_id, change=True, for_update=True)
    phase = RoadmapPhase(project=project)
    apply_fields(phase, fields, PHASE_FIELDS)
    if "position" not in fields:
        phase.position = _next_position(project.phases.all())
    return validate_and_save(phase, actor=actor)


@transaction.atomic
def phase_update(
    *, actor: Actor, phase_id: int, changes: Mapping[str, Any], version: Version = None
) -> RoadmapPhase:
    """Change a roadmap phase's fields."""
    return update_stored(
        phase_for, phase_id, actor=actor, changes=changes, allowed=PHASE_FIELDS, version=version
    )


@transaction.atomic
def phase_delete(*, actor: Actor, phase_id: int, version: Version = None) -> None:
    """Delete a roadmap phase or milestone."""
    phase = phase_for(actor, phase_id, change=True, for_update=True)
    check_version(phase, version)
    phase.delete()


@transaction.atomic
def project_check_in(
    *,
    actor: Actor,
    project_id: int,
    summary: str,
    health: str = Health.ON_TRACK,
    checked_in_on: datetime.date | None = None,
) -> ProjectCheckIn:
    """Record a progress check-in (dated today unless given, never in the future)."""
    project = project_for(actor, project_id, change=True)
    today = timezone.localdate()
    # A check-in reports progress made; one dated ahead would keep project.stalled quiet.
    if isinstance(checked_in_on, datetime.date) and checked_in_on > today:
        raise ValidationError(
            {"checked_in_on": "A check-in reports progress so far; it cannot be in the future."}
        )
    check_in = ProjectCheckIn(
        project=project,
        summary=summary,
        health=health,
        checked_in_on=checked_in_on or today,
        author=actor,
    )
    return validate_and_save(check_in, actor=actor)


@transaction.atomic
def project_check_in_update(
    *, actor: Actor, check_in_id: int, changes: Mapping[str, Any], version: Version = None
) -> ProjectCheckIn:
    """Correct a check-in (its summary, health or date; never dated in the future)."""
    check_in = check_in_for(actor, check_in_id, change=True, for_update=True)
    check_version(check_in, version)
    changed = apply_changes(check_in, changes, CHECK_IN_FIELDS)
    on = check_in.checked_in_on
    if isinstance(on, datetime.date) and on > timezone.localdate():
        raise ValidationError(
            {"checked_in_on": "A check-in reports progress so far; it cannot be in the future."}
        )
    return save_changes(check_in, changed, actor=actor)


@transaction.atomic
def project_check_in_delete(*, actor: Actor, check_in_id: int, version: Version = None) -> None:
    """Delete a check-in recorded by mistake."""
    check_in = check_in_for(actor, check_in_id, change=True, for_update=True)
    check_version(check_in, version)
    check_in.delete()


# The bulk path (the workbook import, executives and admins only): the same invariants as the
# services above, in a few statements for thousands of rows. Each row is (stored id or None,
# fields), foreign keys as `<name>_id`, resolved by the caller.
Rows = Sequence[tuple[int | None, Mapping[str, Any]]]
IMPORT_REFUSAL = "Only executives and admins may import a portfolio."


@transaction.atomic
def departments_import(*, actor: Actor, rows: Rows) -> tuple[list[Department], list[Department]]:
    """Create and update departments (name, is IT) in bulk; (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return bulk_upsert(Department, actor=actor, rows=rows, allowed=("name", "is_it"))


def _refuse_people_without_roles(
    rows: Rows, *, invited: Collection[int], stored: Mapping[int, Mapping[str, Any]]
) -> None:
    """`require_people_roles` for many rows in one query: each person named holds a role the
    field needs (superusers always do). People invited by an import (inactive, never signed in,
    no password yet) hold theirs though they are inactive until they set a password."""
    named = {
        fields[f"{field}_id"]
        for _, fields in rows
        for field in PROJECT_PEOPLE
        if fields.get(f"{field}_id") is not None
    }
    users = (
        get_user_model()
        .objects.filter(pk__in=named)
        .filter(
            Q(is_active=True)
            | Q(pk__in=list(invited))
            | Q(last_login__isnull=True, password__startswith=UNUSABLE_PASSWORD_PREFIX)
        )
    )
    held: dict[int, set[str]] = {}
    for user_pk, superuser, group in users.values_list("pk", "is_superuser", "groups__name"):
        names = held.setdefault(user_pk, set())
        if superuser:
            names.update(Role.values)
        if group in Role.values:
            names.add(group)
    for project_pk, fields in rows:
        before = stored.get(project_pk, {}) if project_pk is not None else {}
        for field, roles in PROJECT_PEOPLE.items():
            user_id = fields.get(f"{field}_id")
            # As on a page, only a new or changed person is checked (they may have lost a role
            # since; that does not block other edits).
            if user_id is None or before.get(f"{field}_id") == user_id:
                continue
            have = held.get(user_id, set())
            if (have & {r.value for r in roles}) if roles else have:
                continue
            role = " or ".join(str(r.label).lower() for r in roles) or "any"
            raise ValidationError(
                {
                    field: f"User {user_id} cannot be the {field.replace('_', ' ')}: they need the "
                    f"{role} role."
                }
            )


@transaction.atomic
def projects_import(
    *, actor: Actor, rows: Rows, invited: Collection[int] = ()
) -> tuple[list[CRMProject], list[CRMProject]]:
    """Create and update projects in bulk. The person fields need the same roles as on a page.
    An import is an executive's (or admin's) statement of the portfolio, and they may approve
    any project: a project imported as approved or active that was not approved yet is
    recorded as approved by them now. (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    rows = list(rows)
    people = [f"{field}_id" for field in PROJECT_PEOPLE]
    stored = {
        row["pk"]: row
        for row in CRMProject.objects.filter(
            pk__in=[pk for pk, _ in rows if pk is not None]
        ).values("pk", *people)
    }
    _refuse_people_without_roles(rows, invited=invited, stored=stored)
    approved = set(
        CRMProject.objects.filter(
            pk__in=[pk for pk, _ in rows if pk is not None], approved_at__isnull=False
        ).values_list("pk", flat=True)
    )
    now = timezone.now()
    committed = {ProjectStatus.APPROVED.value, ProjectStatus.ACTIVE.value}
    ready: list[tuple[int | None, Mapping[str, Any]]] = []
    for pk, fields in rows:
        if fields.get("status") in committed and pk not in approved:
            fields = {**fields, "approved_at": now, "approved_by_id": actor.pk}
        ready.append((pk, fields))
    return bulk_upsert(
        CRMProject,
        actor=actor,
        rows=ready,
        allowed=(*PROJECT_FIELDS, "approved_at", "approved_by"),
    )


@dataclass(frozen=True)
class LinkRow:
    """One imported link: who claims (project or feature id), what it serves, how, how much."""

    owner_id: int
    crm_strategy_id: int
    rationale: str
    weight: int | None = None


def _import_links(
    *,
    owner_field: str,
    owner_model: type[CRMProject] | type[Feature],
    link_model: type[ProjectLink] | type[FeatureLink],
    rows: Sequence[LinkRow],
    actor: Actor,
) -> tuple[int, int]:
    """Add and update links as `_set_links` does (the rationale rule, no new link to a retired
    CRM strategy, weights 1-100, a new version for each owner that changed), without removing
    any: an import adds to the portfolio. (created, updated)."""
    strategy_ids = {row.crm_strategy_id for row in rows}
    strategies = {
        row.pk: row
        for row in CRMStrategy.objects.select_for_update()
        .filter(pk__in=strategy_ids)
        .order_by("pk")
    }
    existing: dict[tuple[int, int], Any] = {}
    owners = {row.owner_id for row in rows}
    for stored in link_model.objects.filter(**{f"{owner_field}_id__in": owners}):
        existing[(getattr(stored, f"{owner_field}_id"), stored.crm_strategy_id)] = stored
    added: list[Any] = []
    edited: list[Any] = []
    # An edited link's rationale and weight before, for its history entry.
    before: dict[int, tuple[str, int | None]] = {}
    for row in rows:
        strategy = strategies.get(row.crm_strategy_id)
        if strategy is None:
            raise ValidationError(
                f"CRM strategy {row.crm_strategy_id} no longer exists; nothing was linked.",
                code="stale",
            )
        link: Any = existing.get((row.owner_id, row.crm_strategy_id))
        if link is None:
            if strategy.status == StrategyStatus.RETIRED:
                raise ValidationError(
                    {"crm_strategies": f"Retired CRM strategies cannot be linked: {strategy}."}
                )
            link = link_model(**{f"{owner_field}_id": row.owner_id}, crm_strategy=strategy)
            added.append(link)
        elif link.rationale == row.rationale and link.weight == row.weight:
            continue
        else:
            edited.append(link)
            before[id(link)] = (link.rationale, link.weight)
        if link.rationale != row.rationale:
            refusal = rationale_refusal(row.rationale)
            if refusal is not None:
                raise ValidationError({"rationale": f"“{strategy}”: {refusal}"})
        link.rationale = row.rationale
        link.weight = row.weight
        link.full_clean(exclude=[owner_field, "crm_strategy"], validate_constraints=False)
    for link in edited:
        link.crm_strategy = strategies[link.crm_strategy_id]  # named in its history entry
    link_model.objects.bulk_create(added, batch_size=2000)
    link_model.objects.bulk_update(edited, ["rationale", "weight"], batch_size=2000)
    # Bulk writes send no signal: their history is written here, as `_set_links` writes it.
    _record_link_writes(
        owner_field,
        added,
        [(link, before[id(link)]) for link in edited],
        related=(owner_field,),
    )
    touched = {getattr(link, f"{owner_field}_id") for link in [*added, *edited]}
    if touched:
        user = actor if getattr(actor, "is_authenticated", False) else None
        owner_model.objects.filter(pk__in=touched).update(
            version=F("version") + 1, updated_by=user, updated_at=timezone.now()
        )
    return len(added), len(edited)


@transaction.atomic
def project_links_import(*, actor: Actor, rows: Sequence[LinkRow]) -> tuple[int, int]:
    """Add and update projects' links in bulk; (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return _import_links(
        owner_field="project",
        owner_model=CRMProject,
        link_model=ProjectLink,
        rows=rows,
        actor=actor,
    )


@transaction.atomic
def feature_links_import(*, actor: Actor, rows: Sequence[LinkRow]) -> tuple[int, int]:
    """Add and update features' links in bulk; (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return _import_links(
        owner_field="feature", owner_model=Feature, link_model=FeatureLink, rows=rows, actor=actor
    )


@transaction.atomic
def features_import(*, actor: Actor, rows: Rows) -> tuple[list[Feature], list[Feature]]:
    """Create and update features in bulk; (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return bulk_upsert(Feature, actor=actor, rows=rows, allowed=(*FEATURE_FIELDS, "project"))


@transaction.atomic
def metrics_import(*, actor: Actor, rows: Rows) -> tuple[list[SuccessMetric], list[SuccessMetric]]:
    """Create and update success metrics in bulk; (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return bulk_upsert(SuccessMetric, actor=actor, rows=rows, allowed=(*METRIC_FIELDS, "project"))


@transaction.atomic
def phases_import(*, actor: Actor, rows: Rows) -> tuple[list[RoadmapPhase], list[RoadmapPhase]]:
    """Create and update roadmap phases and milestones in bulk; (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return bulk_upsert(RoadmapPhase, actor=actor, rows=rows, allowed=(*PHASE_FIELDS, "project"))


@transaction.atomic
def check_ins_import(
    *, actor: Actor, rows: Rows
) -> tuple[list[ProjectCheckIn], list[ProjectCheckIn]]:
    """Record check-ins in bulk (none dated in the future, as `project_check_in` refuses);
    (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    today = timezone.localdate()
    rows = list(rows)
    if any(fields.get("checked_in_on", today) > today for _, fields in rows):
        raise ValidationError(
            {"checked_in_on": "A check-in reports progress so far; it cannot be in the future."}
        )
    rows = [
        (pk, {**fields, "author_id": actor.pk} if pk is None else fields) for pk, fields in rows
    ]
    return bulk_upsert(
        ProjectCheckIn,
        actor=actor,
        rows=rows,
        allowed=(*CHECK_IN_FIELDS, "project", "author"),
        history_related=("project",),  # a check-in is named after its project
    )


def _linkable(row: Any) -> str | None:
    """A restored link comes back unless its CRM strategy was retired since (a new link to a
    retired strategy is refused, as `_set_links` refuses it)."""
    if CRMStrategy.objects.filter(pk=row.crm_strategy_id, status=StrategyStatus.RETIRED).exists():
        return "its CRM strategy was retired since"
    return None


def _check_restored_project(project: CRMProject) -> None:
    require_people_roles(project, PROJECT_PEOPLE)


@transaction.atomic
def project_restore(*, actor: Actor, project_id: int) -> Restored:
    """Bring back a deleted project from its history with what its deletion took with it:
    links, features and their links, metrics, roadmap, check-ins and the approval thread — the
    links where their CRM strategy still exists and is not retired."""
    return restore_deleted(
        CRMProject,
        project_id,
        actor=actor,
        check=_check_restored_project,
        parts=[
            (ProjectLink, _linkable),
            (Feature, None),
            (FeatureLink, _linkable),
            (SuccessMetric, None),
            (RoadmapPhase, None),
            (ProjectCheckIn, None),
            (ProjectDecision, None),
        ],
    )


@transaction.atomic
def feature_restore(*, actor: Actor, feature_id: int) -> Restored:
    """Bring back a deleted feature (its project must still exist) with its links."""
    return restore_deleted(Feature, feature_id, actor=actor, parts=[(FeatureLink, _linkable)])


# --- Departments ------------------------------------------------------------------------


@transaction.atomic
def department_create(*, actor: Actor, **fields: Any) -> Department:
    """Add a department (its name unique)."""
    require(can_manage_departments(actor), department_for.refusal)
    department = apply_fields(Department(), fields, DEPARTMENT_FIELDS)
    return validate_and_save(department, actor=actor)


@transaction.atomic
def department_update(
    *, actor: Actor, department_id: int, changes: Mapping[str, Any], version: Version = None
) -> Department:
    """Rename a department or mark it IT (or not); from a stale copy (`version`) it is
    refused. Its projects are re-checked (the IT-only ownership rule reads `is_it`)."""
    return update_stored(
        department_for,
        department_id,
        actor=actor,
        changes=changes,
        allowed=DEPARTMENT_FIELDS,
        version=version,
    )


@transaction.atomic
def department_delete(*, actor: Actor, department_id: int, version: Version = None) -> None:
    """Delete a department no project names; one that owns projects is refused, naming them."""
    department = department_for(actor, department_id, change=True, for_update=True)
    check_version(department, version)
    delete_unless_named(
        department,
        CRMProject.objects.filter(department=department),
        lambda shown: (
            f"Projects still belong to “{department.name}”: {shown}. "
            "Give them another department first."
        ),
    )


# --- User groups ------------------------------------------------------------------------


@transaction.atomic
def user_group_create(*, actor: Actor, **fields: Any) -> UserGroup:
    """Add a user group to the catalogue (its name unique ignoring case)."""
    require(can_manage_user_groups(actor), user_group_for.refusal)
    group = apply_fields(UserGroup(), fields, USER_GROUP_FIELDS)
    return validate_and_save(group, actor=actor)


@transaction.atomic
def user_group_update(
    *, actor: Actor, user_group_id: int, changes: Mapping[str, Any], version: Version = None
) -> UserGroup:
    """Rename or describe a user group; from a stale copy (`version`) it is refused."""
    group = user_group_for(actor, user_group_id, change=True, for_update=True)
    check_version(group, version)
    changed = apply_changes(group, changes, USER_GROUP_FIELDS)
    return save_changes(group, changed, actor=actor)


@transaction.atomic
def user_group_delete(*, actor: Actor, user_group_id: int, version: Version = None) -> None:
    """Delete a user group no project names; one still named is taken off its projects first."""
    group = user_group_for(actor, user_group_id, change=True, for_update=True)
    check_version(group, version)
    delete_unless_named(
        group,
        CRMProject.objects.filter(user_group_links__user_group=group),
        lambda shown: f"Projects still affect “{group.name}”: {shown}. Take it off them first.",
    )


def _ids(groups: Iterable[Any]) -> list[int]:
    """User groups as ids (a form or serializer gives the objects, a caller may give ids)."""
    return [group if isinstance(group, int) else group.pk for group in groups]


def _set_user_groups(project: CRMProject, user_group_ids: Iterable[int]) -> bool:
    """Make the (locked) project's user groups exactly these; whether anything changed. The
    removed rows are deleted one by one (their delete is recorded, and names the group a
    re-check looks at); the added ones in one statement, recorded here."""
    wanted = set(user_group_ids)
    known = set(UserGroup.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if missing := sorted(wanted - known):
        raise ValidationError(
            {"user_groups": f"No user group with id {', '.join(map(str, missing))}."}
        )
    stored = {row.user_group_id: row for row in ProjectUserGroup.objects.filter(project=project)}
    dropped = [row.pk for group_id, row in stored.items() if group_id not in wanted]
    if dropped:
        ProjectUserGroup.objects.filter(pk__in=dropped).delete()
    added = [
        ProjectUserGroup(project=project, user_group_id=pk) for pk in sorted(wanted - set(stored))
    ]
    _add_user_group_links(added)
    return bool(dropped or added)


def _add_user_group_links(added: list[ProjectUserGroup]) -> None:
    """Write new (project, user group) rows in bulk, each recorded in the change history (a
    bulk write sends no signal)."""
    ProjectUserGroup.objects.bulk_create(added, batch_size=2000)
    audit.log_rows(
        [
            (
                row,
                audit.CREATED,
                {"project": (None, row.project_id), "user_group": (None, row.user_group_id)},
            )
            for row in added
        ],
        related=("user_group",),
    )


@transaction.atomic
def project_set_user_groups(
    *, actor: Actor, project_id: int, user_group_ids: Iterable[int], version: Version = None
) -> CRMProject:
    """Say which user groups the project's change lands on (replacing the previous ones)."""
    project = project_for(actor, project_id, change=True, for_update=True)
    check_version(project, version)
    if _set_user_groups(project, user_group_ids):
        touch(project, actor=actor)
    return project


# --- The integration register ---------------------------------------------------------------

SYSTEM_FIELDS = ("name", "description", "owner")
PROJECT_SYSTEM_FIELDS = ("status", "owner", "notes")
# Owners of systems and integrations: anyone with a role (as a business owner).
SYSTEM_PEOPLE: dict[str, tuple[Role, ...]] = {"owner": ()}


@transaction.atomic
def system_create(*, actor: Actor, **fields: Any) -> System:
    """Add a system to the catalogue (admins, as with departments)."""
    require(can_manage_systems(actor), SYSTEM_REFUSAL)
    system = System()
    apply_fields(system, fields, SYSTEM_FIELDS)
    require_people_roles(system, SYSTEM_PEOPLE)
    return validate_and_save(system, actor=actor)


@transaction.atomic
def system_update(
    *, actor: Actor, system_id: int, changes: Mapping[str, Any], version: Version = None
) -> System:
    """Rename a system, describe it, or give it another owner."""
    system = system_for(actor, system_id, change=True, for_update=True)
    check_version(system, version)
    stored = {"owner": system.owner_id}
    changed = apply_changes(system, changes, SYSTEM_FIELDS)
    require_people_roles(system, SYSTEM_PEOPLE, previous=stored)
    return save_changes(system, changed, actor=actor)


@transaction.atomic
def system_delete(*, actor: Actor, system_id: int, version: Version = None) -> None:
    """Remove a system no project lists; one that projects touch is refused, naming them."""
    system = system_for(actor, system_id, change=True, for_update=True)
    check_version(system, version)
    delete_unless_named(
        system,
        CRMProject.objects.filter(systems__system=system),
        lambda shown: (
            f"Cannot delete this system; projects still list it — {shown}. "
            "Remove it from those projects first."
        ),
    )


def _refuse_system_by_name(system: Any) -> System:
    """A ProjectSystem's `system` may arrive as a System or an id; a missing one names the
    field (never a 500)."""
    if isinstance(system, System):
        return system
    found = System.objects.filter(pk=system).first() if str(system).isdigit() else None
    if found is None:
        raise ValidationError({"system": "Pick a system from the catalogue."})
    return found


@transaction.atomic
def project_system_add(
    *, actor: Actor, project_id: int, system: Any, **fields: Any
) -> ProjectSystem:
    """List a system the project touches, with its integration status and owner."""
    project = project_for(actor, project_id, change=True, for_update=True)
    row = ProjectSystem(project=project, system=_refuse_system_by_name(system))
    apply_fields(row, fields, PROJECT_SYSTEM_FIELDS)
    require_people_roles(row, SYSTEM_PEOPLE)
    return validate_and_save(row, actor=actor)


@transaction.atomic
def project_system_update(
    *, actor: Actor, project_system_id: int, changes: Mapping[str, Any], version: Version = None
) -> ProjectSystem:
    """Move an integration on (status), give it an owner, or note what it involves."""
    row = project_system_for(actor, project_system_id, change=True, for_update=True)
    check_version(row, version)
    stored = {"owner": row.owner_id}
    changed = apply_changes(row, changes, PROJECT_SYSTEM_FIELDS)
    require_people_roles(row, SYSTEM_PEOPLE, previous=stored)
    return save_changes(row, changed, actor=actor)


@transaction.atomic
def project_system_remove(*, actor: Actor, project_system_id: int, version: Version = None) -> None:
    """The project no longer touches this system."""
    row = project_system_for(actor, project_system_id, change=True, for_update=True)
    check_version(row, version)
    row.delete()


# --- Benefits review: metric readings -------------------------------------------------------

METRIC_READING_FIELDS = ("recorded_on", "value", "note")


def _follow_newest_metric_reading(metric: SuccessMetric, actor: Actor) -> None:
    """The metric's current value is its newest reading's (unchanged when none is left)."""
    newest = metric.readings.order_by("-recorded_on", "-id").values_list("value", flat=True)[:1]
    value = next(iter(newest), None)
    if value is not None:
        save_changes(metric, apply_changes(metric, {"current": value}, ["current"]), actor=actor)


def _refuse_future_reading(reading: MetricReading) -> None:
    on = reading.recorded_on
    if isinstance(on, datetime.date) and on > timezone.localdate():
        raise ValidationError(
            {"recorded_on": "A reading records what was measured; it cannot be in the future."}
        )


@transaction.atomic
def metric_reading_create(
    *,
    actor: Actor,
    metric_id: int,
    value: Any,
    recorded_on: datetime.date | None = None,
    note: str = "",
) -> MetricReading:
    """Record a reading of a success metric (dated today unless given, never in the future);
    the metric's current value follows its newest reading."""
    metric = metric_for(actor, metric_id, change=True, for_update=True)
    reading = MetricReading(
        metric=metric,
        value=value,
        recorded_on=recorded_on or timezone.localdate(),
        note=note,
        author=actor,
    )
    _refuse_future_reading(reading)
    validate_and_save(reading, actor=actor, exclude=["metric"])
    _follow_newest_metric_reading(metric, actor)
    return reading


def _reading_and_metric(
    actor: Actor, reading_id: int, version: Version
) -> tuple[MetricReading, SuccessMetric]:
    """The reading through its gate (404 / 403) and its metric locked, so the metric's current
    value follows the readings as they stand when this commits."""
    reading = metric_reading_for(actor, reading_id, change=True)
    metric = metric_for(actor, reading.metric_id, change=True, for_update=True)
    reading = metric_reading_for(actor, reading_id, change=True, for_update=True)
    check_version(reading, version)
    return reading, metric


@transaction.atomic
def metric_reading_update(
    *, actor: Actor, reading_id: int, changes: Mapping[str, Any], version: Version = None
) -> MetricReading:
    """Correct a reading (its value, date or note)."""
    reading, metric = _reading_and_metric(actor, reading_id, version)
    changed = apply_changes(reading, changes, METRIC_READING_FIELDS)
    _refuse_future_reading(reading)
    save_changes(reading, changed, actor=actor)
    _follow_newest_metric_reading(metric, actor)
    return reading


@transaction.atomic
def metric_reading_delete(*, actor: Actor, reading_id: int, version: Version = None) -> None:
    """Delete a reading recorded by mistake."""
    reading, metric = _reading_and_metric(actor, reading_id, version)
    reading.delete()
    _follow_newest_metric_reading(metric, actor)


# --- The bulk paths of the planning data (the workbook import) ------------------------------


@transaction.atomic
def user_groups_import(*, actor: Actor, rows: Rows) -> tuple[list[UserGroup], list[UserGroup]]:
    """Create and update user groups (name, description) in bulk; (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return bulk_upsert(UserGroup, actor=actor, rows=rows, allowed=USER_GROUP_FIELDS)


@transaction.atomic
def project_user_groups_import(*, actor: Actor, pairs: Iterable[tuple[int, int]]) -> int:
    """Add (project id, user group id) pairs a project does not name yet, in one statement,
    each recorded in the history as `_set_user_groups` records it; how many were added. It
    removes none (an import never deletes)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    wanted = set(pairs)
    projects = {project for project, _ in wanted}
    stored = set(
        ProjectUserGroup.objects.filter(project_id__in=projects).values_list(
            "project_id", "user_group_id"
        )
    )
    added = [
        ProjectUserGroup(project_id=project, user_group_id=group)
        for project, group in sorted(wanted - stored)
    ]
    _add_user_group_links(added)
    touched = sorted({row.project_id for row in added})
    if touched:
        CRMProject.objects.filter(pk__in=touched).update(
            version=F("version") + 1, updated_by=actor, updated_at=timezone.now()
        )
    return len(added)


@transaction.atomic
def systems_import(*, actor: Actor, rows: Rows) -> tuple[list[System], list[System]]:
    """Create and update systems (name, description, owner) in bulk; (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return bulk_upsert(System, actor=actor, rows=rows, allowed=SYSTEM_FIELDS)


@transaction.atomic
def project_systems_import(
    *, actor: Actor, rows: Rows
) -> tuple[list[ProjectSystem], list[ProjectSystem]]:
    """Add and update the systems projects touch (status, owner, notes) in bulk."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    return bulk_upsert(
        ProjectSystem,
        actor=actor,
        rows=rows,
        allowed=(*PROJECT_SYSTEM_FIELDS, "project", "system"),
        history_related=("project", "system"),
    )


@transaction.atomic
def metric_readings_import(
    *, actor: Actor, rows: Rows
) -> tuple[list[MetricReading], list[MetricReading]]:
    """Record success metrics' readings in bulk (none in the future, as
    `metric_reading_create` refuses); each metric that got one then shows its newest reading
    as its current value. (created, updated)."""
    require(can_import_portfolio(actor), IMPORT_REFUSAL)
    today = timezone.localdate()
    rows = list(rows)
    if any(fields.get("recorded_on", today) > today for _, fields in rows):
        raise ValidationError(
            {"recorded_on": "A reading records what was measured; it cannot be in the future."}
        )
    return bulk_upsert_readings(
        MetricReading,
        actor=actor,
        rows=rows,
        allowed=METRIC_READING_FIELDS,
        author="author",
        parent="metric",
        parent_model=SuccessMetric,
        parent_allowed=METRIC_FIELDS,
    )
