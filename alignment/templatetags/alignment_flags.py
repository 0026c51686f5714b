"""Flag panels for the domain apps' pages.

The goal, strategy, project and feature pages show their flags, but those apps never import
the engine (dependencies point one way); their templates ask for the flags through these tags.
"""

from __future__ import annotations

from typing import Any

from django import template

from alignment.dashboard import SEVERITY_RANK, open_flags_of_project
from alignment.models import FlagState
from alignment.selectors import flags_visible_to

register = template.Library()


@register.simple_tag(takes_context=True)
def subject_flags(context: dict[str, Any], subject_type: str, subject_id: int) -> list[Any]:
    """One subject's flags that still need attention (open or acknowledged), worst first."""
    return list(
        flags_visible_to(context["request"].user)
        .filter(
            subject_type=subject_type,
            subject_id=subject_id,
            state__in=[FlagState.OPEN, FlagState.ACKNOWLEDGED],
        )
        .annotate(severity_rank=SEVERITY_RANK)
        .order_by("severity_rank", "rule", "id")
    )


@register.simple_tag(takes_context=True)
def project_flags(context: dict[str, Any], project: Any) -> list[Any]:
    """A project's flags and its features' that still need attention, worst first."""
    return list(open_flags_of_project(flags_visible_to(context["request"].user), project))
