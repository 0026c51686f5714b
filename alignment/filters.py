"""The flags' filters and orderings: one FilterSet, used by the flag inbox page and by
/api/flags/ alike, so both show the same flags for the same query string.

Default state: the unresolved flags (open, acknowledged and waived) — what still needs someone's
attention, as the inbox has always shown; `state=resolved` asks for history and `state=all`
for every flag."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from core.filters import BooleanFilter, CheckboxInput, FilterSet, OrderingFilter
from projects.models import CRMProject

from .models import Flag, FlagState, Severity, SubjectType
from .rules import RULES
from .selectors import concerning_project

ALL_STATES = "all"

# Name → ORDER BY fields. Severity ranks worst first (`severity_rank`, a column the database
# computes), and its descending order keeps "newest first" within a severity, so both are
# spelled out. The default, "severity", is the order of the index `flag_unresolved_inbox`
# (and `flag_state_inbox` for one state): a page costs a page, not a sort of every flag.
FLAG_ORDERINGS = {
    "severity": ("severity_rank", "-last_seen", "-id"),
    "-severity": ("-severity_rank", "-last_seen", "-id"),
    "last_seen": ("last_seen", "id"),
    "-last_seen": ("-last_seen", "-id"),
    "first_seen": ("first_seen", "id"),
    "-first_seen": ("-first_seen", "-id"),
    "rule": ("rule", "severity_rank", "-id"),
    "-rule": ("-rule", "severity_rank", "-id"),
    "subject": ("subject_label", "id"),
    "-subject": ("-subject_label", "-id"),
    "state": ("state", "severity_rank", "-id"),
    "-state": ("-state", "severity_rank", "-id"),
    "id": ("id",),
    "-id": ("-id",),
}
FLAG_ORDERING_LABELS = {
    "severity": "Severity, worst first",
    "-severity": "Severity, mildest first",
    "-last_seen": "Last seen, newest first",
    "last_seen": "Last seen, oldest first",
    "-first_seen": "Opened, newest first",
    "first_seen": "Opened, oldest first",
    "rule": "Rule, A to Z",
    "-rule": "Rule, Z to A",
    "subject": "Subject, A to Z",
    "-subject": "Subject, Z to A",
    "state": "State, A to Z",
    "-state": "State, Z to A",
    "id": "Oldest record first",
    "-id": "Newest record first",
}


def rule_choices() -> list[tuple[str, str]]:
    """The catalogue's rules, by code, labelled with their titles."""
    return sorted((code, f"{rule.title} ({code})") for code, rule in RULES.items())


class FlagStateFilter(django_filters.ChoiceFilter):
    """One state, `all`, or — when absent — the unresolved states."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value == ALL_STATES:
            return qs
        if value:
            return qs.filter(state=value)
        return qs.exclude(state=FlagState.RESOLVED)


class FlagFilterSet(FilterSet):
    """Flags by state (default: unresolved), severity, rule, subject, project, and whether they
    concern the user's own projects (`mine`: they manage, sponsor or own the business side)."""

    state = FlagStateFilter(
        choices=[*FlagState.choices, (ALL_STATES, "All, including resolved")],
        empty_label="Unresolved",
        help_text="Unresolved (the default): open, acknowledged or waived.",
    )
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="Any severity")
    rule = django_filters.ChoiceFilter(choices=rule_choices(), empty_label="Any rule")
    subject_type = django_filters.ChoiceFilter(
        choices=SubjectType.choices, label="Subject", empty_label="Any subject"
    )
    subject_id = django_filters.NumberFilter(min_value=1, max_value=2**63 - 1)
    project = django_filters.ModelChoiceFilter(
        queryset=CRMProject.objects.all(),
        widget=forms.HiddenInput,
        method="filter_project",
        help_text="The project's flags, its features', and those of the user groups it affects.",
    )
    mine = BooleanFilter(
        method="filter_mine", label="Only my projects' flags", widget=CheckboxInput()
    )
    ordering = OrderingFilter(
        orderings=FLAG_ORDERINGS, default="severity", labels=FLAG_ORDERING_LABELS
    )

    class Meta:
        model = Flag
        fields = ["state", "severity", "rule", "subject_type", "subject_id", "project", "mine"]

    def filter_project(self, queryset: QuerySet[Flag], name: str, value: Any) -> QuerySet[Flag]:
        return queryset.filter(concerning_project(value)) if value is not None else queryset

    def filter_mine(self, queryset: QuerySet[Flag], name: str, value: bool) -> QuerySet[Flag]:
        user = getattr(self.request, "user", None)
        mine = Q(project__sponsor=user) | Q(project__manager=user) | Q(project__business_owner=user)
        return queryset.filter(mine) if value else queryset.exclude(mine)
