"""Tracked figures of an article over its versions, and the geometry of their SVG charts.

A figure is followed across versions by chaining the FigureChange lists of consecutive diffs: a change
whose old value is the value a series last reached, in the same context (or, when the differ found no
context, in the sentence the series was last seen in), extends that series. So "killed: at least 1,000
-> at least 1,500" at version 2 and "1,500 -> 2,000" at version 4 draw one line over four versions.

Only values the diffs observed are drawn: between two points the figure may have been untouched or gone,
and a chart must not claim more than the store knows. The SVG markup is a Jinja2 template
(templates/chart.svg.j2), so every label is escaped like the rest of the page; here are only numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..models import FigureChange
from ..normalise import comparable
from .timeline import Timeline

__all__ = ["Chart", "ChartPoint", "FigureSeries", "SeriesPoint", "chart", "figure_series"]

WIDTH, HEIGHT = 560, 190
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 70, 70, 34, 30
MAX_VERSION_TICKS = 12


@dataclass(frozen=True)
class SeriesPoint:
    version: int
    value: float | int
    label: str                     # as written, with its qualifier: "at least 1,500"


@dataclass
class FigureSeries:
    """One tracked figure of an article: its values at the versions where a diff saw them."""

    context: str | None
    unit: str | None
    points: list[SeriesPoint] = field(default_factory=list)
    last_sentence: str = ""

    @property
    def name(self) -> str:
        return self.context or "figure"


def _label(qualifier: str | None, written: str) -> str:
    return f"{qualifier} {written}" if qualifier else written


def _same_context(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and comparable(a).lower() == comparable(b).lower()


def _continues(series: FigureSeries, change: FigureChange, previous: int) -> bool:
    last = series.points[-1]
    if last.version > previous or last.value != change.old_value or series.unit != change.unit:
        return False
    if series.context is not None or change.context is not None:
        return _same_context(series.context, change.context)
    return comparable(series.last_sentence) == comparable(change.old_sentence)


def figure_series(timeline: Timeline) -> list[FigureSeries]:
    """Every figure that changed in the article, each chained across its changes, in order of first change."""
    found: list[FigureSeries] = []
    for change in timeline.changes:
        if change.diff is None or change.previous_version is None:
            continue
        extended: set[int] = set()    # a series moves once per diff, even if two changes could extend it
        for figure in change.diff.figures:
            target = next((s for s in found if id(s) not in extended
                           and _continues(s, figure, change.previous_version)), None)
            old_point = SeriesPoint(change.previous_version, figure.old_value,
                                    _label(figure.qualifier_old, figure.old))
            if target is None:
                target = FigureSeries(context=figure.context, unit=figure.unit, points=[old_point])
                found.append(target)
            elif target.points[-1].version != change.previous_version:
                target.points.append(old_point)
            target.points.append(SeriesPoint(change.version, figure.new_value,
                                             _label(figure.qualifier_new, figure.new)))
            target.last_sentence = figure.new_sentence
            extended.add(id(target))
    return found


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    version: int
    label: str
    anchor: str                    # text-anchor of the label: start, middle or end (kept inside the box)


@dataclass(frozen=True)
class Chart:
    """What chart.svg.j2 draws: coordinates in a WIDTH x HEIGHT box, labels as plain text."""

    name: str
    unit: str | None
    width: int
    height: int
    points: tuple[ChartPoint, ...]
    polyline: str
    ticks: tuple[tuple[float, str], ...]          # x position, "v3"
    levels: tuple[tuple[float, str], ...]         # y position, "1,500": the highest and lowest value
    x_left: float
    x_right: float
    summary: str                                  # the whole series in words, for readers and screen readers


def _number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"


def chart(series: FigureSeries, versions: Sequence[int]) -> Chart:
    """Lay out one series against the article's versions (so the charts of one article share an x axis)."""
    first, last = min(versions), max(versions)
    span_x = WIDTH - PAD_LEFT - PAD_RIGHT
    span_y = HEIGHT - PAD_TOP - PAD_BOTTOM
    low = min(p.value for p in series.points)
    high = max(p.value for p in series.points)

    def x_of(version: int) -> float:
        return PAD_LEFT + (span_x * (version - first) / (last - first) if last > first else span_x / 2)

    def y_of(value: float | int) -> float:
        # Equal values (only the qualifier changed) sit on the middle line.
        return PAD_TOP + (span_y * (high - value) / (high - low) if high > low else span_y / 2)

    points = []
    for index, p in enumerate(series.points):
        anchor = "start" if index == 0 and len(series.points) > 1 else (
            "end" if index == len(series.points) - 1 and len(series.points) > 1 else "middle")
        points.append(ChartPoint(round(x_of(p.version), 1), round(y_of(p.value), 1), p.version, p.label, anchor))
    tick_versions = (range(first, last + 1) if last - first < MAX_VERSION_TICKS
                     else sorted({p.version for p in series.points}))
    unit = f" {series.unit}" if series.unit else ""
    return Chart(
        name=series.name, unit=series.unit, width=WIDTH, height=HEIGHT, points=tuple(points),
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        ticks=tuple((round(x_of(v), 1), f"v{v}") for v in tick_versions),
        levels=tuple((round(y_of(value), 1), _number(value) + unit) for value in dict.fromkeys((high, low))),
        x_left=PAD_LEFT - 10, x_right=WIDTH - 20,
        summary=f"{series.name}: " + " -> ".join(f"{p.label} (v{p.version})" for p in series.points),
    )
