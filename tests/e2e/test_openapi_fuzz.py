"""Contract fuzzing (issue 6): schemathesis drives every operation of each service's OpenAPI
document with generated valid and invalid requests against the running service.

For every request: no 5xx, nothing logged as an error by the service (a 4xx that hides a
crash is still a bug), and the answer is one the document declares, in its declared media type
and shape. The services run once per module and database backend as real processes
(tests/e2e/fuzz_stack.py), seeded through the front door, so some generated ids hit real leads
and alerts, and some webhooks carry valid credentials and reach the parsers. Besides the
generated requests, every parameter of every operation gets each of a list of known-hostile
values, which random generation seldom meets.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from services.simulator import signing
from shared.webhooks.signing import standard_webhooks_headers
from tests.e2e import fuzz_stack
from tests.e2e.fuzz_stack import LEAD_EMAILS, Service, Stack
from tests.support.infra import create_pg_database, drop_pg_database
from tests.support.postgres import BACKENDS

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

# Examples per operation: with both backends the module takes 60-90 s on two cores.
WEBHOOK_EXAMPLES = 100
FUZZ = settings(
    max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
SOURCES = ("hubspot", "salesforce", "marketo", "pipedrive", "generic")
# Values that broke these services once, or break services like them: strings PostgreSQL cannot
# store, times that overflow once moved to UTC or shifted by a default window, digits `int()`
# refuses, ids past BIGINT, and cursors that decode to such things. Random generation seldom
# meets them, so test_hostile_values_in_every_parameter sends each one in every parameter, and
# the fuzzing draws generated strings and integers from them now and then.
HOSTILE_STRINGS = [
    "\x00", "a\x00b", "%00", " ", "-1", "\u00b2", "9" * 25,
    "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00Z", "2026-11-02T09:00:00",
    "YQA=", "OTk5OTk5OTk5OTk5OTk5OTk5OTk=", "wrI=",  # cursors: "a\x00", twenty 9s, "\u00b2"
]  # fmt: skip
HOSTILE_INTEGERS = [0, -1, 2**31, 2**63 - 1, 2**63, 10**20, -(2**63) - 1]
CONFIG = {
    "seed": 6,  # schemathesis' own choices (coverage phase, operation seeds) repeat run to run, as Hypothesis' do
    "dictionaries": {"hostile-strings": {"values": HOSTILE_STRINGS}, "hostile-integers": {"values": HOSTILE_INTEGERS}},
    "generation": {
        "mode": "all",  # valid requests and invalid ones
        "dictionaries": {
            "string": {"dictionary": "hostile-strings", "probability": 0.15},
            "integer": {"dictionary": "hostile-integers", "probability": 0.25},
        },
    },
    # Every check, except that a schema-valid request must succeed: these APIs have rules no schema
    # states (an opaque cursor must be one they issued, `from` must be before `to`), and the
    # answer to breaking one is rightly a 400 problem.
    "checks": {"positive_data_acceptance": {"enabled": False}},
    # The SSE feed never ends by itself: read two events or two seconds of it.
    "max-stream-events": 2,
    "request-timeout": 2,
}


def _document(name: str) -> dict:
    # Built the way `lockstep serve` builds the app; test_the_fuzzed_documents_are_the_served_ones
    # checks that the running services serve exactly these.
    return __import__(f"services.{name}.app", fromlist=["create_app"]).create_app().openapi()


DOCUMENTS = {name: _document(name) for name in fuzz_stack.SERVICES}
SCHEMAS = {
    name: schemathesis.openapi.from_dict(DOCUMENTS[name], config=schemathesis.Config.from_dict(CONFIG))
    for name in fuzz_stack.SERVICES
}
ingest, scoring, sla = SCHEMAS["ingest"], SCHEMAS["scoring"], SCHEMAS["sla"]


def _sometimes(name: str, values: st.SearchStrategy):
    """A path-parameter hook: the generated value, or a known one (a configured source, a seeded row)."""

    def hook(context, path_parameters):
        if not path_parameters or name not in path_parameters:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters), values.map(lambda v: {**path_parameters, name: v}))

    return hook


ingest.hook("flatmap_path_parameters")(_sometimes("source", st.sampled_from(SOURCES)))
scoring.hook("flatmap_path_parameters")(_sometimes("lead_key", st.sampled_from(LEAD_EMAILS)))
# A fresh database numbers alerts from 1, and seeding waits for one alert per lead.
sla.hook("flatmap_path_parameters")(_sometimes("alert_id", st.integers(1, len(LEAD_EMAILS))))


def _secured(operation: Any) -> bool:
    return bool(operation.definition.raw.get("security"))


_ADMIN_KEY: list[str] = []  # the running stack's admin key (set by the `stack` fixture)


class AdminKey:
    """Schemathesis' auth provider: the stack's admin key on every operation behind one, so requests
    reach the operations. Schemathesis leaves it off the cases that test a missing key, and checks
    by itself that each operation refuses a request without a key or with a wrong one."""

    def get(self, case: Any, ctx: Any) -> str | None:
        return _ADMIN_KEY[0] if _secured(case.operation) and _ADMIN_KEY else None

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


for _schema in SCHEMAS.values():
    _schema.auth(refresh_interval=None)(AdminKey)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Once per database backend, like the `backend` tests in tests/conftest.py, but per module:
    # the stack starts once for all operations. PostgreSQL matters here: it refuses values
    # (NUL in text, out-of-range times) that SQLite takes without a word.
    if "fuzz_backend" in metafunc.fixturenames:
        metafunc.parametrize("fuzz_backend", BACKENDS, scope="module")


@pytest.fixture(scope="module")
def stack(
    fuzz_backend: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
):
    tmp = tmp_path_factory.mktemp(f"fuzz-{fuzz_backend}")
    databases: list[str] = []
    if fuzz_backend == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp}/{{service}}.db"
    else:
        admin_url = request.getfixturevalue("postgres_admin_url")
        base = f"t_{uuid.uuid4().hex[:12]}"
        databases = [f"{base}_{name}" for name in fuzz_stack.SERVICES]
        urls = [fuzz_stack.run_async(create_pg_database(admin_url, name)) for name in databases]
        database_url = urls[0].replace(databases[0], f"{base}_{{service}}")
    try:
        running = fuzz_stack.start_stack(tmp, kafka_bootstrap, database_url)
        _ADMIN_KEY[:] = [running.key]
        yield running
        fuzz_stack.stop_stack(running, kafka_bootstrap)
    finally:
        for name in databases:
            fuzz_stack.run_async(drop_pg_database(admin_url, name))


def test_the_fuzzed_documents_are_the_served_ones(stack: Stack) -> None:
    for name, document in DOCUMENTS.items():
        served = httpx.get(f"{stack[name].url}/openapi.json", headers={"Authorization": f"Bearer {stack.key}"})
        assert served.json() == document, name


def _exercise(service: Service, case, **kwargs) -> None:
    if case.operation.path == "/alerts/stream":
        kwargs.setdefault("timeout", (5, 1))  # a quiet feed is cut after a second, not the two of CONFIG
    offset = service.log_size()
    case.call_and_validate(base_url=service.url, **kwargs)
    # A crash logged just after its response shows up with the next request instead: the test
    # still fails, and the lines it prints name the request.
    crashes = service.crashes_since(offset)
    assert not crashes, f"{service.name} logged an error for {case.method} {case.formatted_path}:\n" + "\n".join(
        crashes[:20]
    )


def _credentials(case, url: str) -> dict:
    """For a configured source: the generated body as exactly the bytes its credentials cover."""
    source = case.path_parameters.get("source")
    if source not in SOURCES:
        return {}
    body = (
        case.body
        if isinstance(case.body, (bytes, str))
        else b""
        if isinstance(case.body, NotSet)
        else orjson.dumps(case.body)
    )
    body = body.encode() if isinstance(body, str) else body
    now = datetime.now(UTC)
    extra: dict = {"data": body}
    if source == "hubspot":
        extra["headers"] = signing.hubspot_v3_headers(
            fuzz_stack.HUBSPOT_SECRET, "POST", f"{url}/webhooks/hubspot", body, int(now.timestamp() * 1000)
        )
    elif source == "salesforce":
        extra["params"] = {"token": fuzz_stack.SALESFORCE_TOKEN}
    elif source == "marketo":
        extra["headers"] = signing.marketo_headers(fuzz_stack.MARKETO_TOKEN)
    elif source == "pipedrive":
        extra["headers"] = signing.basic_auth(*fuzz_stack.PIPEDRIVE)
    else:
        extra["headers"] = standard_webhooks_headers(
            fuzz_stack.GENERIC_SECRET, f"msg_fuzz_{time.monotonic_ns()}", body, now
        )
    return extra


@ingest.exclude(path="/webhooks/{source}").parametrize()
@FUZZ
def test_ingest_api(case, stack: Stack) -> None:
    _exercise(stack["ingest"], case)


# The door has five sources, two media types and credentials to get right: more examples.
@ingest.include(path="/webhooks/{source}").parametrize()
@settings(FUZZ, max_examples=WEBHOOK_EXAMPLES)
def test_ingest_webhooks(case, stack: Stack) -> None:
    _exercise(stack["ingest"], case, **_credentials(case, stack["ingest"].url))


@scoring.parametrize()
@FUZZ
def test_scoring_api(case, stack: Stack) -> None:
    _exercise(stack["scoring"], case)


@sla.parametrize()
@FUZZ
def test_sla_api(case, stack: Stack) -> None:
    _exercise(stack["sla"], case)


# Required path parameters keep a value that reaches the handler while another parameter is swept.
KNOWN_PATH_VALUES = {"source": "generic", "lead_key": LEAD_EMAILS[0], "alert_id": 1}


@pytest.mark.parametrize("name", fuzz_stack.SERVICES)
def test_hostile_values_in_every_parameter(name: str, stack: Stack) -> None:
    service, failures = stack[name], []
    for result in SCHEMAS[name].get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        for parameter in operation.iter_parameters():
            location = parameter.location.value
            for value in [*HOSTILE_STRINGS, *map(str, HOSTILE_INTEGERS)]:
                if location == "header" and ("\x00" in value or value != value.strip()):
                    continue  # not sendable as a header value: no client sends it, no server would pass it on
                path = {p.name: KNOWN_PATH_VALUES.get(p.name, "x") for p in operation.path_parameters}
                query: dict[str, str] = {}
                headers: dict[str, str] = {"Authorization": f"Bearer {stack.key}"} if _secured(operation) else {}
                places: dict[str, dict[str, Any]] = {"path": path, "query": query, "header": headers}
                places[location][parameter.name] = value
                case = operation.Case(path_parameters=path, query=query, headers=headers)
                try:
                    _exercise(service, case)
                except (
                    AssertionError,
                    FailureGroup,
                    requests.RequestException,
                ) as exc:  # report every failing value, not just the first
                    failures.append(f"{operation.label} {location} {parameter.name}={value!r}: {str(exc)[:600]}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:15])
