"""The container files: `docker compose up` runs the bot on PostgreSQL, healthy and observable.

No container engine runs in CI, so the compose file is read with a YAML parser and checked for
what `docker compose` would rely on; where `docker compose` is installed it validates it too.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SLACK_PROFILE = "slack-http"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def bots(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items() if "build" in service}


def host_ports(service: dict[str, Any]) -> dict[str, str]:
    """Container port -> host port, from "host:container" entries."""
    return {entry.rsplit(":", 1)[1]: entry.rsplit(":", 1)[0] for entry in service.get("ports", [])}


def test_postgres_keeps_its_data_in_a_named_volume(compose: dict[str, Any]):
    volumes = compose["services"]["postgres"]["volumes"]
    named = [v.split(":")[0] for v in volumes if v.endswith(":/var/lib/postgresql/data")]
    assert named and named[0] in compose["volumes"]


def test_postgres_has_a_health_check(compose: dict[str, Any]):
    check = compose["services"]["postgres"]["healthcheck"]
    assert "pg_isready" in " ".join(check["test"])


def test_every_bot_waits_for_a_healthy_database_and_uses_it(compose: dict[str, Any]):
    services = bots(compose)
    assert {"bot", "slack-1", "slack-2"} <= set(services)
    for service in services.values():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]


def test_every_bot_serves_metrics_on_a_published_port(compose: dict[str, Any]):
    published = []
    for service in bots(compose).values():
        port = service["environment"]["METRICS_PORT"]
        assert port == "9108"
        published.append(host_ports(service)[port])
    assert len(set(published)) == len(published)


def test_the_main_bot_starts_without_a_profile(compose: dict[str, Any]):
    assert "profiles" not in compose["services"]["bot"]
    assert "profiles" not in compose["services"]["postgres"]


def test_a_profile_adds_two_slack_http_replicas_on_one_database_and_two_ports(compose: dict[str, Any]):
    replicas = {name: s for name, s in bots(compose).items() if SLACK_PROFILE in s.get("profiles", [])}
    assert len(replicas) == 2
    for service in replicas.values():
        assert service["command"] == ["slack"]
        assert service["environment"]["SLACK_APP_TOKEN"] == ""  # HTTP mode, not Socket Mode
    assert len({s["environment"]["DATABASE_URL"] for s in replicas.values()}) == 1
    http_ports = [host_ports(s)[s["environment"]["PORT"]] for s in replicas.values()]
    assert len(set(http_ports)) == 2


def test_the_compose_file_is_valid_where_docker_compose_is_installed(tmp_path: Path):
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        pytest.skip("docker compose is not installed here; the YAML checks above stand in for it")
    (tmp_path / ".env").write_text("")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    result = subprocess.run([docker, "compose", "--profile", SLACK_PROFILE, "config", "--quiet"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_the_image_checks_its_health_on_the_metrics_port():
    text = dockerfile()
    assert re.search(r"^ENV .*METRICS_PORT=9108", text, re.MULTILINE | re.DOTALL)
    assert re.search(r"^EXPOSE .*\b9108\b", text, re.MULTILINE)
    [check] = [line for line in text.splitlines() if line.strip().startswith("CMD [\"python\"")]
    assert "/healthz" in check and "METRICS_PORT" in check and "127.0.0.1" in check


def test_the_health_check_command_is_python_that_compiles():
    text = dockerfile().replace("\\\n", "")
    [line] = [line for line in text.splitlines() if line.startswith("HEALTHCHECK")]
    program = re.search(r'"-c", "(.*)"\]', line)
    assert program is not None
    compile(program.group(1), "healthcheck", "exec")


def ignored(patterns: list[str], path: str) -> bool:
    """Whether Docker would leave `path` out of the build context (last matching pattern wins)."""
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").removeprefix("**/")
        if any(fnmatch.fnmatch(part, pattern) for part in [path, *Path(path).parts]):
            result = not negated
    return result


def test_the_build_context_leaves_out_history_environments_databases_and_secrets():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (".git", ".venv", "venv", ".ci-venv", "qwenbot.db", "qwenbot.db-wal", ".env", ".env.local",
                 "bot/__pycache__"):
        assert ignored(patterns, path), path
    for path in ("pyproject.toml", "README.md", "bot/core.py", "adapters/slack/app.py"):
        assert not ignored(patterns, path), path
