"""Agreed reason codes: each source's values map onto codes both teams agreed, and a code nobody
agreed is a file:line error, not a reason that silently reports under a typo."""

import pytest

from contract import ContractError, load_contract, parse_contract
from contract.settings import DEFAULT_CONTRACT
from tests.contract.test_loader import MINIMAL

BASE = (
    MINIMAL
    + """\
reason_codes:
  rejected:
    bad_timing: "Interested, but not now"
    no_budget: "No budget this year"
  disqualified:
    student: Student
  lost:
    price: "Lost on price"
    bad_timing: "Project postponed"
sources:
  hubspot:
    reason_codes:
      rejected: {BAD_TIMING: bad_timing}
      lost: {"Too expensive": price, "Not now": bad_timing}
  salesforce:
    reason_codes:
      disqualified: {"Student / Intern": student}
  pipedrive:
    reason_codes:
      lost: {"Price": price}
"""
)


def _line(fragment: str) -> int:
    """The line of BASE that holds `fragment`, for the expected messages below."""
    return next(n for n, text in enumerate(BASE.splitlines(), start=1) if fragment in text)


def test_each_source_value_finds_its_agreed_code():
    contract = parse_contract(BASE)
    assert contract.reason_codes.rejected == {
        "bad_timing": "Interested, but not now",
        "no_budget": "No budget this year",
    }
    hubspot = contract.sources.hubspot.reason_codes
    assert hubspot.code_for("rejected", "BAD_TIMING") == "bad_timing"
    # Typed into a free-text field, the same reason varies in case and spacing.
    assert hubspot.code_for("lost", "  too EXPENSIVE ") == "price"
    assert hubspot.code_for("lost", "Not now") == "bad_timing"
    # A value is looked up under its own kind only, and an unmapped or empty one has no code.
    assert hubspot.code_for("rejected", "Too expensive") is None
    assert hubspot.code_for("lost", "Went dark") is None and hubspot.code_for("lost", None) is None
    assert contract.sources.salesforce.reason_codes.code_for("disqualified", "Student / Intern") == "student"
    assert contract.sources.pipedrive.reason_codes.code_for("lost", "price") == "price"


def test_the_shipped_contract_maps_only_agreed_codes():
    contract = load_contract(DEFAULT_CONTRACT)
    assert contract.reason_codes.rejected and contract.reason_codes.disqualified and contract.reason_codes.lost
    assert contract.sources.hubspot.reason_codes.code_for("rejected", "BAD_TIMING") in contract.reason_codes.rejected
    # Salesforce's loss reasons come from the Opportunity field lost_reason_field names.
    assert contract.sources.reason_code("salesforce", "lost", "Missing feature") == "product_gap"
    assert contract.sources.reason_code("marketo", "lost", "Price") is None, "a source whose reasons nobody maps"


def _broken(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _broken('"Too expensive": price', '"Too expensive": pricing'),
            f"c.yaml:{_line('Too expensive')}: sources.hubspot.reason_codes.lost.Too expensive: "
            "'pricing' is not an agreed lost reason code (known: price, bad_timing)",
        ),
        (
            # agreed as a rejection reason, but not as a disqualification reason
            _broken('{"Student / Intern": student}', '{"Student / Intern": no_budget}'),
            "sources.salesforce.reason_codes.disqualified.Student / Intern: 'no_budget' is not an agreed "
            "disqualified reason code (known: student)",
        ),
        (
            _broken("  disqualified:\n    student: Student\n", "").replace(
                'disqualified: {"Student / Intern": student}', 'disqualified: {"Student": student}'
            ),
            "'student' is not an agreed disqualified reason code (known: none: add it under reason_codes.disqualified)",
        ),
        (
            _broken("    no_budget:", "    No-Budget:"),
            f"c.yaml:{_line('no_budget:')}: reason_codes.rejected.No-Budget: String should match pattern",
        ),
        (
            _broken("student: Student", 'student: "  "'),
            "reason_codes.disqualified.student: String should have at least",
        ),
        (
            _broken('{"Price": price}', '{"Price": price, " price": price}'),
            f"c.yaml:{_line('Price')}: sources.pipedrive.reason_codes.lost. price: "
            "'Price' and ' price' are the same value (case and spaces are ignored)",
        ),
        (_broken('{"Price": price}', '{"Price": price, "": price}'), "reason_codes.lost.: a source value is empty"),
        (
            _broken("reason_codes:\n  rejected:", "reason_codes:\n  refused:"),
            "reason_codes.refused: Extra inputs are not permitted (allowed here: rejected, disqualified, lost)",
        ),
    ],
)
def test_each_bad_reason_code_names_file_and_line(text, expected):
    with pytest.raises(ContractError) as info:
        parse_contract(text, "c.yaml")
    assert expected in str(info.value)


def test_the_salesforce_lost_reason_field_is_a_field_name():
    assert load_contract(DEFAULT_CONTRACT).sources.salesforce.lost_reason_field == "Loss_Reason__c"
    assert (
        parse_contract(
            _broken("  salesforce:\n", "  salesforce:\n    lost_reason_field: null\n")
        ).sources.salesforce.lost_reason_field
        is None
    )
    text = _broken("  salesforce:\n", "  salesforce:\n    lost_reason_field: Loss Reason\n")
    with pytest.raises(ContractError) as info:
        parse_contract(text, "c.yaml")
    assert (
        f"c.yaml:{_line('  salesforce:') + 1}: sources.salesforce.lost_reason_field: String should match pattern"
        in str(info.value)
    )
