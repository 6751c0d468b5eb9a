import os
import shutil
import subprocess

import yaml

from shared.access.keys import Role, new_key
from tests.support.infra import REPO

SECRETS = {"LOCKSTEP_SECRET_KEY": "s" * 40, "LOCKSTEP_ADMIN_KEY": new_key("first", Role.ADMIN)[1]}


def _config(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Debian's docker-compose validates and interpolates the file without an engine (deploy/tools.sh)."""
    assert shutil.which("docker-compose"), "docker-compose missing: make test installs it via deploy/tools.sh"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_")}
    return subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=REPO / "deploy",  # no stray .env file is read
    )


def test_docker_compose_file_is_valid():
    result = _config(SECRETS)
    assert result.returncode == 0, result.stderr


def test_the_stack_takes_its_secrets_from_the_environment_and_will_not_start_without():
    compose = yaml.safe_load(_config(SECRETS).stdout)["services"]
    for service in ("migrate", "ingest", "scoring", "sla"):  # lead keys: every service derives them from it
        assert compose[service]["environment"]["LOCKSTEP_SECRET_KEY"] == SECRETS["LOCKSTEP_SECRET_KEY"], service
    assert compose["keys"]["environment"]["LOCKSTEP_ADMIN_KEY"] == SECRETS["LOCKSTEP_ADMIN_KEY"]
    assert compose["keys"]["command"] == ["keys", "bootstrap-admin"]
    for missing in SECRETS:
        refused = _config({k: v for k, v in SECRETS.items() if k != missing})
        assert refused.returncode != 0 and missing in refused.stderr, refused.stderr
    text = (REPO / "docker-compose.yml").read_text()
    assert "lsk_" not in text.replace("lsk_<8", ""), "no key is written in the file"


def test_services_wait_for_healthy_infrastructure_and_migrations():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name in ("ingest", "scoring", "sla"):
        service = compose["services"][name]
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in service
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:4")
