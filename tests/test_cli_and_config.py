from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from bot.config import SERVE_REQUIRED, ConfigError, load_settings


def test_missing_setting_is_named_in_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(SERVE_REQUIRED, env_file=None)
    message = str(err.value)
    assert message.startswith("SLACK_BOT_TOKEN is not set")
    assert "\n" not in message


def test_malformed_secret_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREAD_NOTE_SECRET_KEY", "not-a-key")
    with pytest.raises(ConfigError, match=r"^THREAD_NOTE_SECRET_KEY is invalid \(not a Fernet key\)"):
        load_settings(env_file=None)


def test_secret_key_accepts_several_keys_for_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [Fernet.generate_key().decode() for _ in range(2)]
    monkeypatch.setenv("THREAD_NOTE_SECRET_KEY", ",".join(keys))
    settings = load_settings(env_file=None)
    assert [k.get_secret_value() for k in settings.secret_keys] == keys


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token"),
        ("RINGCENTRAL_SERVER_URL", "platform.ringcentral.com"),
        ("THREAD_NOTE_DATABASE_URL", "mysql://root@localhost/db"),
        ("THREAD_NOTE_POLL_INTERVAL", "0"),
        ("PORT", "70000"),
        ("SLACK_ALLOWED_TEAMS", "T0ACME, https://acme.slack.com"),
        ("THREAD_NOTE_ADMIN_SUBSCRIBE", "sometimes"),
        ("THREAD_NOTE_RETENTION_DAYS", "3"),
        ("THREAD_NOTE_RETENTION_DAYS", "30d"),
    ],
)
def test_wrong_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=rf"^{name} (is invalid|is an? )"):
        load_settings(env_file=None)


def test_retention_is_a_month_unless_set_and_the_error_says_what_it_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(env_file=None).retention_days == 30
    monkeypatch.setenv("THREAD_NOTE_RETENTION_DAYS", "90")
    assert load_settings(env_file=None).retention_days == 90
    monkeypatch.setenv("THREAD_NOTE_RETENTION_DAYS", "1.5")
    with pytest.raises(ConfigError, match=r"days from 7 to 3650 that delivered notifications are kept"):
        load_settings(env_file=None)


def test_allowed_teams_take_team_and_enterprise_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_ALLOWED_TEAMS", " T0ACME ,E0ORG,")
    settings = load_settings(env_file=None)
    assert settings.allowed_teams == ("T0ACME", "E0ORG")
    assert settings.team_allowed("T0ACME") and settings.team_allowed("T0OTHER", "E0ORG")
    assert not settings.team_allowed("T0OTHER", None)


def test_settings_read_from_dotenv_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    env = tmp_path / ".env"
    env.write_text("THREAD_NOTE_POLL_INTERVAL=7\nSLACK_APP_TOKEN=xapp-1-A\n")
    settings = load_settings(env_file=str(env))
    assert settings.poll_interval == 7
    assert settings.socket_mode


def test_cli_serve_without_configuration_names_the_missing_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "is not set" in lines[0]
