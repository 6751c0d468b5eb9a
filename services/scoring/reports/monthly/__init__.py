"""The monthly review: one self-contained HTML page drawn from the /scorecard document alone,
produced once for each finished month, stored and served.

`render_monthly_page(document)` writes the page (page.py, sections.py; numbers in figures.py,
charts in charts.py); `month_page` computes a month's document from the scoring database, as the
API answers it, and renders it (month.py): what `lockstep report` does. On the first business day
of each month the scoring service produces the month before once (schedule.py, producer.py),
stores it (archive.py) and serves it at /reports (routes.py).
"""

from services.scoring.reports.monthly.month import month_page
from services.scoring.reports.monthly.page import render_monthly_page

__all__ = ["month_page", "render_monthly_page"]
