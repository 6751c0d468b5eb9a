"""The monthly review as one self-contained HTML page, drawn from the /scorecard document alone.

`render_monthly_page(document)` writes the page (page.py, sections.py; numbers in figures.py,
charts in charts.py); `month_page` computes a month's document from the scoring database, as the
API answers it, and renders it (month.py): what `lockstep report` does.
"""

from services.scoring.reports.monthly.month import month_page
from services.scoring.reports.monthly.page import render_monthly_page

__all__ = ["month_page", "render_monthly_page"]
