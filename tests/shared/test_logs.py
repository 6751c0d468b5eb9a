"""Error texts fit for logs and dead-letter headers, and the log format's last guard against addresses."""

from __future__ import annotations

import logging
import sys

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from shared.db import create_engine
from shared.logs import AddressFreeFormatter, error_text

ADDRESS = "ada.lovelace@analytical.example"
OTHER = "grace@navy.example"
metadata = MetaData()
people = Table("people", metadata, Column("email", String(320), primary_key=True), Column("name", String(100)))


async def test_a_failed_statement_is_described_without_its_parameters(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/people.db")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        with pytest.raises(IntegrityError) as failed:
            async with engine.begin() as connection:
                # A batch: the second row repeats the first, and the third is another person's.
                rows = [
                    {"email": ADDRESS, "name": "Ada"},
                    {"email": ADDRESS, "name": "Ada"},
                    {"email": OTHER, "name": "Grace"},
                ]
                await connection.execute(insert(people), rows)
    finally:
        await engine.dispose()
    assert ADDRESS not in str(failed.value) and OTHER not in str(failed.value), "the engine hides parameters"
    text = error_text(failed.value)
    assert text.startswith("IntegrityError: UNIQUE constraint failed: people.email"), text
    assert "\n" not in text and ADDRESS not in text and "Ada" not in text


def test_a_validation_error_is_described_by_where_and_what_not_by_the_input():
    class Lead(BaseModel):
        employees: int

    with pytest.raises(ValidationError) as failed:
        Lead.model_validate({"employees": f"{ADDRESS} Ada Lovelace"})
    assert "Ada" in str(failed.value), "pydantic's own text quotes the input"
    text = error_text(failed.value)
    assert text.startswith("ValidationError: employees: ") and "Ada" not in text and ADDRESS not in text


def test_any_other_error_keeps_its_first_line_without_addresses():
    assert error_text(ValueError(f"cannot score {ADDRESS}\nsecond line")) == "ValueError: cannot score [email]"
    assert error_text(RuntimeError()) == "RuntimeError"


def test_every_formatted_log_line_has_its_addresses_replaced_traceback_included():
    formatter = AddressFreeFormatter("%(levelname)s %(message)s")
    try:
        raise KeyError(OTHER)
    except KeyError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "lead %s failed", (ADDRESS,), sys.exc_info())
    line = formatter.format(record)
    assert ADDRESS not in line and OTHER not in line
    assert line.startswith("ERROR lead [email] failed") and "KeyError" in line


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_no_http_client_logs_the_url_it_calls_whatever_the_level(level):
    """A Slack incoming-webhook URL is a credential, and httpx logs every request's URL at INFO."""
    import httpx

    from shared.logs import configure_logging

    secret_url = "https://hooks.slack.example/services/T000/B000/s3cr3t-webhook-token"
    configure_logging(level)
    lines: list[str] = []
    catch = logging.Handler()
    catch.emit = lambda record: lines.append(record.getMessage())
    logging.getLogger().addHandler(catch)
    try:
        transport = httpx.MockTransport(lambda request: httpx.Response(204))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.post(secret_url, json={"text": "breach"})
        logging.getLogger("urllib3.connectionpool").debug("POST %s 200", secret_url)
        logging.getLogger("lockstep.probe").warning("still logging")
    finally:
        logging.getLogger().removeHandler(catch)
        configure_logging("INFO")
    assert lines == ["still logging"]
