"""What a report can be grouped by, read from the lead as it is now.

A lead is counted under what it is today: its owner now, that owner's team in the contract, its
lead source and first campaign, the rule that last qualified it, its grade now. A reassigned lead
moves to its new owner in past months' reports too. That is how CRMs report, and the only reading
under which a lead is in one group at a time, so groups add up to the whole.
"""

from __future__ import annotations

from typing import Literal, get_args

from sqlalchemy import case, literal
from sqlalchemy.sql import ColumnElement

from contract import Contract
from services.scoring.tables import leads

GroupBy = Literal["owner", "team", "lead_source", "campaign", "mql_rule", "fit_grade", "source"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)


def group_column(group_by: str | None, contract: Contract) -> ColumnElement | None:
    """The leads-table expression of a grouping; None for no grouping. `source` is the CRM the lead
    came from first, kept for readers of the funnel before `lead_source` existed."""
    if group_by is None:
        return None
    if group_by == "team":
        teams = [(leads.c.owner.in_(team.members), name) for name, team in contract.sla.teams.items() if team.members]
        return case(*teams, else_=None) if teams else literal(None)
    if group_by not in GROUP_BYS:
        raise ValueError(f"unknown group_by {group_by!r}")
    return leads.c[group_by]
