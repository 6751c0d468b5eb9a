"""One deal credited under each model, computed by hand; the coincidence and no-other-touch rules
of w_shaped; marketing-sourced and marketing-influenced."""

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from services.scoring.domain.attribution import Deal, Touch, attribute, counted_touches, shares


def _at(day: int, hour: int = 9, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# The story of one lead, in the order the events happened to arrive (not time order).
T5 = Touch("e5", _at(20), "demo_request", campaign="nurture", channel="email")
T1 = Touch("e1", _at(1), "webinar_attended", campaign="fall-webinar", channel="paid_social")
T3 = Touch("e3", _at(5), "form_submit", campaign="ebook", channel="paid_search")
T2 = Touch("e2", _at(3), "page_view", channel="organic")  # a channel but no campaign: it counts
T4 = Touch("e4", _at(10), "email_click", campaign="nurture", channel="email")
UNMARKED = Touch("e7", _at(12), "page_view")  # neither campaign nor channel: does not count
LATE = Touch("e6", _at(25), "email_open", campaign="nurture", channel="email")  # after the opportunity
UNSUBSCRIBE = Touch("e8", _at(11), "unsubscribe", campaign="nurture", channel="email")  # not a touch
STORY = [T5, T1, T3, T2, T4, UNMARKED, LATE, UNSUBSCRIBE]
# The opportunity was created at the demo request itself (touches count up to and including it);
# the lead entered `lead` with the form (T3), and the deal was won on 1 November.
DEAL = Deal(amount=Decimal(10000), created_at=_at(20), closed_at=_at(1, month=11), lead_created_at=_at(5))


def test_the_touches_that_count_are_ordered_by_time():
    assert [t.event_id for t in attribute(DEAL, STORY, "linear").touches] == ["e1", "e2", "e3", "e4", "e5"]


def test_first_touch_credits_the_first_touch():
    credit = attribute(DEAL, STORY, "first_touch")
    assert credit.campaigns == {"fall-webinar": 10000} and credit.channels == {"paid_social": 10000}


def test_last_touch_credits_the_last_touch_up_to_the_opportunity():
    credit = attribute(DEAL, STORY, "last_touch")
    assert credit.campaigns == {"nurture": 10000} and credit.channels == {"email": 10000}  # T5, not LATE


def test_linear_credits_each_touch_equally():
    credit = attribute(DEAL, STORY, "linear")
    # 10000 / 5 touches = 2000 each; nurture has two (T4, T5) = 4000; T2 has no campaign (None)
    assert credit.campaigns == {"fall-webinar": 2000, None: 2000, "ebook": 2000, "nurture": 4000}
    assert credit.channels == {"paid_social": 2000, "organic": 2000, "paid_search": 2000, "email": 4000}


def test_w_shaped_gives_30_percent_to_each_key_touch_and_splits_10_over_the_rest():
    credit = attribute(DEAL, STORY, "w_shaped")
    # key touches: first T1, lead creation T3 (last at or before 5 Oct 09:00), last T5: 30% each
    # the others, T2 and T4, share 10%: 5% each
    assert credit.shares == [Fraction(3, 10), Fraction(1, 20), Fraction(3, 10), Fraction(1, 20), Fraction(3, 10)]
    # money: T1 3000, T2 500, T3 3000, T4 500, T5 3000; nurture = T4 + T5 = 3500
    assert credit.campaigns == {"fall-webinar": 3000, None: 500, "ebook": 3000, "nurture": 3500}
    assert credit.channels == {"paid_social": 3000, "organic": 500, "paid_search": 3000, "email": 3500}
    assert sum(credit.campaigns.values()) == 10000 == sum(credit.channels.values())


def _touches(n: int) -> list[Touch]:
    return [Touch(f"t{i}", _at(1 + i), "page_view", campaign=f"c{i}") for i in range(n)]


@pytest.mark.parametrize(
    ("n", "lead_created_at", "expected"),
    [
        # one touch is all three keys: 30 + 30 + 30, and with no other touch the 10% too = 100%
        (1, _at(1), [1]),
        # lead created at the first touch: t0 is first and lead creation (60%), t1 last (30%);
        # no other touch, so the 10% goes 5% each to the two distinct key touches: 65 / 35
        (2, _at(1), [Fraction(65, 100), Fraction(35, 100)]),
        # lead created before any touch: the first touch stands in for lead creation, the same 65 / 35
        (2, _at(1, month=9), [Fraction(65, 100), Fraction(35, 100)]),
        # never entered `lead`: the same
        (2, None, [Fraction(65, 100), Fraction(35, 100)]),
        # three touches, lead created at the middle one: 30% each, no other touch: 10% / 3 each = 1/3 each
        (3, _at(2), [Fraction(1, 3)] * 3),
        # lead created at the last touch: t3 is lead creation and last (60%), t0 first (30%);
        # t1 and t2 share 10%: 5% each
        (4, _at(4), [Fraction(30, 100), Fraction(5, 100), Fraction(5, 100), Fraction(60, 100)]),
        # lead created between t1 and t2 (the last touch at or before it is t1): keys t0, t1, t3; t2 gets 10%
        (4, _at(2, hour=12), [Fraction(30, 100), Fraction(30, 100), Fraction(10, 100), Fraction(30, 100)]),
    ],
)
def test_w_shaped_coinciding_key_touches_add_up(n, lead_created_at, expected):
    assert shares("w_shaped", _touches(n), lead_created_at) == expected
    assert sum(expected) == 1


def test_ties_in_time_are_broken_by_event_id():
    same_time = [Touch("e-b", _at(1), "page_view", campaign="b"), Touch("e-a", _at(1), "page_view", campaign="a")]
    deal = Deal(Decimal(100), _at(2), None, None)
    assert attribute(deal, same_time, "first_touch").campaigns == {"a": 100}
    assert attribute(deal, list(reversed(same_time)), "first_touch").campaigns == {"a": 100}


def test_counted_touches_are_ordered_on_their_own_whatever_order_they_come_in():
    deal = Deal(Decimal(100), _at(2), None, None)
    same_time = [Touch("e-b", _at(1), "page_view", campaign="b"), Touch("e-a", _at(1), "page_view", campaign="a")]
    assert [t.event_id for t in counted_touches(same_time, deal)] == ["e-a", "e-b"]
    assert [t.event_id for t in counted_touches([T3, T1, T2], DEAL)] == ["e1", "e2", "e3"]


def test_credits_add_up_exactly_even_in_thirds():
    deal = Deal(Decimal(1000), _at(10), None, None)
    credit = attribute(deal, _touches(3), "linear")
    assert credit.campaigns == {"c0": Fraction(1000, 3), "c1": Fraction(1000, 3), "c2": Fraction(1000, 3)}
    assert sum(credit.campaigns.values()) == 1000


def test_a_deal_in_another_currency_keeps_its_shares_but_credits_no_money():
    credit = attribute(Deal(None, _at(20), None, _at(5)), STORY, "linear")
    assert credit.shares == [Fraction(1, 5)] * 5 and credit.campaigns == {} and credit.channels == {}


def test_a_deal_without_a_touch_that_counts_credits_nobody():
    credit = attribute(Deal(Decimal(500), _at(20), None, None), [UNMARKED, LATE], "w_shaped")
    assert credit.touches == [] and credit.shares == [] and credit.campaigns == {}


def test_credited_whoever_touched_first():
    # Sourced (the first touch of any kind: tests/services/scoring/test_sourced.py) and credited are
    # separate questions: a rep's call first still leaves the marketing touches their credit.
    rep_called_first = Touch("s1", _at(30, month=9), "sales")
    credit = attribute(DEAL, [*STORY, rep_called_first], "first_touch")
    assert credit.marketing_influenced and credit.campaigns == {"fall-webinar": 10000}
    # An unsubscribe is no touch at all: it does not influence.
    assert not attribute(DEAL, [UNSUBSCRIBE], "linear").marketing_influenced


def test_influenced_when_any_marketing_touch_came_up_to_the_close():
    calls = [Touch("s1", _at(2), "sales")]
    after_close = Touch("m9", _at(2, month=11), "email_open", campaign="nurture")
    assert not attribute(DEAL, [*calls, after_close], "linear").marketing_influenced
    at_close = Touch("m8", _at(1, month=11), "page_view")  # no campaign or channel: still a marketing touch
    assert attribute(DEAL, [*calls, at_close], "linear").marketing_influenced
    assert not attribute(DEAL, calls, "linear").marketing_influenced
    open_deal = Deal(Decimal(1), _at(20), None, None)  # not closed: any marketing touch so far
    assert attribute(open_deal, [*calls, after_close], "linear").marketing_influenced


def test_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown attribution model 'u_shaped'"):
        attribute(DEAL, STORY, "u_shaped")
