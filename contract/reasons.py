"""The contract's `reason_codes:` section: why sales rejected a lead, disqualified it, or lost the deal.

Each CRM words its reasons differently (a HubSpot lead status, a Salesforce picklist, a Pipedrive
label, a rep's free text); the lead-quality feedback loop needs one list both teams agreed on. The
agreed codes live here; each source's `reason_codes:` (in `sources:`) maps its own values onto them.
The rep's own words are kept beside the code, so a value nobody mapped is never lost, only uncoded.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contract.lifecycle import Problem

ReasonKind = Literal["rejected", "disqualified", "lost"]
REASON_KINDS: tuple[str, ...] = get_args(ReasonKind)
ReasonCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReasonCodes(_Section):
    """code -> label, per kind of reason. A code may appear under several kinds (e.g. bad_timing)."""

    rejected: dict[ReasonCode, Label] = Field(default_factory=dict, description="Sales sent the lead back")
    disqualified: dict[ReasonCode, Label] = Field(default_factory=dict, description="Not a fit, now or later")
    lost: dict[ReasonCode, Label] = Field(default_factory=dict, description="The deal closed lost")


def _normal(value: str) -> str:
    return value.strip().casefold()


class ReasonMapping(_Section):
    """One source's reason values -> agreed codes, per kind. Values match ignoring case and the
    spaces around them, because the same reason typed into a free-text field varies in both."""

    rejected: dict[str, ReasonCode] = Field(default_factory=dict, description="source value -> agreed code")
    disqualified: dict[str, ReasonCode] = Field(default_factory=dict, description="source value -> agreed code")
    lost: dict[str, ReasonCode] = Field(default_factory=dict, description="source value -> agreed code")

    def code_for(self, kind: str, value: str | None) -> str | None:
        """The agreed code for a source's reason value; None when nobody mapped it."""
        if not value:
            return None
        wanted = _normal(value)
        return next((code for key, code in getattr(self, kind).items() if _normal(key) == wanted), None)


def reason_mapping_problems(codes: ReasonCodes, source: str, mapping: ReasonMapping) -> list[Problem]:
    """Every code a source maps to is one of the agreed codes of that kind, and no two of its
    values are the same value once case and spaces are ignored (which code would win?)."""
    problems: list[Problem] = []
    for kind in REASON_KINDS:
        agreed = getattr(codes, kind)
        seen: dict[str, str] = {}
        for value, code in getattr(mapping, kind).items():
            where = ("sources", source, "reason_codes", kind, value)
            if not value.strip():
                problems.append((where, "a source value is empty"))
            elif _normal(value) in seen:
                problems.append(
                    (where, f"{seen[_normal(value)]!r} and {value!r} are the same value (case and spaces are ignored)")
                )
            seen.setdefault(_normal(value), value)
            if code not in agreed:
                known = ", ".join(agreed) or "none: add it under reason_codes." + kind
                problems.append((where, f"{code!r} is not an agreed {kind} reason code (known: {known})"))
    return problems
