"""Each service as a real process: starts, migrates, creates topics, is healthy and ready, stops on SIGTERM."""

import signal
import socket
import time

import httpx
import pytest

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
