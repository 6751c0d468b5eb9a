"""The contract's `writeback:` section: what Lockstep writes to the records each CRM keeps for a lead.

Reps work in their CRM, so the agreed stage, the fit grade and score, the engagement score, the rule
that made the lead an MQL and its owner are shown there, on fields the CRM admin creates (named
here). Each source is off until enabled: writing to a CRM is a decision its admin makes, not a
default. The credentials are settings (`LOCKSTEP_HUBSPOT_ACCESS_TOKEN`, ...), never the contract.

Engagement decays every hour of every day; written as it is, it would change on every event and
flood the CRM's API allowance and its record history. It is written in coarse buckets (the lowest
bound reached) and, when `every` is set, at most that often per lead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from contract.durations import Duration
from contract.lifecycle import Problem

WrittenValue = Literal["stage", "fit_grade", "fit_score", "engagement", "mql_reason", "owner"]
WRITTEN_VALUES: tuple[WrittenValue, ...] = get_args(WrittenValue)
# A CRM field's API name: HubSpot property names, Salesforce API names (Lockstep_Stage__c), Pipedrive's
# 40-character custom field keys (hex: they may start with a digit), Marketo REST names.
CrmField = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_]{0,254}$")]
# What is written unless `write:` says otherwise. The owner is left out: a lead's owner is a user id of
# the CRM it came from, and writing it to another CRM (or back to its own) only makes sense once the
# admin says so (routing assigns reps with a user id per CRM).
DEFAULT_VALUES: tuple[WrittenValue, ...] = ("stage", "fit_grade", "fit_score", "engagement", "mql_reason")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _fields(prefix: str, style: str, owner: str | None) -> dict[WrittenValue, str]:
    names: dict[WrittenValue, str] = {
        "stage": "stage",
        "fit_grade": "fit_grade",
        "fit_score": "fit_score",
        "engagement": "engagement",
        "mql_reason": "mql_reason",
    }
    if style == "salesforce":
        shaped = {k: f"Lockstep_{v.title().replace('Mql', 'MQL')}__c" for k, v in names.items()}
    elif style == "camel":
        shaped = {k: prefix + "".join(p.title() for p in v.split("_")).replace("Mql", "MQL") for k, v in names.items()}
    else:
        shaped = {k: f"{prefix}_{v}" for k, v in names.items()}
    return {**shaped, **({"owner": owner} if owner else {})}


class SourceWriteback(_Section):
    """One CRM's write-back: whether it is on, which values, under which field names."""

    enabled: bool = Field(False, description="Write to this CRM (off unless its admin turns it on)")
    write: list[WrittenValue] = Field(
        default_factory=lambda: list(DEFAULT_VALUES), description="Which values are written"
    )
    fields: dict[WrittenValue, CrmField] = Field(
        default_factory=dict, description="value -> the CRM field it is written to (defaults per CRM)"
    )
    stages: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=255)]] = Field(
        default_factory=dict,
        description="contract stage -> the value written to the CRM (a picklist's internal value); others as named",
    )

    @field_validator("write")
    @classmethod
    def _distinct(cls, value: list[WrittenValue]) -> list[WrittenValue]:
        if len(set(value)) != len(value):
            raise ValueError("a value is listed twice")
        return value


# Each CRM's field names out of the box: what docs/writeback.md tells its admin to create.
DEFAULT_FIELDS: dict[str, dict[WrittenValue, str]] = {
    "hubspot": _fields("lockstep", "snake", "hubspot_owner_id"),
    "salesforce": _fields("", "salesforce", "OwnerId"),
    "pipedrive": {"owner": "owner_id"},  # custom fields have generated 40-character keys: name them
    "marketo": _fields("lockstep", "camel", None),  # Marketo syncs the owner from the CRM
}


class EngagementWriting(_Section):
    """How the decaying engagement score is written, so that decay does not flood the CRM."""

    buckets: list[int] = Field(
        default_factory=lambda: [0, 25, 50, 75],
        description="Ascending lower bounds; the score is written as the highest bound it reached",
    )
    every: Duration | None = Field(
        None, description="At most one engagement-only write per lead this often (other changes carry it)"
    )

    @field_validator("buckets")
    @classmethod
    def _ascending(cls, value: list[int]) -> list[int]:
        if not value or value != sorted(set(value)):
            raise ValueError("expected a non-empty list of distinct ascending numbers, e.g. [0, 25, 50, 75]")
        return value

    def written(self, score: int) -> int:
        """The bucket `score` is written as: the highest bound at or below it (the lowest bound below all)."""
        return max((bound for bound in self.buckets if bound <= score), default=self.buckets[0])


class Writeback(_Section):
    hubspot: SourceWriteback = SourceWriteback()
    salesforce: SourceWriteback = SourceWriteback()
    pipedrive: SourceWriteback = SourceWriteback()
    marketo: SourceWriteback = SourceWriteback()
    engagement: EngagementWriting = EngagementWriting()
    echo_window: Duration = Field(
        timedelta(days=1),
        description="How long a written value is remembered, so the CRM's webhook about it is known as an echo",
    )
    manual_edits: Literal["restore", "keep"] = Field(
        "restore",
        description=(
            "A person's edit of a written field: restore Lockstep's value (the contract decides the stage;"
            " reps move leads with their status field), or keep theirs until the value changes"
        ),
    )

    def sources(self) -> dict[str, SourceWriteback]:
        """The enabled sources, by name."""
        return {name: getattr(self, name) for name in DEFAULT_FIELDS if getattr(self, name).enabled}

    def field_names(self, source: str) -> dict[WrittenValue, str]:
        """value -> field, for the values `source` writes (defaults filled in)."""
        section: SourceWriteback = getattr(self, source)
        names = {**DEFAULT_FIELDS[source], **section.fields}
        return {value: names[value] for value in section.write if value in names}

    def problems(self, stages: list[str]) -> list[Problem]:
        found: list[Problem] = []
        for source in DEFAULT_FIELDS:
            section: SourceWriteback = getattr(self, source)
            names = {**DEFAULT_FIELDS[source], **section.fields}
            for stage in section.stages:
                if stage not in stages:
                    found.append((("writeback", source, "stages", stage), f"unknown stage {stage!r}"))
            if not section.enabled:
                continue
            for value in section.write:
                if value not in names:
                    found.append(
                        (("writeback", source, "write"), f"{value}: no field named for it (add it under fields)")
                    )
            taken: dict[str, str] = {}
            for value in section.write:
                field = names.get(value)
                if field in taken:
                    found.append((("writeback", source, "fields"), f"{taken[field]} and {value} both write {field}"))
                elif field:
                    taken[field] = value
        return found
