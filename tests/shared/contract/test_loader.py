import pytest

from shared.contract import ContractError, parse_contract


def test_a_minimal_contract_loads():
    contract = parse_contract('version: "1"\nstages: {}\nscoring: {}\n')
    assert contract.version == "1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: '1'\nstages: [\n", "c.yaml:3: not valid YAML"),
        ("", "c.yaml:1: the file is empty"),
        ("- a\n- b\n", "c.yaml:1: the contract must be a mapping"),
        ("version: '1'\nstages: {}\nscoring: {}\nstages: {}\n", "c.yaml:4: stages: duplicate key"),
        ("stages: {}\nscoring: {}\n", "c.yaml:1: version: Field required"),
        ("version: '1'\nstages: {}\nscoring: {}\nbogus: 1\n", "c.yaml:4: bogus: Extra inputs are not permitted"),
        ("version: '1'\nstages: {}\nscoring: 7\n", "c.yaml:3: scoring: Input should be a valid dictionary"),
    ],
)
def test_each_problem_names_file_and_line(text, expected):
    with pytest.raises(ContractError) as info:
        parse_contract(text, "c.yaml")
    assert expected in str(info.value)
