"""The one fetch-and-authorise step for goals and KPIs, used by pages, the API and services.

Everyone with a role reads them (anyone else gets 404); executives and admins change them
(anyone else who can read gets 403).
"""

from typing import Any

from core.permissions import can_manage_strategy, get_for_user

from .models import KPI, BusinessGoal


def _may_change(user: Any, obj: Any) -> bool:
    return can_manage_strategy(user)


def goal_for(
    user: Any,
    goal_id: Any,
    *,
    change: bool = False,
    refusal: str = "Only executives change goals.",
    for_update: bool = False,
) -> BusinessGoal:
    """The goal, if the user may see it (and change it, with `change`); else 404 / 403."""
    return get_for_user(
        BusinessGoal.objects.all(),
        user,
        pk=goal_id,
        may=_may_change if change else None,
        refusal=refusal,
        for_update=for_update,
    )


def kpi_for(
    user: Any,
    kpi_id: Any,
    *,
    change: bool = False,
    refusal: str = "Only executives change KPIs.",
    for_update: bool = False,
) -> KPI:
    """The KPI (with its goal), if the user may see it (and change it); else 404 / 403."""
    return get_for_user(
        KPI.objects.select_related("goal"),
        user,
        pk=kpi_id,
        may=_may_change if change else None,
        refusal=refusal,
        for_update=for_update,
    )
