"""Geometry for the dashboard's server-drawn SVG charts (templates draw; this only measures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass
class Point:
    x: float
    y: float
    value: float
    label: str  # what the point says to a pointer or a screen reader: its date and value


@dataclass
class Series:
    key: str
    label: str
    css: str  # a class name the stylesheet colours (and a dash pattern, for colour-blind readers)
    points: list[Point] = field(default_factory=list)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def latest(self) -> float | None:
        return self.points[-1].value if self.points else None


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
        return self.width - 24

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


def percent(part: Any, whole: Any) -> int:
    """Whole-number share, 0 when there is nothing to share."""
    part, whole = Decimal(part or 0), Decimal(whole or 0)
    return int((part / whole * 100).to_integral_value()) if whole else 0


def day_label(day: date) -> str:
    """A day as "27 Nov": short enough for six under a phone-wide chart; the table has the year."""
    return f"{day.day} {day:%b}"


def trend_chart(
    rows: Sequence[dict[str, Any]],
    series: Sequence[tuple[str, str, str]],
    *,
    width: int = 720,
    height: int = 240,
) -> LineChart:
    """A 0-100 % line chart over time: `rows` are oldest first, one per day, each with its
    "day" (a date) and one value per series key; `series` is (key, label, css class). A point
    sits at its date, so days without a scan leave a gap on the axis instead of vanishing."""
    left, bottom, top = 44, 28, 12
    plot_w = width - left - 24
    plot_h = height - bottom - top
    first: date = rows[0]["day"] if rows else date.min
    span = (rows[-1]["day"] - first).days if rows else 0

    def x_at(day: date) -> float:
        return left + (plot_w / 2 if span == 0 else plot_w * (day - first).days / span)

    def y_at(value: float) -> float:
        clamped = max(0.0, min(100.0, float(value)))
        return top + plot_h * (1 - clamped / 100)

    lines = [
        Series(
            key,
            label,
            css,
            [
                Point(
                    x_at(row["day"]),
                    y_at(row[key]),
                    row[key],
                    f"{label}, {day_label(row['day'])} {row['day']:%Y}: {row[key]}%",
                )
                for row in rows
            ],
        )
        for key, label, css in series
    ]
    y_ticks = [(y_at(v), f"{v}%") for v in (0, 25, 50, 75, 100)]
    # Dates a sixth of the axis apart at least, always the first and the newest, so they never
    # overlap however the scan days cluster; every day's figures are in the table under it.
    gap = plot_w / 6
    x_labels: list[tuple[float, str]] = []
    for row in rows:
        x = x_at(row["day"])
        if not x_labels or x - x_labels[-1][0] >= gap:
            x_labels.append((x, day_label(row["day"])))
    newest = x_at(rows[-1]["day"]) if rows else None
    if x_labels and newest is not None and x_labels[-1][0] != newest:
        if newest - x_labels[-1][0] < gap:
            x_labels.pop()
        x_labels.append((newest, day_label(rows[-1]["day"])))
    return LineChart(width, height, left, bottom, lines, y_ticks, x_labels)


_TENTH = Decimal("0.1")


def bars(rows: list[dict[str, Any]], key: str = "amount") -> list[dict[str, Any]]:
    """Adds `bar` (0-100 to a tenth, the row's share of the largest value) for bar widths, in
    Decimal like the amounts it measures."""
    top = max((Decimal(row[key] or 0) for row in rows), default=Decimal(0))
    for row in rows:
        row["bar"] = (Decimal(row[key] or 0) * 100 / top).quantize(_TENTH) if top else Decimal(0)
    return rows
