"""Structure of the service's Dockerfile and compose file (no container engine needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


@pytest.fixture(scope="module")
def dockerfile(service_dir: Path) -> list[tuple[str, str]]:
    return parse_dockerfile((service_dir / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def compose(service_dir: Path) -> dict[str, Any]:
    data = yaml.safe_load((service_dir / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _args(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in instructions if kw == keyword]


def test_parser_joins_continuations() -> None:
    parsed = parse_dockerfile("FROM a\n# c\nRUN x \\\n  && y\nUSER 1\n")
    assert parsed == [("FROM", "a"), ("RUN", "x && y"), ("USER", "1")]


def test_base_image_is_python_slim(dockerfile: list[tuple[str, str]]) -> None:
    assert _args(dockerfile, "FROM") == ["python:3.11-slim"]


def test_runs_as_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = _args(dockerfile, "USER")
    assert users, "no USER instruction: the container would run as root"
    last_user = users[-1].split(":")[0]
    assert last_user not in {"root", "0"}
    # The USER comes after every RUN (nothing later runs as root) and before CMD.
    keywords = [kw for kw, _ in dockerfile]
    last_user_at = len(keywords) - 1 - keywords[::-1].index("USER")
    assert "RUN" not in keywords[last_user_at:]
    assert keywords.index("CMD") > last_user_at


def test_healthcheck_hits_health_without_curl(dockerfile: list[tuple[str, str]]) -> None:
    checks = _args(dockerfile, "HEALTHCHECK")
    assert len(checks) == 1
    check = checks[0]
    assert re.search(r"--interval=\d+s", check) and re.search(r"--timeout=\d+s", check)
    exec_form = json.loads(check[check.index("CMD") + len("CMD") :].strip())
    assert exec_form[:2] == ["python", "-c"]
    assert "/health" in exec_form[2] and "urllib.request" in exec_form[2]
    assert "curl" not in check


def test_exposes_8000_and_binds_all_interfaces(dockerfile: list[tuple[str, str]]) -> None:
    assert _args(dockerfile, "EXPOSE") == ["8000"]
    env = " ".join(_args(dockerfile, "ENV"))
    assert "HOST=0.0.0.0" in env
    assert "PORT=8000" in env
    assert json.loads(_args(dockerfile, "CMD")[-1]) == ["python", "-m", "geoapi"]


def test_revision_label_comes_from_git_sha_arg(dockerfile: list[tuple[str, str]]) -> None:
    assert any(a.split("=")[0] == "GIT_SHA" for a in _args(dockerfile, "ARG"))
    labels = " ".join(_args(dockerfile, "LABEL"))
    assert re.search(r'org\.opencontainers\.image\.revision="?\$\{?GIT_SHA\}?"?', labels)


def test_dockerignore_keeps_the_context_small(service_dir: Path) -> None:
    lines = (service_dir / ".dockerignore").read_text().splitlines()
    assert "*" in lines
    assert {"!pyproject.toml", "!geoapi/"} <= set(lines)


def test_compose_has_postgis_with_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    db = next(s for s in services.values() if str(s.get("image", "")).startswith("postgis/postgis:"))
    assert db["image"] == "postgis/postgis:15-3.4"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_compose_api_waits_for_healthy_database(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert "healthcheck" in api and "/health" in " ".join(api["healthcheck"]["test"])
    assert api["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert api["environment"]["GEOAPI_REQUIRE_DATABASE"] == "true"
    assert "GIT_SHA" in api["build"]["args"]
    # Published on loopback only.
    assert all(str(p).startswith("127.0.0.1:") for p in api["ports"])
