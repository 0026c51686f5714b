"""Goal health, as the goals and strategies layers see it: a verdict (red, amber or green with
its reasons) per goal and per business strategy.

The rule itself reads projects, check-ins and flags, which live in the layers above; it is
written once in `alignment.goal_health`, which registers it here when the app is ready (the
goals app imports no app above it). The API's `health` and `health_reasons` come from here:
computed for a page of objects at once (a handful of grouped queries), never per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

RED, AMBER, GREEN = "red", "amber", "green"
HEALTH_LABELS = {RED: "Red", AMBER: "Amber", GREEN: "Green"}


@dataclass(frozen=True)
class Verdict:
    health: str
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return HEALTH_LABELS[self.health]


Provider = Callable[[list[int]], dict[int, Verdict]]
_PROVIDERS: dict[str, Provider] = {}


def register(kind: str, provider: Provider) -> None:
    """`kind` is "goal" or "business_strategy"; `provider` maps ids to verdicts."""
    _PROVIDERS[kind] = provider


def verdicts(kind: str, ids: Iterable[int]) -> dict[int, Verdict]:
    """The verdicts of the objects `ids`, in one go; empty when no provider is registered."""
    provider = _PROVIDERS.get(kind)
    wanted = sorted({int(pk) for pk in ids if pk is not None})
    if provider is None or not wanted:
        return {}
    return provider(wanted)


class HealthListSerializer(serializers.ListSerializer):
    """Computes the verdicts of the whole page before its rows are rendered."""

    def to_representation(self, data: Any) -> Any:
        items = list(data.all() if hasattr(data, "all") else data)
        kind = self.child.Meta.health_kind  # type: ignore[union-attr]
        self.context["health"] = verdicts(kind, (item.pk for item in items))  # type: ignore[index]
        return super().to_representation(items)


class HealthFields(serializers.Serializer):
    """`health` (red, amber or green) and `health_reasons`, read-only, for goals and business
    strategies. Mixed into their serializers (whose Meta names `health_kind`)."""

    health = serializers.SerializerMethodField()
    health_reasons = serializers.SerializerMethodField()

    def _verdict(self, obj: Any) -> Verdict | None:
        known: dict[int, Verdict] | None = self.context.get("health")
        if known is None or obj.pk not in known:
            known = {**(known or {}), **verdicts(self.Meta.health_kind, [obj.pk])}  # type: ignore[attr-defined]
            self.context["health"] = known  # type: ignore[index]
        return known.get(obj.pk)

    @extend_schema_field(
        serializers.ChoiceField(choices=[RED, AMBER, GREEN], allow_null=True, read_only=True)
    )
    def get_health(self, obj: Any) -> str | None:
        verdict = self._verdict(obj)
        return verdict.health if verdict else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), read_only=True))
    def get_health_reasons(self, obj: Any) -> list[str]:
        verdict = self._verdict(obj)
        return list(verdict.reasons) if verdict else []
