"""Secrets: absent from the logs at every level, encrypted at rest, and THREAD_NOTE_SECRET_KEY rotation
(new key first, old key second) keeps every link working, through the real app.

The log test runs `thread-note-bot serve` with LOG_LEVEL=DEBUG (the production path: every library's
records go through the bot's one redacting renderer) through a whole connect → add → token refresh →
channel notification run, then searches its output for every secret it handled.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet, MultiFernet

from bot.demo import click_link
from tests.kit.bot import RunningBot, texts, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, Handler, with_note
from tests.notify.test_crash_restart import REPO, BotProcess, bot_env  # noqa: F401 - bot_env is a fixture
from tests.reliability.conftest import BotFactory, stop

ANA = "Ana Alvarez"


def _link_tokens(database: Path, keys: list[str]) -> list[str]:
    """The access and refresh tokens of every link, decrypted with `keys`."""
    cipher = MultiFernet([Fernet(k.encode()) for k in keys])
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT access_token, refresh_token FROM rc_links").fetchall()
    out = []
    for row in rows:
        for value in row:
            if value:
                raw = value.encode() if isinstance(value, str) else value
                out.append(cipher.decrypt(raw).decode())
    return out


@pytest.fixture
def ana(rc_sandbox: RcSandbox) -> Iterator[Handler]:
    handler = Handler(rc_sandbox, ANA)
    yield handler
    handler.close()


def test_no_secret_appears_in_the_debug_logs_of_a_whole_run(
    bot_env: dict[str, str],  # noqa: F811 - the fixture imported above
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    ana: Handler,
    tmp_path: Path,
) -> None:
    env = {**bot_env, "LOG_LEVEL": "DEBUG"}
    process = BotProcess(env, tmp_path, "debug")
    secrets: dict[str, str] = {}
    try:
        slack_request.app_url = process.url
        # connect: the authorization code and state pass through the bot's callback URL
        payload = slack_request.payloads.command("connect", user="alice")
        assert slack_request.send(slack_request.form(payload)).status_code == 200
        rid = payload["response_url"].rstrip("/").rsplit("/", 1)[-1]
        answer = wait_for(lambda: [r for r in slack_standin.responses() if r["id"] == rid], 10, "connect")
        url = str(next(e["url"] for e in _elements(answer) if e.get("action_id") == "connect_open"))
        ext = rc_sandbox.user(ANA).extension_id
        location = httpx.get(url + f"&sandbox_user={ext}", follow_redirects=False, timeout=10).headers[
            "location"
        ]
        query = parse_qs(urlsplit(location).query)
        secrets["oauth code"] = query["code"][0]
        secrets["oauth state"] = query["state"][0]
        page = httpx.get(f"{process.url}/ringcentral/oauth/callback?" + urlencode(
            {"code": query["code"][0], "state": query["state"][0]}), timeout=10)  # fmt: skip
        assert page.status_code == 200, page.text
        assert "Connected" in click_link(page).text  # the confirmation page's Link
        # add a note as the person, then again after the access token expired (a refresh)
        slack_request.command(f"add {SUPPORT_THREAD} Secret-free note one", user="alice")
        database = Path(env["THREAD_NOTE_DATABASE_URL"].removeprefix("sqlite:///"))
        wait_for(lambda: _link_tokens(database, [env["THREAD_NOTE_SECRET_KEY"]]), 10, "the link")
        first = _link_tokens(database, [env["THREAD_NOTE_SECRET_KEY"]])
        rc_admin.fault("expire_tokens", extension_id=ext)
        slack_request.command(f"add {SUPPORT_THREAD} Secret-free note two", user="alice")
        wait_for(lambda: _link_tokens(database, [env["THREAD_NOTE_SECRET_KEY"]]) != first, 10, "the refresh")
        for i, token in enumerate(first + _link_tokens(database, [env["THREAD_NOTE_SECRET_KEY"]])):
            secrets[f"person's token {i}"] = token
        # a channel notification (the service identity's JWT sign-in, Slack's bot token)
        slack_request.command("subscribe Support", user="alice", channel="handoffs")
        wait_for(lambda: "now receives" in str(slack_standin.responses()), 10, "the subscription")
        time.sleep(1.5)
        fresh = Handler(rc_sandbox, ANA)  # the expiry above ended this handler's token too
        note = fresh.add(SUPPORT_THREAD, "Secret-free notification")
        fresh.close()
        wait_for(lambda: with_note(slack_standin, "handoffs", note["id"]), 10, "the notification")
    finally:
        process.kill()
    secrets.update(
        {
            "Slack bot token": env["SLACK_BOT_TOKEN"],
            "Slack signing secret": env["SLACK_SIGNING_SECRET"],
            "RingCentral client secret": env["RINGCENTRAL_CLIENT_SECRET"],
            "RingCentral JWT": env["RINGCENTRAL_JWT"],
            "Fernet key": env["THREAD_NOTE_SECRET_KEY"],
        }
    )
    log = process.log.read_text()
    assert '"level": "debug"' in log, "the run did not log at DEBUG"
    leaked = [name for name, value in secrets.items() if value and value in log]
    assert not leaked, f"in the logs: {leaked}"


def _elements(answer: list[dict[str, object]]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(answer)
    return found


def test_rotating_the_secret_key_keeps_the_link_working_then_reencrypt_drops_the_old_key(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    database_url = f"sqlite:///{tmp_path / 'rotate.db'}"
    database = tmp_path / "rotate.db"

    first = make_bot(database_url=database_url, THREAD_NOTE_SECRET_KEY=key_a)
    first.connect("alice", ANA)
    assert "saved" in first.command(f"add {SUPPORT_THREAD} Written under key A").text.lower()
    stop(first)

    second = make_bot(database_url=database_url, THREAD_NOTE_SECRET_KEY=f"{key_b},{key_a}")
    assert "saved" in second.command(f"add {SUPPORT_THREAD} Written under keys B,A").text.lower()
    stop(second)

    done = subprocess.run(
        [sys.executable, "-m", "bot", "reencrypt"],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "THREAD_NOTE_DATABASE_URL": database_url,
            "THREAD_NOTE_SECRET_KEY": f"{key_b},{key_a}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "re-encrypted" in done.stdout
    with pytest.raises(Exception):  # noqa: B017 - nothing is readable with key A alone any more
        _link_tokens(database, [key_a])
    assert _link_tokens(database, [key_b])

    third = make_bot(database_url=database_url, THREAD_NOTE_SECRET_KEY=key_b)
    assert "saved" in third.command(f"add {SUPPORT_THREAD} Written under key B alone").text.lower()
    assert "Ana Alvarez" in texts(third.command("status").bodies) + json.dumps(third.command("status").ack)


def test_every_token_column_in_the_database_is_ciphertext(bot: RunningBot) -> None:
    bot.connect("alice", ANA)
    bot.command(f"add {SUPPORT_THREAD} Tokens at rest")
    path = Path(bot.database_url.removeprefix("sqlite:///"))
    plain = [bot.settings.slack_bot_token.get_secret_value() if bot.settings.slack_bot_token else ""]
    plain += _link_tokens(path, [bot.settings.secret_keys[0].get_secret_value()])
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for value in plain:
        assert value and value.encode() not in raw
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                if any(w in column for w in ("token", "secret", "verifier")):
                    for (value,) in db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"):
                        text = value.decode() if isinstance(value, bytes) else str(value)
                        assert text.startswith("gAAAAA"), f"{table}.{column} holds plain text"
