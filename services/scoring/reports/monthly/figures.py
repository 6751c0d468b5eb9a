"""How the monthly page writes the scorecard's numbers, each tagged with where it came from.

Every value the page prints from the scorecard document sits in an element that carries
`data-figure`, its path in the document, and `data-unit`, how it is written. So anyone (a test, a
reader who doubts a figure) can trace a printed number back to the API's answer. A path is the
keys from the top joined by dots; in a list, a row's position, or its name for the rows that have
one (targets, the waterfall's steps): `targets.mqls_created.actual`, `revenue.by_campaign.0.amount`.

The page computes nothing: it writes what the document says, in the units both teams read
(percentages, money without cents when whole, business time in hours and minutes).
"""

from __future__ import annotations

from html import escape
from typing import Any

UNKNOWN = "–"  # a figure the document has no value for (null)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# The targets' names as the two teams say them; a name the page does not know is shown as it is.
TARGET_LABELS = {
    "mqls_created": "MQLs created",
    "mql_acceptance_rate": "MQL acceptance rate",
    "sqls": "SQLs",
    "pipeline_created": "Pipeline created",
    "revenue_won": "Revenue won",
    "marketing_sourced_share": "Marketing-sourced share of revenue",
    "first_touch_sla_attainment": "First-touch SLA attainment",
    "median_time_to_first_touch": "Median time to first touch",
}


def path(*parts: object) -> str:
    return ".".join(str(p) for p in parts)


def written(value: Any, unit: str) -> str:
    """A value as the page prints it. Units: count, money, rate (a fraction of one, as a
    percentage), days, duration (seconds, as hours, minutes and seconds), month (YYYY-MM, as its
    name and year), date (the day of an ISO time, on the clock it was written in), met, yesno,
    flag (overridden or nothing) and text."""
    if unit == "flag":
        return "overridden" if value else ""
    if value is None:
        return UNKNOWN
    if unit == "count":
        return f"{value:,}" if isinstance(value, int) else _trimmed(f"{value:,.2f}")
    if unit == "money":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if unit == "rate":
        return _trimmed(f"{value * 100:,.2f}") + "%"
    if unit == "days":
        return _trimmed(f"{value:,.2f}")
    if unit == "duration":
        return _duration(float(value))
    if unit == "month":
        year, month = str(value).split("-")
        return f"{MONTHS[int(month) - 1]} {year}"
    if unit == "date":
        return str(value)[:10]
    if unit == "met":
        return "met" if value else "not met"
    if unit == "yesno":
        return "yes" if value else "no"
    return str(value)


def figure(at: str, value: Any, unit: str, tag: str = "span") -> str:
    """A printed value in its element: `tag` is span in HTML, tspan inside an SVG text."""
    css = f' class="{"met" if value else "missed"}"' if unit == "met" and value is not None else ""
    return f'<{tag} data-figure="{escape(at)}" data-unit="{unit}"{css}>{escape(written(value, unit))}</{tag}>'


def unit_of(value: Any) -> str:
    """The unit of a detail the page knows nothing more about: a flag, a count or a name."""
    if isinstance(value, bool):
        return "yesno"
    if isinstance(value, int | float):
        return "count"
    return "text"


def humanised(name: str) -> str:
    return name.replace("_", " ")


def target_label(name: str) -> str:
    return TARGET_LABELS.get(name, humanised(name))


def _trimmed(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


def _duration(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, left = divmod(rest, 60)
    parts = [f"{int(hours):,}h"] if hours else []
    parts += [f"{int(minutes)}m"] if minutes else []
    parts += [_trimmed(f"{left:.2f}") + "s"] if left or not parts else []
    return " ".join(parts)
