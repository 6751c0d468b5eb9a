"""What property-based tests of the source adapters share: strategies for whatever may arrive at the
door (random bytes, random JSON, vendor samples with values made wrong, latin-1 headers as an ASGI
server decodes them), and the one check every adapter's answer must pass.

The door answers Unauthorized with 401 and BadPayload or a pydantic ValidationError with 400;
anything else an adapter raises is a parser bug, and whatever it does return must be events the
door can publish: ids that are the same on every parse, keys without personal data, aware times.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.ingest.sources.base import BadPayload, InboundRequest, ParseResult, SourceAdapter, Unauthorized
from tests.support.keys import TEST_KEYS

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
REFUSALS = (Unauthorized, BadPayload, ValidationError)
BAD_BODY = (BadPayload, ValidationError)

# --- generic strategies ------------------------------------------------------------------------------------

latin1 = st.text(st.characters(max_codepoint=255), max_size=40)
# '²'.isdigit() is True but int('²') fails; int() refuses more than 4300 digits; huge numbers overflow floats and dates.
long_digits = st.one_of(st.integers(1, 40), st.integers(4290, 4400)).map(lambda n: "9" * n)
numeric_text = st.one_of(
    st.text(alphabet="0123456789²³¹", min_size=1, max_size=8),
    st.text(alphabet="0123456789²³¹-.+ eE", min_size=1, max_size=20),
    long_digits,
    st.integers(-(2**70), 2**70).map(str),
)
header_value = st.one_of(latin1, numeric_text)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    numeric_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
wrong = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=4), scalars, max_size=2))
record_ids = st.one_of(st.integers(0, 2**40), st.text(max_size=20))  # as CRMs send them: numbers or strings


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a plausible value, one time in four a random value (often of the wrong type)."""
    return st.integers(0, 3).flatmap(lambda n: wrong if n == 0 else strategy)


def mostly(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """A vendor-shaped value three times in four, else any JSON value."""
    return st.one_of(plausible, plausible, plausible, json_values)


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with a few values replaced by random JSON, keys removed or added."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(value)))
        if not path:
            if draw(st.integers(0, 9)) == 0:
                value = draw(json_values)
            continue
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if op == "replace":
            parent[path[-1]] = draw(json_values)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def random_bodies(*samples: st.SearchStrategy) -> st.SearchStrategy:
    """Random bytes, random JSON, or a vendor sample with some values made wrong."""
    return st.one_of(st.binary(max_size=200), json_values.map(dumps), *[s.map(dumps) for s in samples])


def headers_for(names: list[str]) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(names), header_value, max_size=len(names))


def try_parse(
    adapter: SourceAdapter, req: InboundRequest, allowed: tuple[type[BaseException], ...]
) -> ParseResult | None:
    try:
        result = adapter.parse(req)
    except allowed:
        return None
    check_result(result)
    again = adapter.parse(req)
    assert [d.event_id for d in again.drafts] == [d.event_id for d in result.drafts], "event ids must be deterministic"
    return result


def check_result(result: ParseResult) -> None:
    assert isinstance(result.ignored, int) and result.ignored >= 0
    assert all(isinstance(u.field, str) and isinstance(u.value, str) for u in result.unmapped)
    for draft in result.drafts:
        assert isinstance(draft.event_id, str) and draft.event_id
        key = draft.record_key(TEST_KEYS)
        assert isinstance(key, str) and key and "@" not in key
        assert draft.occurred_at.tzinfo is not None
        assert (
            type(draft.payload).model_validate_json(draft.payload.model_dump_json()).event_type
            == draft.payload.event_type
        )


def authenticate_refuses_or_passes(adapter: SourceAdapter, req: InboundRequest) -> bool:
    try:
        adapter.authenticate(req)
    except Unauthorized:
        return False
    return True
