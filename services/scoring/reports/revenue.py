"""Revenue won, credited to what created it: the scorecard's attribution under one model, and the
sales cycle of the deals won. Definitions: docs/scorecard.md ("Attribution", "Cycle time").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from contract.calendar import BusinessCalendar
from services.scoring.domain.attribution import Deal, DealCredit, Touch, attribute
from services.scoring.domain.percentiles import median, p90
from services.scoring.reports.deals import WonDeal

_DAY = 86400.0


@dataclass
class Revenue:
    """Deals won in a window under one model: sums exact until shown."""

    model: str
    deals: int = 0
    amount: Fraction = Fraction(0)
    other_currency: int = 0
    sourced: list[Fraction] = field(default_factory=list)  # amounts of marketing-sourced deals
    influenced: list[Fraction] = field(default_factory=list)
    unattributed: list[Fraction] = field(default_factory=list)  # no touch that counts
    campaigns: dict[str | None, Fraction] = field(default_factory=lambda: defaultdict(Fraction))
    channels: dict[str | None, Fraction] = field(default_factory=lambda: defaultdict(Fraction))

    @property
    def sourced_share(self) -> Fraction | None:
        """Revenue won from marketing-sourced deals / revenue won; None without revenue."""
        return sum(self.sourced, Fraction(0)) / self.amount if self.amount else None

    def report(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "won": {"deals": self.deals, "amount": _money(self.amount), "other_currency": self.other_currency},
            "marketing_sourced": _sum(self.sourced),
            "marketing_influenced": _sum(self.influenced),
            "unattributed": _sum(self.unattributed),
            "marketing_sourced_share": _rate(self.sourced_share),
            "by_campaign": _credits(self.campaigns, "campaign"),
            "by_channel": _credits(self.channels, "channel"),
        }


def credit(deal: WonDeal, touches: list[Touch], model: str) -> DealCredit:
    opened = deal.opened_at or deal.closed_at  # a deal never seen open was created when it closed
    return attribute(Deal(deal.amount, opened, deal.closed_at, deal.lead_entered_lead), touches, model)


def revenue(deals: list[WonDeal], touches: dict[str, list[Touch]] | None, model: str) -> Revenue:
    """Revenue won and its marketing-sourced part; credited to campaigns and channels under `model`
    when the deals' `touches` are given (None: the sums only, as the targets need them)."""
    found = Revenue(model)
    for deal in deals:
        found.deals += 1
        if not deal.in_reporting_currency:
            found.other_currency += 1
            continue
        amount = Fraction(deal.amount or Decimal(0))
        found.amount += amount
        if deal.marketing_sourced:
            found.sourced.append(amount)
        if touches is None:
            continue
        given = credit(deal, touches.get(deal.lead_key or "", []), model)
        if given.marketing_influenced:
            found.influenced.append(amount)
        if not given.touches:
            found.unattributed.append(amount)
        for name, share in given.campaigns.items():
            found.campaigns[name] += share
        for name, share in given.channels.items():
            found.channels[name] += share
    return found


def sales_cycle(deals: list[WonDeal], calendar: BusinessCalendar) -> dict[str, Any]:
    """From each won deal's lead's first event to the won close date: calendar and business days."""
    linked = [d for d in deals if d.lead_created_at is not None and d.lead_created_at <= d.closed_at]
    days = [(d.closed_at - d.lead_created_at).total_seconds() / _DAY for d in linked if d.lead_created_at]
    business = [
        calendar.elapsed(d.lead_created_at, d.closed_at).total_seconds() / calendar.working_day_seconds
        for d in linked
        if d.lead_created_at
    ]
    return {
        "deals": len(linked),
        "deals_without_lead": len(deals) - len(linked),
        "calendar_days": {"median": _days(median(days)), "p90": _days(p90(days))},
        "business_days": {"median": _days(median(business)), "p90": _days(p90(business))},
    }


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _money(value: Fraction | Decimal | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _rate(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _sum(amounts: list[Fraction]) -> dict[str, Any]:
    return {"deals": len(amounts), "amount": _money(sum(amounts, Fraction(0)))}


def _credits(credited: dict[str | None, Fraction], name: str) -> list[dict[str, Any]]:
    ranked = sorted(credited.items(), key=lambda item: (-item[1], item[0] or ""))
    return [{name: key, "amount": _money(amount)} for key, amount in ranked]
