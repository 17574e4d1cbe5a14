"""The deployment files say what the code does: every setting in .env.example, the version in the
changelog, the licence pyproject names, a compose file with PostgreSQL and two HTTP-mode replicas, and a
systemd unit that systemd itself accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from bot import __version__
from bot.config import Settings
from tests.conftest import REPO


def test_env_example_lists_and_explains_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    names = {str(f.validation_alias) for f in Settings.model_fields.values()} | {"LOG_LEVEL"}
    for name in sorted(names):
        line = re.search(rf"^#? ?{name}=", text, re.MULTILINE)
        assert line, f"{name} is missing from .env.example"
        above = [x for x in text[: line.start()].splitlines() if not re.match(r"^#? ?[A-Z_]+=", x)]
        assert above and above[-1].startswith("# "), f"{name} has no comment above it (or its group)"


def test_changelog_names_the_version_and_the_licence_is_the_one_pyproject_declares() -> None:
    assert f"## {__version__}" in (REPO / "CHANGELOG.md").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__
    assert project["license"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def test_compose_runs_postgres_and_two_http_replicas_on_it() -> None:
    compose = yaml.safe_load((REPO / "compose.yml").read_text())
    services = compose["services"]
    bots = [s for name, s in services.items() if name.startswith("bot")]
    assert len(bots) == 2 and "postgres" in services
    for bot in bots:
        env = bot["environment"]
        assert (
            env["THREAD_NOTE_DATABASE_URL"].startswith("postgresql://")
            and "@postgres:5432/" in env["THREAD_NOTE_DATABASE_URL"]
        )
        assert "SLACK_APP_TOKEN" not in env  # HTTP mode: Socket Mode is for a single process
        assert bot["build"] == "." and bot["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert all(p.startswith("127.0.0.1:") for p in bot["ports"]), "the metrics port is never published"


def test_containerfile_takes_its_base_as_an_argument_and_runs_serve_as_non_root() -> None:
    text = (REPO / "Containerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=\S*python:3\.\d+-slim$", text, re.MULTILINE)
    assert "FROM ${BASE_IMAGE}" in text
    assert re.search(r"^USER 10001", text, re.MULTILINE) and 'CMD ["serve"]' in text
    assert "HEALTHCHECK" in text and "/healthz" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_is_valid_and_hardened(tmp_path: Path) -> None:
    unit = (REPO / "deploy" / "thread-note-bot.service").read_text()
    for setting in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory="):
        assert setting in unit
    assert "ExecStart=/opt/thread-note-bot/bin/thread-note-bot serve" in unit
    script = str(Path(sys.executable).with_name("thread-note-bot"))  # the venv's console script
    if not Path(script).exists():
        pytest.skip("the console script is not installed beside this Python")
    here = tmp_path / "thread-note-bot.service"  # systemd checks that ExecStart's program exists
    here.write_text(unit.replace("/opt/thread-note-bot/bin/thread-note-bot", script))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(here)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
