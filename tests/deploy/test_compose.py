import shutil
import subprocess

import yaml

from tests.support.infra import REPO


def test_docker_compose_file_is_valid():
    """Debian's docker-compose validates the file without an engine (installed by deploy/tools.sh)."""
    assert shutil.which("docker-compose"), "docker-compose missing: make test installs it via deploy/tools.sh"
    result = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_services_wait_for_healthy_infrastructure_and_migrations():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name in ("ingest", "scoring", "sla"):
        service = compose["services"][name]
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in service
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:4")
