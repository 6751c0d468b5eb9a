"""Reading the monthly page back: what it prints and what its charts draw, checked against the
/scorecard document it was rendered from.

The page tags every value it prints with `data-figure` (its path in the document) and
`data-unit`, and every chart mark with `data-mark` and `data-value`. This reader is written
apart from the renderer's own formatting: it reads "1,250", "66.67%", "2h 30m" and "November
2026" back to the document's values, so a figure printed wrong fails here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]  # fmt: skip
# A number in running text: a digit not glued to a word (p90 is a name, not a number).
NUMBER = re.compile(r"(?<![\w-])\d")


class PrintedPage(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[tuple[str, str, str]] = []  # (path, unit, text as printed)
        self.loose: list[str] = []  # text printed outside any figure
        self.charts: dict[str, list[dict[str, str]]] = {}  # chart name -> its marks' attributes
        self._figure: tuple[str, str] | None = None
        self._text: list[str] = []
        self._chart: str | None = None
        self._unprinted = 0  # inside <style> or <title>
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("style", "title"):
            self._unprinted += 1
        if "data-figure" in a:
            assert self._figure is None, f"a figure inside a figure: {a}"
            self._figure, self._text = (a["data-figure"], a["data-unit"]), []
        if tag == "svg":
            self._chart = a.get("data-chart")
            assert self._chart, "a chart without a name"
            self.charts[self._chart] = []
        if "data-mark" in a:
            assert self._chart is not None, f"a mark outside a chart: {a}"
            self.charts[self._chart].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._unprinted -= 1
        if tag == "svg":
            self._chart = None
        if self._figure is not None and tag in ("span", "tspan"):
            self.figures.append((*self._figure, "".join(self._text)))
            self._figure = None

    def handle_data(self, data: str) -> None:
        if self._figure is not None:
            self._text.append(data)
        elif not self._unprinted:
            self.loose.append(data)


def at(document: Any, path: str) -> Any:
    """The value at a figure's path: keys, list positions, or the name of a named row."""
    node = document
    for part in path.split("."):
        if isinstance(node, list):
            node = node[int(part)] if part.isdigit() else next(row for row in node if row.get("name") == part)
        else:
            node = node[part]
    return node


def read(text: str, unit: str) -> Any:
    """A printed figure read back as the document would hold it."""
    if unit == "flag":
        return text == "overridden"
    if text == "–":
        return None
    plain = text.replace(",", "")
    if unit == "count":
        return float(plain) if "." in plain else int(plain)
    if unit in ("money", "days"):
        return float(plain)
    if unit == "rate":
        assert plain.endswith("%"), text
        return round(float(plain[:-1]) / 100, 4)
    if unit == "duration":
        scale = {"h": 3600, "m": 60, "s": 1}
        return float(sum(float(part[:-1]) * scale[part[-1]] for part in plain.split()))
    if unit == "month":
        name, year = text.split()
        return f"{year}-{MONTHS.index(name) + 1:02d}"
    if unit == "met":
        return {"met": True, "not met": False}[text]
    if unit == "yesno":
        return {"yes": True, "no": False}[text]
    return text


def numeric_leaves(node: Any, prefix: str = "") -> list[str]:
    """The path of every number in the document (flags are not numbers)."""
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in numeric_leaves(value, f"{prefix}{key}.")]
    if isinstance(node, list):
        named = all(isinstance(row, dict) and "name" in row for row in node)
        return [p for i, row in enumerate(node) for p in numeric_leaves(row, f"{prefix}{row['name'] if named else i}.")]
    if isinstance(node, int | float) and not isinstance(node, bool):
        return [prefix.rstrip(".")]
    return []


def assert_printed_as(document: dict, page: PrintedPage, skip: str | None = None) -> None:
    """Every figure printed equals the document's value at its path; every number of the
    document is printed; no number is printed that is not a figure. `skip`: a pattern of paths
    whose values may differ (figures that depend on when the page was made)."""
    assert len(page.figures) > 50, "the page prints too little to be the scorecard"
    for path, unit, text in page.figures:
        if skip and re.fullmatch(skip, path):
            continue
        value = at(document, path)
        if unit == "date":
            assert text == value[:10], (path, text, value)
        elif unit == "flag":
            assert read(text, unit) == bool(value), (path, text, value)
        else:
            assert read(text, unit) == value, (path, unit, text, value)
    printed = {path for path, _, _ in page.figures}
    missing = [p for p in numeric_leaves(document) if p not in printed]
    assert not missing, f"numbers of the document the page does not print: {missing}"
    stray = [text.strip() for text in page.loose if NUMBER.search(text)]
    assert not stray, f"numbers printed that are no figure of the document: {stray}"


def assert_drawn_to_scale(document: dict, page: PrintedPage, chart: str, expected: list[str]) -> None:
    """The chart has one mark per value in `expected` (the paths of its non-null data points),
    each carrying the document's value, every length on one scale from zero."""
    marks = page.charts[chart]
    assert sorted(m["data-mark"] for m in marks) == sorted(expected), chart
    lengths = []
    for mark in marks:
        value = at(document, mark["data-mark"])
        assert float(mark["data-value"]) == value, (chart, mark)
        length = float(mark["height"] if chart.startswith("trend-") else mark["width"])
        lengths.append((max(float(value), 0.0), length))
    highest = max(lengths)
    scale = highest[1] / highest[0] if highest[0] else 0.0
    for value, length in lengths:
        assert abs(length - value * scale) <= 0.01, (chart, value, length, scale)
    if chart.startswith("trend-"):  # columns stand on one axis
        assert len({round(float(m["y"]) + float(m["height"]), 2) for m in marks}) == 1, chart
