"""A wrong THREAD_NOTE_SECRET_KEY at run time (a restore, replicas on different keys): the person is asked to
connect again in one sentence, the admin sees the alarm in status and /metrics, and `reencrypt` says what to
do in one line."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot import logs
from bot.servers import BackgroundServer
from bot.store import Store, Tokens
from bot.web import create_web_app
from tests.check.helpers import run_cli, store_a_link
from tests.kit.bot import RunningBot, make_settings, wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.scale.helpers import command, install


def save_link_under_another_key(bot: RunningBot, user: str) -> None:
    """What a replica on another key (or a restored database) leaves behind for `user`."""

    async def save() -> None:
        store = await Store.open(bot.database_url, [Fernet.generate_key().decode()])
        try:
            now = datetime.now(UTC)
            tokens = Tokens("at", now + timedelta(hours=1), "rt", now + timedelta(days=7))
            ext = bot.rc.user("Ana Alvarez").extension_id
            team, uid = bot.slack.team_id, bot.slack.user_id(user)
            await store.save_link(team, uid, extension_id=ext, extension_name="Ana", tokens=tokens)
        finally:
            await store.close()

    asyncio.run(save())


@pytest.fixture
def structured_logs() -> None:
    """Logs configured as the CLI does (stdlib logging, so `caplog` sees them)."""
    logs.configure("INFO")


def logged(event: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> bool:
    """`event` was logged: through logging (caplog), or printed by a logger bound before logs were set up."""
    captured = capfd.readouterr()
    return event in caplog.text + captured.out + captured.err


def undecryptable_gauge(bot: RunningBot) -> float:
    text = bot.metrics()
    found = re.search(r"^thread_note_undecryptable_secrets (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def gauge_becomes(bot: RunningBot, value: float) -> None:
    """Scrapes read the store at most every few seconds, so the gauge is waited for."""
    wait_for(lambda: undecryptable_gauge(bot) == value, 15.0, f"thread_note_undecryptable_secrets {value}")


def test_a_person_whose_link_cannot_be_decrypted_is_asked_to_connect_again(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    gauge_becomes(bot, 0)
    save_link_under_another_key(bot, "alice")
    replies = bot.command("list +14155550142")
    assert "can't be read any more" in replies.text and "connect your account again" in replies.text
    assert "Something went wrong" not in replies.text
    assert replies.button("connect_open")["url"].startswith(bot.rc.url)
    gauge_becomes(bot, 2)  # the access and the refresh token
    status = bot.command("status").text
    assert re.search(r"ALARM: 2 of \d+ can't be decrypted with THREAD_NOTE_SECRET_KEY", status), status
    bot.connect("alice", "Ana Alvarez")  # connecting again replaces the link: the alarm clears
    gauge_becomes(bot, 0)
    assert "stored secrets*: ok" in bot.command("status").text


def test_reencrypt_with_a_wrong_key_says_so_in_one_line_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    right, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    store_a_link(url, right)
    env: dict[str, str | None] = {"THREAD_NOTE_DATABASE_URL": url, "THREAD_NOTE_SECRET_KEY": wrong}
    done = run_cli(monkeypatch, capsys, tmp_path, env, "reencrypt")
    assert done.status == 1 and "Traceback" not in done.err
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert "THREAD_NOTE_SECRET_KEY" in done.err and "nothing was changed" in done.err
    env["THREAD_NOTE_SECRET_KEY"] = f"{wrong},{right}"  # new,old: the rotation goes through
    done = run_cli(monkeypatch, capsys, tmp_path, env, "reencrypt")
    assert done.status == 0 and "re-encrypted 1 stored secret(s)" in done.out
    env["THREAD_NOTE_SECRET_KEY"] = wrong  # and now the new key alone reads everything
    assert "re-encrypted 0" in run_cli(monkeypatch, capsys, tmp_path, env, "reencrypt").out


def test_an_undecryptable_push_subscription_secret_is_one_line_not_a_crash(
    structured_logs: None,
    bot: RunningBot,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The bot's own stored secret (the push subscription's verification token) under another key."""

    async def overwrite() -> None:
        store = await Store.open(bot.database_url, [Fernet.generate_key().decode()])
        try:
            await store.set_state("notify:webhook", {"id": "x", "token": "t", "address": "a"}, secret=True)
        finally:
            await store.close()

    asyncio.run(overwrite())
    delivery = httpx.post(
        f"{bot.url}/ringcentral/webhook", headers={"Verification-Token": "not-the-token"}, json={}, timeout=10
    )
    assert delivery.status_code == 403  # refused as an unknown token, not a 500
    status = bot.command("status").text
    assert "Something went wrong" not in status
    assert re.search(r"ALARM: 1 of \d+ can't be decrypted", status), status
    assert logged("webhook.state_undecryptable", caplog, capfd)


def test_an_undecryptable_workspace_installation_is_one_line_not_a_crash(
    structured_logs: None,
    rc_sandbox: RcSandbox,
    slack_standin: SlackStandin,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Many workspaces: a workspace's bot token (stored encrypted) under another key is not served, and the
    log says why in one line."""
    app = httpx.get(f"{slack_standin.url}/sandbox/slack/app", timeout=5).json()
    server = BackgroundServer()
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    settings = make_settings(
        slack=slack_standin, rc=rc_sandbox, database_url=database_url, public_url=server.url,
        SLACK_CLIENT_ID=app["client_id"], SLACK_CLIENT_SECRET=app["client_secret"], SLACK_BOT_TOKEN="",
        SLACK_ALLOWED_TEAMS=slack_standin.default.team_id,
    )  # fmt: skip
    server.app = create_web_app(settings)
    server.start(timeout=30)
    try:
        ws = slack_standin.default
        assert install(server.url, ws).status_code == 200

        old = Fernet(settings.secret_keys[0].get_secret_value().encode())
        other = Fernet(Fernet.generate_key())
        with sqlite3.connect(tmp_path / "bot.db") as conn:  # as a replica on another key would have saved it
            for table in ("slack_installations", "slack_bots"):
                for rowid, data in conn.execute(f"SELECT rowid, data FROM {table}").fetchall():
                    again = other.encrypt(old.decrypt(data.encode())).decode()
                    conn.execute(f"UPDATE {table} SET data = ? WHERE rowid = ?", (again, rowid))
        requests = SlackRequests(
            slack_standin, app_url=server.url, signing_secret=slack_standin.signing_secret
        )
        response, _ = command(requests, ws, "subscriptions", channel="handoffs")
        assert response.status_code < 500, response.text
        wait_for(
            lambda: logged("slack.installation_undecryptable", caplog, capfd),
            10.0,
            "the log line",
        )
    finally:
        server.stop()


def test_reencrypt_without_a_reachable_database_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env: dict[str, str | None] = {
        "THREAD_NOTE_DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere' / 'bot.db'}",
        "THREAD_NOTE_SECRET_KEY": Fernet.generate_key().decode(),
    }
    done = run_cli(monkeypatch, capsys, tmp_path, env, "reencrypt")
    assert done.status == 1 and "Traceback" not in done.err
    assert len(done.err.strip().splitlines()) == 1 and "THREAD_NOTE_DATABASE_URL" in done.err
