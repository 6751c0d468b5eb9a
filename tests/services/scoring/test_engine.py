"""The lifecycle engine on its own: scores, decay with a controlled clock, caps, MQL rules, allowed moves."""

from datetime import UTC, datetime, timedelta

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from shared.events import ActivityRecorded, ContactAttributes, ContactUpserted, LeadRef, SalesDispositioned
from tests.support.keys import TEST_KEYS

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ENGINE = LifecycleEngine(load_contract(DEFAULT_CONTRACT))


def _lead(email="ada@acme.io", **attributes):
    ref = LeadRef(source="hubspot", record_id="1", email=email)
    lead = ENGINE.new_lead(TEST_KEYS.of(ref), ref, T0, "e0")
    ENGINE.apply(lead, ContactUpserted(lead=ref, occurred_at=T0, attributes=ContactAttributes(**attributes)), "e1")
    return lead, ref


def _activity(ref, kind, at, n, **extra):
    return ActivityRecorded(lead=ref, kind=kind, occurred_at=at, **extra), f"a{n}"


def test_fit_grades_and_explains_each_rule():
    lead, _ = _lead(title="VP Marketing", industry="Software", employees=500, country="United States")
    assert dict(lead.fit_detail) == {
        "senior_title": 20,
        "practitioner_title": 10,
        "target_industry": 15,
        "mid_market": 15,
        "served_country": 10,
    }
    assert lead.fit_score == 70 and lead.fit_grade == "A"
    freemail, _ = _lead(email="ada@gmail.com", title="VP Marketing")
    assert dict(freemail.fit_detail)["free_mail"] == -30 and freemail.fit_grade == "D"


def test_engagement_decays_by_half_life_with_a_controlled_clock():
    lead, ref = _lead(title="Marketing Manager")
    ENGINE.apply(lead, *_activity(ref, "webinar_attended", T0, 1))
    assert ENGINE.engagement(lead, T0) == 20
    assert ENGINE.engagement(lead, T0 + timedelta(days=30)) == 10
    assert ENGINE.engagement(lead, T0 + timedelta(days=60)) == 5
    # A late event (earlier than the anchor) is decayed forward, not added at full weight.
    ENGINE.apply(lead, *_activity(ref, "webinar_attended", T0 - timedelta(days=30), 2))
    assert ENGINE.engagement(lead, T0) == 30


def test_caps_limit_a_rule_per_period():
    lead, ref = _lead()
    for n in range(5):
        ENGINE.apply(lead, *_activity(ref, "webinar_attended", T0 + timedelta(hours=n), n))
    assert [c.points for c in lead.new_contributions] == [20, 20]  # cap 40 per 30 days
    ENGINE.apply(lead, *_activity(ref, "webinar_attended", T0 + timedelta(days=31), 9))
    assert lead.new_contributions[-1].points == 20


def test_first_matching_rule_wins_so_pricing_beats_page_view():
    lead, ref = _lead()
    ENGINE.apply(lead, *_activity(ref, "page_view", T0, 1, asset="https://acme.example/pricing"))
    ENGINE.apply(lead, *_activity(ref, "page_view", T0, 2, asset="https://acme.example/blog"))
    assert [(c.rule, c.points) for c in lead.new_contributions] == [("pricing_page", 10), ("page_view", 1)]


def test_demo_request_from_business_email_is_a_fast_track_to_mql():
    lead, ref = _lead()
    ENGINE.apply(lead, *_activity(ref, "demo_request", T0 + timedelta(minutes=5), 1))
    assert lead.stage == "mql"
    assert [t.reason for t in lead.new_transitions] == ["created", "enter:lead", "mql:hand_raiser"]


def test_free_mail_never_reaches_mql_on_engagement_alone():
    lead, ref = _lead(email="ada@gmail.com", title="VP Sales", industry="Software", employees=5000, country="US")
    assert lead.fit_grade in ("A", "B")  # fit alone would qualify
    ENGINE.apply(lead, *_activity(ref, "demo_request", T0, 1))
    ENGINE.apply(lead, *_activity(ref, "webinar_attended", T0, 2))
    assert ENGINE.engagement(lead, T0) >= 40  # engagement would qualify too
    assert lead.stage == "lead"


def test_fit_and_engagement_rule_needs_both_in_time():
    lead, ref = _lead(title="VP Marketing", industry="Software")  # fit 45: grade B
    ENGINE.apply(lead, *_activity(ref, "webinar_attended", T0, 1))
    ENGINE.apply(lead, *_activity(ref, "content_download", T0 + timedelta(days=60), 2))
    assert lead.stage == "lead"  # 20 decayed to 5, plus 10: 15 < 40
    ENGINE.apply(lead, *_activity(ref, "webinar_attended", T0 + timedelta(days=60, hours=1), 3))
    ENGINE.apply(lead, *_activity(ref, "form_submit", T0 + timedelta(days=60, hours=2), 4))
    assert lead.stage == "mql" and lead.new_transitions[-1].reason == "mql:fit_and_engagement"


def test_dispositions_move_only_where_the_contract_allows_and_rejection_resets_engagement():
    lead, ref = _lead()
    accept = SalesDispositioned(lead=ref, disposition="accepted", occurred_at=T0, rep="rep-1")
    ENGINE.apply(lead, accept, "d1")
    assert lead.stage == "subscriber" and ENGINE.ignored[-1] == ("disposition:accepted", "subscriber")
    ENGINE.apply(lead, *_activity(ref, "demo_request", T0 + timedelta(hours=1), 1))
    ENGINE.apply(
        lead,
        SalesDispositioned(lead=ref, disposition="rejected", reason="no budget", occurred_at=T0 + timedelta(hours=2)),
        "d2",
    )
    assert lead.stage == "recycled" and lead.rejection_reason == "no budget"
    assert ENGINE.engagement(lead, T0 + timedelta(hours=2)) == 0
    assert lead.new_contributions[-1].rule == "recycle:rejected"
    ENGINE.apply(lead, SalesDispositioned(lead=ref, disposition="qualified", occurred_at=T0 + timedelta(hours=3)), "d3")
    assert lead.stage == "recycled"  # qualified applies to mql and sal only


def test_an_older_value_never_overwrites_a_newer_one():
    lead, ref = _lead(title="VP Marketing")
    ENGINE.apply(
        lead,
        ContactUpserted(lead=ref, occurred_at=T0 - timedelta(days=1), attributes=ContactAttributes(title="Intern")),
        "old",
    )
    assert lead.attributes["title"] == "VP Marketing" and lead.fit_score > 0
