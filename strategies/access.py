"""The one fetch-and-authorise step for business and CRM strategies, used by pages, the API and
services.

Everyone with a role reads them (anyone else gets 404); executives and admins change them
(anyone else who can read gets 403).
"""

from typing import Any

from core.permissions import can_manage_strategy, get_for_user

from .models import BusinessStrategy, CRMStrategy


def _may_change(user: Any, obj: Any) -> bool:
    return can_manage_strategy(user)


def business_strategy_for(
    user: Any,
    business_strategy_id: Any,
    *,
    change: bool = False,
    refusal: str = "Only executives change business strategies.",
    for_update: bool = False,
) -> BusinessStrategy:
    """The business strategy (with its goal), if the user may see it (and change it, with
    `change`); else 404 / 403."""
    return get_for_user(
        BusinessStrategy.objects.select_related("goal"),
        user,
        pk=business_strategy_id,
        may=_may_change if change else None,
        refusal=refusal,
        for_update=for_update,
    )


def crm_strategy_for(
    user: Any,
    crm_strategy_id: Any,
    *,
    change: bool = False,
    refusal: str = "Only executives change CRM strategies.",
    for_update: bool = False,
) -> CRMStrategy:
    """The CRM strategy, if the user may see it (and change it, with `change`); else 404 / 403."""
    return get_for_user(
        CRMStrategy.objects.all(),
        user,
        pk=crm_strategy_id,
        may=_may_change if change else None,
        refusal=refusal,
        for_update=for_update,
    )
