"""README's `check` section stays in step with the code: the scope count and migration number in its example,
one example host (the manifest's), the order of setting up a Slack app, and the options it documents."""

from __future__ import annotations

import re

from alembic.script import ScriptDirectory

from bot.check import MANIFEST_BOT_SCOPES
from bot.cli import build_parser
from bot.store.migrate import alembic_config
from tests.demo.helpers import REPO

README = (REPO / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n### ", start + len(title))
    return README[start : end if end > 0 else None]


def test_the_check_example_shows_the_scope_count_and_the_migration_head() -> None:
    example = section("### 4. Check")
    assert f"manifest.yml asks for ({len(MANIFEST_BOT_SCOPES)})" in example
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"migrations at head ({head})" in example
    assert f"smallest scope set, {len(MANIFEST_BOT_SCOPES)} scopes" in README
    for scope in MANIFEST_BOT_SCOPES:
        assert f"`{scope}`" in section("### 1. Create the Slack app"), scope


def test_one_example_host_throughout_and_it_is_the_manifests() -> None:
    manifest_hosts = set(re.findall(r"[\w.-]+\.example\.com", (REPO / "manifest.yml").read_text()))
    assert (
        set(re.findall(r"[\w.-]+\.example\.com", README)) == manifest_hosts == {"thread-note-bot.example.com"}
    )


def test_the_slack_app_is_set_up_signing_secret_first_events_url_last() -> None:
    steps = section("### 1. Create the Slack app")
    assert steps.index("Signing Secret") < steps.index("Bot User OAuth Token") < steps.index("Request URL")


def test_the_documented_options_exist() -> None:
    parser = build_parser()
    assert "--env-file" in parser.format_help()
    check = parser.parse_args(["check", "--before-start", "--env-file", "x.env"])
    assert check.before_start and check.env_file == "x.env"
    assert parser.parse_args(["reencrypt"]).command == "reencrypt"
    for option in ("--before-start", "--env-file", "thread-note-bot reencrypt", "sslmode"):
        assert option in README, option
