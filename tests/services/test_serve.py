"""Each service as a real process: starts, migrates, creates topics, is healthy and ready, stops on SIGTERM;
and refuses to start, in one line naming the setting, when its database or broker does not answer."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.infra import REPO
from tests.support.processes import spawn_module, stderr_of

pytestmark = pytest.mark.kafka


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("service", ["ingest", "scoring", "sla"])
def test_service_serves_health_readiness_metrics_and_problems(service, kafka_bootstrap, topic_prefix, database_url):
    port = _free_port()
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LOCKSTEP_DATABASE_URL": database_url,
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
    }
    process = spawn_module("services.cli", ["serve", service, "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, stderr_of(process)
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "service did not come up"
            time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "keys": "ok"}
        assert httpx.get(f"{base}/metrics").headers["content-type"].startswith("text/plain")
        missing = httpx.get(f"{base}/no-such-thing")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["status"] == 404
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        err = stderr_of(process)
    # uvicorn finishes the lifespan shutdown, then re-raises SIGTERM so the exit status tells why.
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in err


def _serve_until_it_stops(service: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", service, "--port", str(_free_port())],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://lockstep:S3cr3tPw@127.0.0.1:1/lockstep", "ConnectionRefusedError"),
        ("postgresql://lockstep:S3cr3tPw@no-such-host.invalid:5432/lockstep", "gaierror"),
        ("sqlite:///{tmp}/a-file/{{service}}.db", "File exists"),  # its directory cannot be made
    ],
)
def test_a_database_that_does_not_answer_stops_the_service_in_one_line_without_the_url(
    url, said, kafka_bootstrap, topic_prefix, tmp_path
):
    (tmp_path / "a-file").write_text("")
    env = {
        "LOCKSTEP_DATABASE_URL": url.format(tmp=tmp_path),
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
    }
    result = _serve_until_it_stops("scoring", env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("lockstep: database (LOCKSTEP_DATABASE_URL): "), result.stderr
    assert said in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert "S3cr3tPw" not in result.stderr + result.stdout


def test_a_broker_that_does_not_answer_stops_the_service_in_one_line(topic_prefix, tmp_path):
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "LOCKSTEP_STARTUP_TIMEOUT_S": "1",
        "LOCKSTEP_DATABASE_URL": f"sqlite:///{tmp_path}/{{service}}.db",
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
    }
    result = _serve_until_it_stops("ingest", env)
    assert result.returncode != 0
    # Before it, the service's own log while it waited for the broker; then the one line, and nothing after.
    *waited, last = result.stderr.splitlines()
    assert last.startswith("lockstep: LOCKSTEP_KAFKA_BOOTSTRAP: no Kafka broker answered at 127.0.0.1:1"), last
    assert "Traceback" not in result.stderr, result.stderr
    assert all(" INFO " in line or " WARNING " in line or " ERROR aiokafka: " in line for line in waited), waited
    assert "Uvicorn running" not in result.stderr, "refused before it binds its port"
