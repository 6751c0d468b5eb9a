"""The monthly page's charts: inline SVG drawn from the figures the page prints beside them.

Two shapes only, so that every chart reads the same way on screen and on paper (no colour is
needed to tell what is what):
- bars: one horizontal bar per row under its label (revenue by campaign, leads needed, reasons
  by code), its value written at its end;
- trend: a target's months side by side, the target as a dashed outline and the actual as a
  filled bar inside it, on one scale.

Each mark is a `rect` with `data-mark` (the path of the figure it draws, as in figures.py) and
`data-value` (the value as the document gives it), one per value the document has; a null value
draws nothing. Lengths are proportional to values on one scale per chart, from zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import Any

from services.scoring.reports.monthly.figures import figure

ROW = 32  # height of a bar's row: its label, then the bar
BAR = 13
PLOT = 420  # length of the longest bar
COLUMN = 56  # width of a month in a trend chart
HEIGHT = 64  # height of the tallest column in a trend chart


@dataclass(frozen=True)
class Bar:
    label: str  # SVG text content: escaped text, tspans of figures
    at: str  # the figure's path in the document
    value: int | float | None
    unit: str


@dataclass(frozen=True)
class Month:
    month_at: str
    month: str | None
    target_at: str
    target: int | float | None
    actual_at: str
    actual: int | float | None


def bars(name: str, title: str, rows: list[Bar]) -> str:
    scale = _scale([r.value for r in rows], PLOT)
    width, height = PLOT + 110, ROW * len(rows) + 2
    marks = []
    for i, row in enumerate(rows):
        y = i * ROW
        # The label above its bar: a long campaign or reason label never squeezes the bars.
        marks.append(f'<text class="label" x="0" y="{y + 11}">{row.label}</text>')
        length = 0.0
        if row.value is not None:
            length = round(max(float(row.value), 0.0) * scale, 2)
            marks.append(_mark(row.at, row.value, "bar", 0, y + 14, length, BAR))
        written = figure(row.at, row.value, row.unit, tag="tspan")
        marks.append(f'<text class="value" x="{length + 6}" y="{y + 25}">{written}</text>')
    return _svg(name, title, width, height, marks)


def trend(name: str, title: str, months: list[Month]) -> str:
    scale = _scale([v for m in months for v in (m.target, m.actual)], HEIGHT)
    base = HEIGHT + 4
    marks = [f'<line class="axis" x1="0" y1="{base}" x2="{COLUMN * len(months)}" y2="{base}"/>']
    for i, month in enumerate(months):
        left = i * COLUMN
        for at, value, kind, inset in (
            (month.target_at, month.target, "target", 8),
            (month.actual_at, month.actual, "actual", 17),
        ):
            if value is None:
                continue
            length = round(max(float(value), 0.0) * scale, 2)
            marks.append(_mark(at, value, kind, left + inset, round(base - length, 2), COLUMN - 2 * inset, length))
        label = figure(month.month_at, month.month, "text", tag="tspan")
        marks.append(
            f'<text class="label" x="{left + COLUMN // 2}" y="{base + 13}" text-anchor="middle">{label}</text>'
        )
    return _svg(name, title, COLUMN * len(months), base + 18, marks)


def _scale(values: list[int | float | None], length: int) -> float:
    highest = max((float(v) for v in values if v is not None), default=0.0)
    return length / highest if highest > 0 else 0.0


def _mark(at: str, value: Any, kind: str, x: float, y: float, width: float, height: float) -> str:
    return (
        f'<rect class="mark {kind}" data-mark="{escape(at)}" data-value="{escape(json.dumps(value))}"'
        f' x="{x}" y="{y}" width="{width}" height="{height}"/>'
    )


def _svg(name: str, title: str, width: int, height: int, marks: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" role="img" aria-label="{escape(title)}"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{escape(title)}</title>{''.join(marks)}</svg>"
    )
