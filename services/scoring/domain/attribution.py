"""Revenue credited to what created it: one deal under each attribution model.

The touches that count are the lead's marketing touches that carry a campaign or a channel
(`lead_source`), up to and including the moment the opportunity was created, ordered by time with
ties broken by event id, so that the same history always credits the same touch whatever order
the events arrived in. Shares are exact fractions and each deal's credits add up to its amount
exactly; money is rounded only where a report shows it. Definitions: docs/scorecard.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from contract.attribution import ATTRIBUTION_MODELS

# The activity kinds that are a marketing touch; an unsubscribe or a bounce touches nobody.
MARKETING_TOUCH_KINDS = frozenset(
    {"email_open", "email_click", "page_view", "form_submit", "content_download", "webinar_attended", "demo_request"}
)
SALES_TOUCH = "sales"  # the kind of a `sales.touched` event
_KEY_SHARE = Fraction(3, 10)  # w_shaped: each of the three key touches
_REST_SHARE = Fraction(1, 10)  # w_shaped: split over the touches between them


@dataclass(frozen=True)
class Touch:
    event_id: str
    occurred_at: datetime
    kind: str  # an activity kind, or SALES_TOUCH
    campaign: str | None = None
    channel: str | None = None  # the lead_source the touch came through

    @property
    def is_marketing(self) -> bool:
        return self.kind in MARKETING_TOUCH_KINDS

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


@dataclass(frozen=True)
class Deal:
    amount: Decimal | None  # in the reporting currency; None when in another currency or unknown
    created_at: datetime  # the opportunity's creation
    closed_at: datetime | None  # its close date; None while open
    lead_created_at: datetime | None  # the lead's first entry into `lead`; None if it never entered it


@dataclass(frozen=True)
class DealCredit:
    model: str
    touches: list[Touch]  # the touches that count, in order
    shares: list[Fraction]  # one per touch, adding up to 1 (none when no touch counts)
    campaigns: dict[str | None, Fraction] = field(default_factory=dict)  # money per campaign (None: no campaign)
    channels: dict[str | None, Fraction] = field(default_factory=dict)  # money per channel (None: no channel)
    marketing_influenced: bool = False


def counted_touches(touches: Iterable[Touch], deal: Deal) -> list[Touch]:
    return sorted(
        (t for t in touches if t.is_marketing and (t.campaign or t.channel) and t.occurred_at <= deal.created_at),
        key=lambda t: t.order,
    )


def lead_creation_index(ordered: list[Touch], lead_created_at: datetime | None) -> int:
    """The last touch at or before the lead's first entry into `lead`. When there is none (the
    lead was created before any touch that counts, or never passed through `lead`), the first touch
    stands in: it is the earliest thing known to have brought the lead."""
    if lead_created_at is None:
        return 0
    before = [i for i, t in enumerate(ordered) if t.occurred_at <= lead_created_at]
    return before[-1] if before else 0


def shares(model: str, ordered: list[Touch], lead_created_at: datetime | None) -> list[Fraction]:
    """Each touch's share of the deal under `model`; the shares add up to 1, or [] without touches."""
    if model not in ATTRIBUTION_MODELS:
        raise ValueError(f"unknown attribution model {model!r} (known: {', '.join(ATTRIBUTION_MODELS)})")
    n = len(ordered)
    if n == 0:
        return []
    result = [Fraction(0)] * n
    if model == "first_touch":
        result[0] = Fraction(1)
    elif model == "last_touch":
        result[-1] = Fraction(1)
    elif model == "linear":
        result = [Fraction(1, n)] * n
    else:
        keys = [0, lead_creation_index(ordered, lead_created_at), n - 1]
        for key in keys:  # coinciding key touches add up on that touch
            result[key] += _KEY_SHARE
        between = [i for i in range(n) if i not in keys]
        rest = between or sorted(set(keys))  # nothing between: the distinct key touches share the 10%
        for i in rest:
            result[i] += _REST_SHARE / len(rest)
    return result


def attribute(deal: Deal, touches: Iterable[Touch], model: str) -> DealCredit:
    """One deal under one model. `touches` is every touch of the deal's lead, marketing and sales,
    in any order; which of them count is decided here."""
    every = sorted((t for t in touches if t.is_marketing or t.kind == SALES_TOUCH), key=lambda t: t.order)
    ordered = counted_touches(every, deal)
    split = shares(model, ordered, deal.lead_created_at)
    campaigns: dict[str | None, Fraction] = defaultdict(Fraction)
    channels: dict[str | None, Fraction] = defaultdict(Fraction)
    if deal.amount is not None:
        amount = Fraction(deal.amount)
        for touch, share in zip(ordered, split, strict=True):
            if share:
                credit = amount * share
                campaigns[touch.campaign] += credit
                channels[touch.channel] += credit
    return DealCredit(
        model=model,
        touches=ordered,
        shares=split,
        campaigns=dict(campaigns),
        channels=dict(channels),
        marketing_influenced=any(
            t.is_marketing and (deal.closed_at is None or t.occurred_at <= deal.closed_at) for t in every
        ),
    )
