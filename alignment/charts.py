"""Geometry for the dashboard's server-drawn SVG charts (templates draw; this only measures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class Series:
    key: str
    label: str
    css: str  # a class name the stylesheet colours (and a dash pattern, for colour-blind readers)
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass
class LineChart:
    width: int
    height: int
    left: int
    bottom: int
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]

    @property
    def plot_right(self) -> int:
        return self.width - 12

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


def percent(part: Any, whole: Any) -> int:
    """Whole-number share, 0 when there is nothing to share."""
    part, whole = Decimal(part or 0), Decimal(whole or 0)
    return int((part / whole * 100).to_integral_value()) if whole else 0


def trend_chart(
    rows: Sequence[dict[str, Any]],
    series: Sequence[tuple[str, str, str]],
    *,
    width: int = 720,
    height: int = 240,
) -> LineChart:
    """A 0-100 % line chart: `rows` are oldest first, each with a "label" and one value per
    series key; `series` is (key, label, css class)."""
    left, bottom, top = 44, 28, 12
    plot_w = width - left - 12
    plot_h = height - bottom - top
    n = len(rows)

    def x_at(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y_at(value: float) -> float:
        clamped = max(0.0, min(100.0, float(value)))
        return top + plot_h * (1 - clamped / 100)

    lines = [
        Series(key, label, css, [(x_at(i), y_at(row[key])) for i, row in enumerate(rows)])
        for key, label, css in series
    ]
    y_ticks = [(y_at(v), f"{v}%") for v in (0, 25, 50, 75, 100)]
    # At most six labels, evenly spread and always the first and the newest, so they never
    # overlap; every point's exact figures are in the table under the chart.
    k = min(n, 6)
    indices = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0] * n
    x_labels = [(x_at(i), rows[i]["label"]) for i in indices]
    return LineChart(width, height, left, bottom, lines, y_ticks, x_labels)


_TENTH = Decimal("0.1")


def bars(rows: list[dict[str, Any]], key: str = "amount") -> list[dict[str, Any]]:
    """Adds `bar` (0-100 to a tenth, the row's share of the largest value) for bar widths, in
    Decimal like the amounts it measures."""
    top = max((Decimal(row[key] or 0) for row in rows), default=Decimal(0))
    for row in rows:
        row["bar"] = (Decimal(row[key] or 0) * 100 / top).quantize(_TENTH) if top else Decimal(0)
    return rows
