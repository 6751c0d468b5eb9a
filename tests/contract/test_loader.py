"""Every problem in a contract file is reported with its file, line, what is wrong and what is allowed."""

import pytest

from contract import ContractError, load_contract, parse_contract
from contract.settings import DEFAULT_CONTRACT

MINIMAL = """\
version: "1"
stages:
  subscriber: {definition: "opted in", owner: marketing, initial: true, next: [lead, mql, disqualified, opportunity]}
  lead: {definition: "known", owner: marketing, next: [mql, disqualified, opportunity]}
  mql: {definition: "qualified", owner: marketing, next: [sal, sql, recycled, disqualified, opportunity]}
  sal: {definition: "accepted", owner: sales, next: [sql, recycled, disqualified, opportunity]}
  sql: {definition: "qualified by sales", owner: sales, next: [opportunity, recycled, disqualified]}
  opportunity: {definition: "deal", owner: sales, next: [customer, recycled]}
  customer: {definition: "won", owner: sales}
  recycled: {definition: "back to marketing", owner: marketing, next: [mql, disqualified, opportunity]}
  disqualified: {definition: "never", owner: marketing}
scoring:
  fit:
    - {name: senior, field: title, matches: 'vp|director', points: 20}
  engagement:
    - {name: demo, activity: demo_request, points: 50}
  mql:
    - {name: hand_raiser, activity: demo_request}
"""


def test_the_default_contract_and_a_minimal_one_load():
    default = load_contract(DEFAULT_CONTRACT)
    assert default.initial_stage == "subscriber"
    assert {"subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer", "recycled", "disqualified"} == set(
        default.stages
    )
    assert parse_contract(MINIMAL).scoring.mql[0].name == "hand_raiser"


def _broken(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: '1'\nstages: [\n", "c.yaml:3: not valid YAML"),
        ("", "c.yaml:1: the file is empty"),
        ("- a\n- b\n", "c.yaml:1: the contract must be a mapping"),
        (MINIMAL + "stages: {}\n", "c.yaml:19: stages: duplicate key"),
        ("a: &x [*x]\n", "c.yaml:1: a.0: a recursive alias: it refers to the anchored value that contains it"),
        (MINIMAL + "sla: &x\n  teams: {t: *x}\n", "c.yaml:19: sla.teams.t: a recursive alias"),
        ("? [a, b]\n: 1\n", "c.yaml:1: (top level): a key must be a name, not a list or mapping"),
        (MINIMAL + "sla:\n  ? {a: 1}\n  : 1\n", "c.yaml:20: sla: a key must be a name, not a list or mapping"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "c.yaml: not valid YAML: lists or mappings nested too deeply"),
        (_broken('version: "1"\n', ""), "c.yaml:1: version: Field required"),
        (MINIMAL + "bogus: 1\n", "c.yaml:19: bogus: Extra inputs are not permitted"),
        (
            _broken("owner: sales, next: [sql", "owner: finance, next: [sql"),
            "c.yaml:6: stages.sal.owner: Input should be 'marketing' or 'sales' (got 'finance')",
        ),
        (
            _broken("activity: demo_request, points", "activity: demo_requests, points"),
            "c.yaml:16: scoring.engagement.0.activity: Input should be 'email_open'",
        ),
        (
            _broken("matches: 'vp|director'", "matches: 'vp|(director'"),
            "c.yaml:14: scoring.fit.0: fit rule 'senior': matches is not a regular expression",
        ),
        (
            _broken("next: [mql, disqualified, opportunity]}", "next: [mql, nowhere, opportunity]}"),
            "c.yaml:10: stages.recycled.next: unknown stage 'nowhere'",
        ),
        (_broken("initial: true, ", ""), "c.yaml:2: stages: exactly one stage must be initial: true (found 0)"),
        (
            _broken("  mql:\n    - {name: hand_raiser, activity: demo_request}\n", "  mql: []\n"),
            "c.yaml:17: scoring.mql: List should have at least 1 item",
        ),
    ],
)
def test_each_problem_names_file_and_line(text, expected):
    with pytest.raises(ContractError) as info:
        parse_contract(text, "c.yaml")
    assert expected in str(info.value)


def test_an_alias_used_twice_is_not_a_recursive_one():
    lead = '  lead: {definition: "known", owner: marketing, next: [mql, disqualified, opportunity]}'
    recycled = '  recycled: {definition: "back to marketing", owner: marketing, next: [mql, disqualified, opportunity]}'
    aliased = _broken(lead, lead.replace("next: [", "next: &onward ["))
    aliased = aliased.replace(recycled, recycled.replace("next: [mql, disqualified, opportunity]", "next: *onward"))
    assert "*onward" in aliased
    contract = parse_contract(aliased, "c.yaml")
    assert contract.stages["recycled"].next == contract.stages["lead"].next == ["mql", "disqualified", "opportunity"]


def test_aliases_of_aliases_that_expand_past_any_contract_are_refused_in_one_line():
    """Ten lines that would expand to ten billion values: refused, not built one by one."""
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(9)]
    with pytest.raises(ContractError) as info:
        parse_contract("\n".join(laughs) + "\n", "c.yaml")
    assert len(info.value.problems) == 1 and "more than 10,000 values: aliases of aliases?" in str(info.value)
