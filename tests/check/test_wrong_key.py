"""A wrong THREAD_NOTE_SECRET_KEY at run time (a restore, replicas on different keys): the person is asked to
connect again in one sentence, the admin sees the alarm in status and /metrics, and `reencrypt` says what to
do in one line."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.store import Store, Tokens
from tests.check.helpers import run_cli, store_a_link
from tests.kit.bot import RunningBot


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


def undecryptable_gauge(bot: RunningBot) -> float:
    text = httpx.get(f"{bot.url}/metrics", timeout=10).text
    found = re.search(r"^thread_note_undecryptable_secrets (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def test_a_person_whose_link_cannot_be_decrypted_is_asked_to_connect_again(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    assert undecryptable_gauge(bot) == 0
    save_link_under_another_key(bot, "alice")
    replies = bot.command("list +14155550142")
    assert "can't be read any more" in replies.text and "connect your account again" in replies.text
    assert "Something went wrong" not in replies.text
    assert replies.button("connect_open")["url"].startswith(bot.rc.url)
    assert undecryptable_gauge(bot) == 2  # the access and the refresh token
    status = bot.command("status").text
    assert re.search(r"ALARM: 2 of \d+ can't be decrypted with THREAD_NOTE_SECRET_KEY", status), status
    bot.connect("alice", "Ana Alvarez")  # connecting again replaces the link: the alarm clears
    assert undecryptable_gauge(bot) == 0
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
