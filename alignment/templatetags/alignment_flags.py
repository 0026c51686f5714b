"""Flag panels (and a project's readiness checklist) for the domain apps' pages.

The goal, strategy, project and feature pages show their flags, and the project page its
readiness checklist, but those apps never import the engine (dependencies point one way);
their templates ask through these tags.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from alignment.explain import with_explanations
from alignment.readiness import readiness_panel
from alignment.rules import rule_for
from alignment.selectors import project_flags_needing_attention, subject_flags_needing_attention

register = template.Library()

# Where each flag subject type lives in the browser app.
_SUBJECT_URLS = {
    "goal": "goals:detail",
    "business_strategy": "strategies:business_detail",
    "crm_strategy": "strategies:crm_detail",
    "project": "projects:detail",
    "feature": "projects:feature_detail",
}


def _rule(code: str) -> Any:
    try:
        return rule_for(code)
    except (KeyError, LookupError):
        return None


@register.filter
def rule_advice(code: str) -> str:
    """What to do about a flag of this rule, from the rule catalogue (unformatted: a flag's own
    message is this advice with the rule's threshold filled in)."""
    rule = _rule(code)
    return getattr(rule, "advice", "") if rule is not None else ""


@register.filter
def rule_why(code: str) -> str:
    """Why the rule matters, from the rule catalogue."""
    rule = _rule(code)
    return getattr(rule, "why", "") if rule is not None else ""


@register.filter
def rule_title(code: str) -> str:
    rule = _rule(code)
    return getattr(rule, "title", "") or code if rule is not None else code


@register.filter
def flag_subject_url(flag: Any) -> str:
    """The page of the flag's subject, or "" for subjects without one (managers, departments)."""
    name = _SUBJECT_URLS.get(flag.subject_type)
    if name is None:
        return ""
    try:
        return reverse(name, args=[flag.subject_id])
    except NoReverseMatch:
        return ""


@register.simple_tag(takes_context=True)
def subject_flags(context: dict[str, Any], subject_type: str, subject_id: int) -> list[Any]:
    """One subject's flags that still need attention (open or acknowledged), worst first."""
    user = context["request"].user
    return with_explanations(subject_flags_needing_attention(user, subject_type, subject_id))


@register.simple_tag(takes_context=True)
def project_flags(context: dict[str, Any], project: Any) -> list[Any]:
    """A project's flags and its features' that still need attention, worst first."""
    return with_explanations(project_flags_needing_attention(context["request"].user, project))


@register.inclusion_tag("alignment/partials/readiness.html", takes_context=True)
def project_readiness(context: dict[str, Any], project: Any) -> dict[str, Any]:
    """The project's readiness checklist card: the rule catalogue evaluated for the project."""
    return readiness_panel(context["request"].user, project)
