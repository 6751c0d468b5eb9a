"""What a report can be grouped by.

Who a lead belongs to is read as it is now: its owner now, that owner's team in the contract, its
lead source, first campaign and CRM. A reassigned lead moves to its new owner in past months'
reports too: that is how CRMs report, and each lead is in one such group at a time. How good a
lead was is read as it was when each fact happened: its grade then, and the MQL rule that had
qualified it then (an MQL's own rule; none before its first). An MQL of October stays under the
grade and the rule it was made under when the lead is regraded or qualified again by another rule
in November, so a rule's rejections are those of its own MQLs. Either way groups add up to the whole.

Each fact a report groups (a stage change, a first entry) carries these in `group_*` columns
(tables.NOW and tables.THEN), the first kept current by scoring as leads change
(services/scoring/report_facts.py), so a report groups a window's facts without looking each lead up.
"""

from __future__ import annotations

from typing import Literal, get_args

from sqlalchemy import Table, case, literal
from sqlalchemy.sql import ColumnElement

from contract import Contract

GroupBy = Literal["owner", "team", "lead_source", "campaign", "mql_rule", "fit_grade", "source"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)


def group_column(group_by: str | None, contract: Contract, facts: Table) -> ColumnElement | None:
    """The expression of a grouping over a fact table's `group_*` columns; None for no grouping.
    `source` is the CRM the lead came from first, kept for readers of the funnel before `lead_source`
    existed; `team` is the owner's team in the contract as it is now."""
    if group_by is None:
        return None
    if group_by == "team":
        owner = facts.c.group_owner
        teams = [(owner.in_(team.members), name) for name, team in contract.sla.teams.items() if team.members]
        return case(*teams, else_=None) if teams else literal(None)
    if group_by not in GROUP_BYS:
        raise ValueError(f"unknown group_by {group_by!r}")
    return facts.c[f"group_{group_by}"]


class Grouping:
    """A report's grouping, for whichever fact table a number is read from."""

    def __init__(self, group_by: str | None, contract: Contract) -> None:
        if group_by is not None and group_by not in GROUP_BYS:
            raise ValueError(f"unknown group_by {group_by!r}")
        self.group_by = group_by
        self.contract = contract

    def on(self, facts: Table) -> ColumnElement | None:
        return group_column(self.group_by, self.contract, facts)
