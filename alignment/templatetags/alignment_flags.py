"""Flag panels for the domain apps' pages.

The goal, strategy, project and feature pages show their flags, but those apps never import
the engine (dependencies point one way); their templates ask for the flags through these tags.
"""

from __future__ import annotations

from typing import Any

from django import template

from alignment.selectors import project_flags_needing_attention, subject_flags_needing_attention

register = template.Library()


@register.simple_tag(takes_context=True)
def subject_flags(context: dict[str, Any], subject_type: str, subject_id: int) -> list[Any]:
    """One subject's flags that still need attention (open or acknowledged), worst first."""
    return list(subject_flags_needing_attention(context["request"].user, subject_type, subject_id))


@register.simple_tag(takes_context=True)
def project_flags(context: dict[str, Any], project: Any) -> list[Any]:
    """A project's flags and its features' that still need attention, worst first."""
    return list(project_flags_needing_attention(context["request"].user, project))
