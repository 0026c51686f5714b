"""Who may see and change what. The one gate that pages and the API both call.

Everyone with a role reads everything; a signed-in user with no role sees nothing (404).
Executives own goals, KPIs and strategies; a project manager creates projects and edits the
ones they manage (with their features, links, metrics, roadmap and check-ins); sponsors
approve the projects they sponsor and acknowledge or waive their flags; executives may do
both across the portfolio; viewers read; superusers (admins) do everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.http import Http404

from .roles import Role

M = TypeVar("M", bound=Model)


def user_roles(user: Any) -> frozenset[str]:
    """The user's role names, read once per user object and cached on it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_crm_roles", None)
    if cached is None:
        names = user.groups.filter(name__in=[r.value for r in Role]).values_list("name", flat=True)
        cached = frozenset(names)
        user._crm_roles = cached
    return cached


def role_annotations(user_ref: str) -> dict[str, Exists]:
    """For a query that reads a user row anyway (the API token's): one flag per role, so that
    `remember_roles` can fill the cache `user_roles` reads, and the roles cost no query of
    their own. `user_ref` is the user's id on the outer query (e.g. "user_id")."""
    memberships = get_user_model().groups.through.objects
    return {
        f"{_ROLE_FLAG}{role.value}": Exists(
            memberships.filter(user_id=OuterRef(user_ref), group__name=role.value)
        )
        for role in Role
    }


def remember_roles(user: Any, row: Mapping[str, Any]) -> None:
    """Cache on `user` the roles a row (of `.values()`) annotated with `role_annotations` says
    they have."""
    user._crm_roles = frozenset(role.value for role in Role if row[f"{_ROLE_FLAG}{role.value}"])


_ROLE_FLAG = "_has_role_"


def is_admin(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)


def has_role(user: Any, role: Role) -> bool:
    return is_admin(user) or role.value in user_roles(user)


def can_read(user: Any) -> bool:
    """Any role (viewer included) reads the whole portfolio."""
    return is_admin(user) or bool(user_roles(user))


def can_manage_strategy(user: Any) -> bool:
    """Create and edit goals, KPIs, business strategies and CRM strategies."""
    return has_role(user, Role.EXECUTIVE)


def can_import_portfolio(user: Any) -> bool:
    """Import a whole portfolio from a workbook: it writes goals and strategies (an executive's)
    and projects managed by others, so executives and admins only."""
    return has_role(user, Role.EXECUTIVE)


def can_create_project(user: Any) -> bool:
    return has_role(user, Role.PROJECT_MANAGER)


def can_manage_user_groups(user: Any) -> bool:
    """Keep the catalogue of user groups (the people changes land on): project managers, who
    name the groups their projects affect, and executives."""
    return has_role(user, Role.PROJECT_MANAGER) or has_role(user, Role.EXECUTIVE)


def can_manage_departments(user: Any) -> bool:
    """Add, rename or remove departments (the business owners of projects), one at a time:
    admins. A workbook import writes them in bulk (can_import_portfolio)."""
    return is_admin(user)


def can_manage_systems(user: Any) -> bool:
    """Add, rename or remove systems in the integration register's catalogue: admins, as with
    departments (a project's manager lists which systems it touches, on the project)."""
    return is_admin(user)


def can_edit_project(user: Any, project: Any) -> bool:
    """A manager edits the projects they manage, including features, links and check-ins."""
    if is_admin(user):
        return True
    return Role.PROJECT_MANAGER.value in user_roles(user) and project.manager_id == user.pk


def can_approve_project(user: Any, project: Any) -> bool:
    """The project's sponsor, an executive or an admin may approve it."""
    if is_admin(user) or Role.EXECUTIVE.value in user_roles(user):
        return True
    return Role.SPONSOR.value in user_roles(user) and project.sponsor_id == user.pk


def can_comment_on_project(user: Any, project: Any) -> bool:
    """Write on a project's approval thread: whoever decides it and its manager."""
    return can_approve_project(user, project) or can_edit_project(user, project)


def can_act_on_flag(user: Any, flag: Any) -> bool:
    """Acknowledge or waive: the sponsor of the flag's project, an executive or an admin."""
    if is_admin(user) or Role.EXECUTIVE.value in user_roles(user):
        return True
    if Role.SPONSOR.value not in user_roles(user) or flag.project_id is None:
        return False
    project = flag.project
    return project is not None and project.sponsor_id == user.pk


def can_act_on_some_flag(user: Any) -> bool:
    """Whether the user may act on any flag at all: the inbox offers its bulk actions."""
    return is_admin(user) or bool({Role.EXECUTIVE.value, Role.SPONSOR.value} & user_roles(user))


def why_cannot_act_on_flag(user: Any, flag: Any) -> str:
    """Why `user` may not acknowledge or waive `flag`, in words for the inbox; "" when they may.
    Says the same as `can_act_on_flag`, which stays the one decision."""
    if can_act_on_flag(user, flag):
        return ""
    if flag.project_id is None:
        return "Only an executive can acknowledge or waive a flag that concerns no project."
    if Role.SPONSOR.value in user_roles(user):
        return "Only the project's sponsor or an executive can act on this; you do not sponsor it."
    return "Only the project's sponsor or an executive can acknowledge or waive this."


def can_restore(user: Any) -> bool:
    """Bring back a deleted goal, strategy, project or feature from its history."""
    return is_admin(user) or Role.EXECUTIVE.value in user_roles(user)


def can_see_activity(user: Any) -> bool:
    """The Activity page: everything everyone changed, for those who govern the portfolio."""
    return is_admin(user) or bool({Role.EXECUTIVE.value, Role.SPONSOR.value} & user_roles(user))


def can_start_scan(user: Any) -> bool:
    return is_admin(user) or bool({Role.EXECUTIVE.value, Role.SPONSOR.value} & user_roles(user))


def import_jobs_visible_to(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Import jobs (which hold an uploaded file and its report): an admin sees all of them,
    anyone else with a role only the ones they started (`created_by`), nobody else any."""
    if is_admin(user):
        return queryset
    if not can_read(user):
        return queryset.none()
    return queryset.filter(created_by=user.pk)


def visible_to(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """The part of `queryset` the user may see: all of it with a role, nothing without."""
    return queryset if can_read(user) else queryset.none()


def get_for_user(
    queryset: QuerySet[M],
    user: Any,
    *,
    may: Callable[[Any, M], bool] | None = None,
    refusal: str = "You may not change this.",
    for_update: bool = False,
    **lookup: Any,
) -> M:
    """The one fetch-and-authorise step every page, API call and service goes through.

    The row the user may see, or 404 (never 403: existence must not leak); then, when `may` is
    given, PermissionDenied (403) unless `may(user, row)` holds for the row as *stored*.
    `for_update` locks the row until the caller's transaction ends, so the checks and the write
    that follows see the same data.
    """
    queryset = visible_to(queryset, user)
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        obj = queryset.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if may is not None and not may(user, obj):
        raise PermissionDenied(refusal)
    return obj


class Gate(Generic[M]):
    """The fetch-and-authorise step for one kind of object, declared once per entity in its
    app's `access.py`:

        project_for = Gate(CRMProject.objects.all, can_edit_project, "Only the manager …")
        project_for(user, pk)                   # to read: 404 unless visible
        project_for(user, pk, change=True)      # to change: and 403 unless may_change(user, obj)
        project_for(user, pk, change=True, for_update=True)   # in a service: row locked
    """

    def __init__(
        self,
        queryset: Callable[[], QuerySet[M]],
        may_change: Callable[[Any, M], bool],
        refusal: str,
    ) -> None:
        self.queryset = queryset
        self.may_change = may_change
        self.refusal = refusal

    def __call__(
        self,
        user: Any,
        pk: Any,
        *,
        change: bool = False,
        refusal: str | None = None,
        for_update: bool = False,
    ) -> M:
        return get_for_user(
            self.queryset(),
            user,
            pk=pk,
            may=self.may_change if change else None,
            refusal=refusal or self.refusal,
            for_update=for_update,
        )


def get_visible_or_404(queryset: QuerySet[M], user: Any, **lookup: Any) -> M:
    """One object the user may see, or 404."""
    return get_for_user(queryset, user, **lookup)
