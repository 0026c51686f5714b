"""The one fetch-and-authorise step for goals and KPIs, used by pages, the API and services (see
core.permissions.Gate).

Everyone with a role reads them (anyone else gets 404); executives and admins change them
(anyone else who can read gets 403).
"""

from typing import Any

from core.permissions import Gate, can_manage_strategy

from .models import KPI, BusinessGoal, KPICheckIn


def _may_change(user: Any, obj: Any) -> bool:
    return can_manage_strategy(user)


goal_for = Gate(BusinessGoal.objects.all, _may_change, "Only executives change goals.")
kpi_for = Gate(
    lambda: KPI.objects.select_related("goal"), _may_change, "Only executives change KPIs."
)
# Readings are corrected by whoever may record them: executives and admins.
kpi_reading_for = Gate(
    lambda: KPICheckIn.objects.select_related("kpi"),
    _may_change,
    "Only executives correct KPI readings.",
)
