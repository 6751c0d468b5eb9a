"""bench.reports' section of docs/benchmarks.md: the table, what a shorter history changes, and the summary lines."""

from __future__ import annotations

from bench.common import Headline, percentile
from bench.reports_data import MONTHS
from bench.reports_requests import NAMES, Report, Run

TARGET = "< 500 ms at 1M leads, flat from 100k"
TREND_MONTHS = 3  # the months before its own that /scorecard shows (domain/periods.previous_months)


def spell(leads: int, months: int) -> str:
    """A size as --sizes takes it."""
    count = next((f"{leads // n}{unit}" for n, unit in ((10**6, "M"), (1000, "k")) if leads % n == 0), str(leads))
    return count if months == MONTHS else f"{count}:{months}mo"


def _ms(values: list[float], q: float) -> str:
    value = percentile(values, q)
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def table(runs: list[Run], requests: int) -> list[str]:
    """The section's table; a report cut short by its time budget shows how many requests it got."""
    lines = [
        "| backend | history | leads | stage changes | touches | deals | endpoint | p50 | p99 | baseline p50 | "
        "ratio to baseline | peak RSS (idle before) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        c = run.made.counts
        sizes = (
            f"| {NAMES[run.backend]} | {run.made.months} months | {c['scoring_leads']:,} | "
            f"{c['scoring_transitions']:,} | {c['scoring_touches']:,} | {c['scoring_opportunities']:,}"
        )
        base = percentile(run.baseline_ms, 50)
        memory = f"{run.peak_rss / 2**20:,.0f} MiB ({run.idle_rss / 2**20:,.0f})"
        for report in run.reports:
            if report.live:
                ratio = f"{percentile(report.times_ms, 50) / base:.1f}x"
                got = len(report.times_ms)
                figures = f"{_ms(report.times_ms, 50)} | {_ms(report.times_ms, 99)}"
                figures += f" (of {got} requests)" if got < requests else ""
            else:
                ratio, figures = "-", f"{report.status} | -"
            lines.append(f"{sizes} | {report.label} | {figures} | {_ms(run.baseline_ms, 50)} | {ratio} | {memory} |")
    return lines


def shortened(runs: list[Run]) -> list[tuple[Run, Run]]:
    """Each run over the last months of a history, with the run over all of it (same backend, same leads)."""
    full = {(r.backend, r.made.leads): r for r in runs if r.made.months == MONTHS}
    pairs = []
    for run in runs:
        whole = full.get((run.backend, run.made.leads))
        if run.made.months < MONTHS and whole is not None:
            pairs.append((run, whole))
    return pairs


def _p50(report: Report) -> str:
    return f"{percentile(report.times_ms, 50):,.0f} ms" if report.live else report.status


def _longer(short: Report, whole: Report) -> str:
    """How many times the report's p50 over the whole history is its p50 over the last months."""
    if not (short.live and whole.live):
        return "-"
    return f"{percentile(whole.times_ms, 50) / percentile(short.times_ms, 50):.2f}x"


def history_length(pairs: list[tuple[Run, Run]], month: str) -> list[str]:
    """A sentence for each shortened history: each report's p50 behind its months, then behind the whole
    history, on each backend, the month measured holding about as much."""
    lines = []
    for leads, months in dict.fromkeys((short.made.leads, short.made.months) for short, _ in pairs):
        mine = [(s, w) for s, w in pairs if (s.made.leads, s.made.months) == (leads, months)]
        short, whole = mine[0]
        moves = "; ".join(
            f"{report.path} "
            + ", ".join(
                f"{_p50(s.reports[i])} → {_p50(w.reports[i])} ({_longer(s.reports[i], w.reports[i])}) on "
                f"{NAMES[s.backend]}"
                for s, w in mine
            )
            for i, report in enumerate(short.reports)
        )
        lines.append(
            f"History length at the same monthly volume: the last {months} months of the {spell(leads, MONTHS)} "
            f"history hold {short.made.counts['scoring_leads']:,} leads, {short.volumes.changes:,} stage changes "
            f"and {short.volumes.won:,} deals won in {month}, {short.volumes.trend_won:,} in the {TREND_MONTHS} "
            f"months before (all {MONTHS} months: {whole.volumes.changes:,}, {whole.volumes.won:,} and "
            f"{whole.volumes.trend_won:,}), and with {MONTHS} months behind that month instead of {months}, "
            f"p50 goes {moves}."
        )
    return lines


def headlines(runs: list[Run]) -> list[Headline]:
    out = []
    for short, whole in shortened(runs):
        for a, b in zip(short.reports, whole.reports, strict=True):
            out.append(
                Headline(
                    f"{a.path} p50 at {short.made.leads:,} leads' monthly volume, {MONTHS} months of history "
                    f"({NAMES[short.backend]})",
                    _p50(b),
                    f"{short.made.months} months {_p50(a)}",
                    _longer(a, b),
                    "flat as history grows",
                )
            )
    for backend in dict.fromkeys(run.backend for run in runs):
        mine = sorted((r for r in runs if r.backend == backend), key=lambda r: r.made.counts["scoring_leads"])
        top = mine[-1]
        leads = top.made.counts["scoring_leads"]
        base = percentile(top.baseline_ms, 50)
        for report in top.reports:
            p50 = percentile(report.times_ms, 50)
            out.append(
                Headline(
                    f"{report.path} p50 at {leads:,} leads ({NAMES[backend]})",
                    f"{p50:,.0f} ms" if report.live else report.status,
                    f"SELECT count(*) of stage changes {base:,.0f} ms",
                    f"{p50 / base:.1f}x" if report.live else "-",
                    TARGET,
                )
            )
        if len(mine) > 1:
            low = mine[0]
            out.append(
                Headline(
                    f"scoring peak RSS serving reports, {leads:,} leads ({NAMES[backend]})",
                    f"{top.peak_rss / 2**20:,.0f} MiB",
                    f"{low.made.counts['scoring_leads']:,} leads {low.peak_rss / 2**20:,.0f} MiB",
                    f"{top.peak_rss / max(low.peak_rss, 1):.1f}x",
                    "flat as history grows",
                )
            )
    return out
