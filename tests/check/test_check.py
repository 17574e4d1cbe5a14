"""`thread-note-bot check` as an admin runs it (a subprocess, settings in the environment), against the
RingCentral emulator, the Slack stand-in and a running bot; and each broken setting named in one red line."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from bot.check import MANIFEST_BOT_SCOPES, check_database, signing_secret_problem
from bot.sandbox.profiles import get_profile
from tests.demo.helpers import REPO, console_script, user_env
from tests.kit.bot import RunningBot
from tests.kit.rc import RcSandbox, sandbox_test_settings, start_rc_sandbox

OK, BAD, SKIP = "✓", "✗", "·"


def settings_env(bot: RunningBot) -> dict[str, str]:
    s = bot.settings
    assert s.slack_bot_token and s.slack_signing_secret and s.ringcentral_client_secret and s.ringcentral_jwt
    return {
        "SLACK_BOT_TOKEN": s.slack_bot_token.get_secret_value(),
        "SLACK_SIGNING_SECRET": s.slack_signing_secret.get_secret_value(),
        "SLACK_API_URL": s.slack_api_url,
        "RINGCENTRAL_SERVER_URL": s.ringcentral_server_url,
        "RINGCENTRAL_CLIENT_ID": s.ringcentral_client_id or "",
        "RINGCENTRAL_CLIENT_SECRET": s.ringcentral_client_secret.get_secret_value(),
        "RINGCENTRAL_JWT": s.ringcentral_jwt.get_secret_value(),
        "THREAD_NOTE_DATABASE_URL": s.database_url,
        "THREAD_NOTE_SECRET_KEY": ",".join(k.get_secret_value() for k in s.secret_keys),
        "THREAD_NOTE_PUBLIC_URL": s.public_url or "",
    }


def check(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    done = subprocess.run(
        [*console_script(), "check"],
        cwd=cwd,  # no .env file there
        env=user_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout.splitlines()


def marked(lines: list[str], mark: str) -> list[str]:
    return [line.strip() for line in lines if line.strip().startswith(mark)]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_red_line(lines: list[str], *names: str) -> str:
    red = marked(lines, BAD)
    assert len(red) == 1, "\n".join(lines)
    for name in names:
        assert name in red[0], red[0]
    return red[0]


def test_check_passes_against_the_stand_ins_and_a_running_bot(bot: RunningBot, tmp_path: Path) -> None:
    status, lines = check(settings_env(bot), tmp_path)
    assert status == 0, "\n".join(lines)
    assert not marked(lines, BAD) and not marked(lines, SKIP)
    green = "\n".join(marked(lines, OK))
    expected = [
        "every setting is valid",
        "migrations at head",
        "bot token works",
        "signs in with RINGCENTRAL_JWT",
    ]
    expected += ["handles Support", "SMS permission", "/healthz answers", "SLACK_SIGNING_SECRET looks right"]
    for said in expected:
        assert said in green, said
    assert lines[-1].startswith("All ") and "checks passed" in lines[-1]


def test_a_bad_jwt_is_named_in_one_red_line(bot: RunningBot, tmp_path: Path) -> None:
    env = settings_env(bot)
    head, payload, signature = env["RINGCENTRAL_JWT"].split(".")
    env["RINGCENTRAL_JWT"] = f"{head}.{payload}.{signature[::-1]}"  # well formed, wrongly signed
    status, lines = check(env, tmp_path)
    assert status == 1
    assert "create a JWT credential" in one_red_line(lines, "RINGCENTRAL_JWT", "refused")


def test_a_bot_token_pasted_as_the_signing_secret_is_named_in_one_red_line(
    bot: RunningBot, tmp_path: Path
) -> None:
    env = settings_env(bot)
    env["SLACK_SIGNING_SECRET"] = env["SLACK_BOT_TOKEN"]
    status, lines = check(env, tmp_path)
    assert status == 1
    assert "Basic Information" in one_red_line(lines, "SLACK_SIGNING_SECRET", "bot token")


def test_an_unreachable_ringcentral_server_is_named_in_one_red_line(bot: RunningBot, tmp_path: Path) -> None:
    env = settings_env(bot) | {"RINGCENTRAL_SERVER_URL": f"http://127.0.0.1:{closed_port()}"}
    status, lines = check(env, tmp_path)
    assert status == 1
    one_red_line(lines, "cannot reach", "RINGCENTRAL_SERVER_URL")


def test_an_unreachable_slack_is_named_in_one_red_line(bot: RunningBot, tmp_path: Path) -> None:
    env = settings_env(bot) | {"SLACK_API_URL": f"http://127.0.0.1:{closed_port()}/api/"}
    status, lines = check(env, tmp_path)
    assert status == 1
    one_red_line(lines, "cannot reach", "SLACK_API_URL")


def test_an_unreachable_database_is_named_in_one_red_line(bot: RunningBot, tmp_path: Path) -> None:
    env = settings_env(bot) | {
        "THREAD_NOTE_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{closed_port()}/db"
    }
    status, lines = check(env, tmp_path)
    assert status == 1
    one_red_line(lines, "THREAD_NOTE_DATABASE_URL", "cannot reach")


def test_a_bot_that_does_not_run_at_the_public_url_is_named_in_one_red_line(
    bot: RunningBot, tmp_path: Path
) -> None:
    env = settings_env(bot) | {"THREAD_NOTE_PUBLIC_URL": f"http://127.0.0.1:{closed_port()}"}
    status, lines = check(env, tmp_path)
    assert status == 1
    assert "start `thread-note-bot serve`" in one_red_line(lines, "/healthz is not reachable")


def test_a_plain_http_public_url_off_this_machine_must_become_https(bot: RunningBot, tmp_path: Path) -> None:
    env = settings_env(bot) | {"THREAD_NOTE_PUBLIC_URL": "http://bot.example.com"}
    status, lines = check(env, tmp_path)
    assert status == 1
    one_red_line(lines, "not https")


def test_every_malformed_or_missing_setting_is_named_and_what_needs_it_is_not_checked(
    bot: RunningBot, tmp_path: Path
) -> None:
    env = settings_env(bot) | {"SLACK_BOT_TOKEN": "not-a-token", "THREAD_NOTE_POLL_INTERVAL": "0"}
    del env["RINGCENTRAL_CLIENT_ID"]
    status, lines = check(env, tmp_path)
    assert status == 1
    red = marked(lines, BAD)
    assert len(red) == 3, "\n".join(lines)
    names = ["SLACK_BOT_TOKEN", "THREAD_NOTE_POLL_INTERVAL", "RINGCENTRAL_CLIENT_ID"]
    assert [next(n for n in names if n in line) for line in red] == names
    skipped = "\n".join(marked(lines, SKIP))
    assert "Slack: not checked until SLACK_BOT_TOKEN is fixed" in skipped
    assert "RingCentral: not checked until RINGCENTRAL_CLIENT_ID is fixed" in skipped
    assert "migrations at head" in "\n".join(marked(lines, OK))  # the rest is still checked


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("0123456789abcdef0123456789abcdef", None),
        ("0123456789abcdef0123456789abcdef ", "spaces"),
        ('"0123456789abcdef0123456789abcdef"', "quotes"),
        ("xoxb-1-2-abc", "bot token"),
        ("xapp-1-A1-2-abc", "app-level token"),
        ("AbCdEfGhIjKlMnOpQrStUvWx", "Verification Token"),
        ("0123456789abcdef", "32 hexadecimal"),
        ("0123456789ABCDEF0123456789ABCDEF", "32 hexadecimal"),
    ],
)
def test_signing_secret_format_is_checked_as_far_as_slack_lets_us(secret: str, problem: str | None) -> None:
    found = signing_secret_problem(secret, real_slack=True)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_a_stand_in_may_use_its_own_signing_secret_format_but_not_a_token() -> None:
    assert signing_secret_problem("sandbox-signing-secret-0123456789abcdef", real_slack=False) is None
    assert signing_secret_problem("xoxb-1-2-3", real_slack=False) is not None


async def test_a_database_migrated_by_a_newer_bot_is_red_and_an_empty_one_is_fine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    assert "does not exist yet" in (await check_database(url)).text
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE unrelated (x INTEGER)"))
    empty = await check_database(url)
    assert empty.ok is True and "empty" in empty.text
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('9999_from_the_future')"))
    engine.dispose()
    newer = await check_database(url)
    assert newer.ok is False and "upgrade this one" in newer.text and "9999_from_the_future" in newer.text
    missing = await check_database(f"sqlite:///{tmp_path / 'nowhere' / 'bot.db'}")
    assert missing.ok is False and "does not exist" in missing.text


def test_the_scopes_check_compares_with_the_scopes_manifest_yml_asks_for() -> None:
    manifest = yaml.safe_load((REPO / "manifest.yml").read_text())
    assert set(MANIFEST_BOT_SCOPES) == set(manifest["oauth_config"]["scopes"]["bot"])


DEMO_SEED = REPO / "bot" / "sandbox" / "ringcentral" / "seeds" / "demo.yml"


def _against(bot: RunningBot, rc: RcSandbox) -> dict[str, str]:
    return settings_env(bot) | {
        "RINGCENTRAL_SERVER_URL": rc.url,
        "RINGCENTRAL_CLIENT_ID": rc.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc.client_secret,
        "RINGCENTRAL_JWT": rc.service_user.jwt,
    }


def test_a_service_identity_that_is_a_queue_member_but_no_sms_recipient_is_named_in_one_red_line(
    bot: RunningBot, tmp_path: Path
) -> None:
    seed = yaml.safe_load(DEMO_SEED.read_text())
    service = next(u["id"] for u in seed["users"] if u.get("service"))
    for resource in seed["resources"]:
        resource["handlers"] = [h for h in resource["handlers"] if h != service]
        if resource.get("type", "CallQueue") == "CallQueue":
            resource["members"] = sorted({*resource.get("members", []), service})
    seed["threads"] = []  # a thread's seeded assignee must handle it; none needed here
    rc = start_rc_sandbox(seed, sandbox_test_settings())
    try:
        status, lines = check(_against(bot, rc), tmp_path)
    finally:
        rc.server.stop()
    assert status == 1
    one_red_line(lines, "handles no shared resource", "SMS recipient")


def test_where_sms_recipients_are_refused_check_judges_by_the_threads_the_service_identity_sees(
    bot: RunningBot, tmp_path: Path
) -> None:
    rc = start_rc_sandbox("demo", sandbox_test_settings(get_profile("no-sms-recipients")))
    try:
        status, lines = check(_against(bot, rc), tmp_path)
    finally:
        rc.server.stop()
    assert status == 0, "\n".join(lines)
    assert any("sees message threads" in line and "SMS recipients" in line for line in marked(lines, OK))
