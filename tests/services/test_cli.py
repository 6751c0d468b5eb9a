import os
import subprocess
import sys

import pytest

from tests.support.infra import REPO


def _lockstep(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_contract_check_accepts_the_default_contract():
    result = _lockstep("contract", "check", "deploy/contract/default.yaml")
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout


def test_contract_check_on_a_broken_file_prints_file_and_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: '1'\nstages: {}\nscoring: 3\n")
    result = _lockstep("contract", "check", str(broken))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{broken}:3: scoring: Input should be a valid dictionary"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x [*x]\n", ":1: a.0: a recursive alias: it refers to the anchored value that contains it"),
        ("? [a, b]\n: 1\n", ":1: (top level): a key must be a name, not a list or mapping"),
    ],
)
@pytest.mark.parametrize("command", [("contract", "check", "{file}"), ("serve", "scoring", "--port", "1")])
def test_yaml_the_contract_cannot_hold_is_one_line_naming_file_and_line(tmp_path, text, message, command):
    # `serve` reads LOCKSTEP_CONTRACT before anything else: port 1, which it could not bind, is never tried.
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    args = [part.format(file=broken) for part in command]
    result = _lockstep(*args, env={"LOCKSTEP_CONTRACT": str(broken)})
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"{broken}{message}\n"


def test_a_missing_contract_file_is_one_clear_line(tmp_path):
    result = _lockstep("contract", "check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_a_bad_setting_is_one_line_naming_the_variable():
    result = _lockstep("db", "upgrade", env={"LOCKSTEP_DATABASE_URL": "oracle://x"})
    assert result.returncode == 2
    assert result.stderr.startswith("lockstep: LOCKSTEP_DATABASE_URL: expected a sqlite:// or postgresql:// URL")
    assert result.stderr.count("\n") == 1


def test_event_schemas_check_passes_on_the_committed_schemas():
    result = _lockstep("events", "schemas", "--check")
    assert result.returncode == 0, result.stderr


_NOWHERE = ("--duration", "1", "--url", "http://127.0.0.1:1")  # were the input let through: short, sent nowhere


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("replay", "deadletter", "--since", "yesterday"), "--since: not an ISO 8601 time or a time ago"),
        (("replay", "deadletter", "--since", "2026-11-02T09:00:00"), "--since: give a time zone"),
        (("replay", "deadletter", "--topic", "leads"), "--topic: unknown topic 'leads'; expected one of"),
        (("replay", "raw", "--source", "zoho", "--since", "2h", "--until", "1h"), "--source: unknown source 'zoho'"),
        (("replay", "raw", "--source", "marketo", "--since", "1h", "--until", "2h"), "--until: must be later"),
        (("replay", "raw", "--source", "marketo", "--since", "2h", "--until", "soon"), "--until: not an ISO 8601"),
        (("alerts", "redeliver", "--all-failed", "--target", "ops"), "--target: unknown target 'ops'"),
        (("alerts", "deliveries", "--limit", "0"), "--limit: must be at least 1"),
        (("erase", "--email", "not an address"), "--email: not an email address"),
        (
            ("replay", "deadletter", "--since", "1969-12-31T00:00:00Z"),
            "--since: '1969-12-31T00:00:00Z' is before 1970-01-01T00:00:00Z, where record times begin",
        ),
        (
            ("replay", "raw", "--source", "marketo", "--since", "999999d", "--until", "1h"),
            "--since: '999999d' is before",
        ),
        (("simulate", "--rate", "nan", *_NOWHERE), "--rate: expected a number above 0, got nan"),
        (("simulate", "--rate", "inf", *_NOWHERE), "--rate: expected a number above 0, got inf"),
        (("simulate", "--rate", "-1", *_NOWHERE), "--rate: expected a number above 0, got -1"),
        (
            ("simulate", "--duration", "0", "--url", "http://127.0.0.1:1"),
            "--duration: expected a number above 0, got 0",
        ),
        (("events", "schemas", "--dir", "/etc/passwd"), "--dir: /etc/passwd is not a directory"),
        (("events", "schemas", "--dir", "/etc/passwd/x"), "--dir: cannot write the event schemas to /etc/passwd/x"),
    ],
)
def test_operator_commands_refuse_bad_input_in_one_line(args, message):
    # Nothing is reached before the input is checked: an unreachable broker proves it.
    result = _lockstep(*args, env={"LOCKSTEP_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"lockstep: {message}") and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-5", "eighty"])
def test_serve_refuses_a_port_outside_1_to_65535_before_anything_else(port):
    # Let through, uvicorn would listen on 99999 modulo 65536 while logging :99999, 0 would be the
    # setting's port and -5 uvicorn's error of several lines.
    result = _lockstep("serve", "ingest", "--port", port, env={"LOCKSTEP_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.returncode == 2, result.stderr
    usage, refused = result.stderr.splitlines()  # argparse's usage line, then its one error line
    assert usage.startswith("usage: lockstep serve ")
    assert refused == f"lockstep serve: error: argument --port: expected a port from 1 to 65535, got {port!r}"


def test_an_unreachable_broker_is_one_line_and_exit_code_1():
    result = _lockstep("replay", "deadletter", "--dry-run", env={"LOCKSTEP_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.returncode == 1
    assert result.stderr.startswith("lockstep: Kafka (LOCKSTEP_KAFKA_BOOTSTRAP) did not answer: KafkaConnectionError")
    assert result.stderr.count("\n") == 1, result.stderr


def test_without_a_deployment_secret_a_command_says_so_in_one_line():
    env = {k: v for k, v in os.environ.items() if k != "LOCKSTEP_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "erase", "--email", "ada@acme.io"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2 and result.stderr.startswith("lockstep: LOCKSTEP_SECRET_KEY: required")
    assert result.stderr.count("\n") == 1 and "ada@acme.io" not in result.stderr + result.stdout


def test_an_erasure_nobody_can_take_is_one_line_and_exit_code_1():
    result = _lockstep("erase", "--email", "ada@acme.io", env={"LOCKSTEP_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.returncode == 1 and result.stderr.startswith(
        "lockstep: Kafka (LOCKSTEP_KAFKA_BOOTSTRAP) did not answer"
    )
    assert result.stderr.count("\n") == 1 and "ada@acme.io" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "variable", "value"),
    [
        (
            ("db", "upgrade", "--service", "scoring"),
            "LOCKSTEP_DATABASE_URL",
            "postgresql://lockstep:S3cr3tPw@127.0.0.1:1/x",
        ),
        (("topics", "create"), "LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:1"),
    ],
)
def test_set_up_commands_say_what_does_not_answer_in_one_line_without_the_url(args, variable, value):
    result = _lockstep(*args, env={variable: value})
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("lockstep: ") and variable in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "S3cr3tPw" not in result.stderr + result.stdout, result.stderr
