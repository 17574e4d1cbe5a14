"""`thread-note-bot copy-db`: from the SQLite file a team started on to PostgreSQL, and the bot carries on
where it left off: the connected person stays connected, the subscription keeps its Slack thread (a new note
on a conversation that already has a thread goes into that thread, not a second one)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.servers import BackgroundServer
from bot.web import create_web_app
from tests.kit.bot import RunningBot, make_settings, wait_for
from tests.kit.db import POSTGRES_ENV
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, Handler, with_note
from tests.scale.helpers import fresh_postgres

REPO = Path(__file__).resolve().parents[2]
KEY = Fernet.generate_key().decode()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards)."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set (CI sets it)")
    with fresh_postgres() as url:
        yield url


def copy_db(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "copy-db", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Bot:
    """The bot on `database_url`, always with the same secret key (the key moves with the data)."""

    def __init__(
        self, rc: RcSandbox, rc_admin: RcAdmin, slack: SlackStandin, requests: SlackRequests
    ) -> None:
        self.rc, self.rc_admin, self.slack, self.requests = rc, rc_admin, slack, requests

    def start(self, database_url: str) -> tuple[BackgroundServer, RunningBot]:
        server = BackgroundServer()
        settings = make_settings(
            slack=self.slack, rc=self.rc, database_url=database_url, public_url=server.url,
            THREAD_NOTE_SECRET_KEY=KEY,
        )  # fmt: skip
        server.app = create_web_app(settings)
        server.start(timeout=30)
        self.requests.app_url = server.url
        running = RunningBot(
            server.url, settings, self.slack, self.rc, self.requests, database_url, self.rc_admin
        )
        return server, running


@pytest.mark.postgres
def test_copy_db_moves_sqlite_to_postgres_and_the_bot_picks_up_where_it_left_off(
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'bot.db'}"
    bots = Bot(rc_sandbox, rc_admin, slack_standin, slack_request)
    ana = Handler(rc_sandbox, "Ana Alvarez")
    try:
        server, bot = bots.start(sqlite_url)
        try:
            bot.connect("alice", "Ana Alvarez")
            bot.command("subscribe Support", channel="handoffs")
            time.sleep(1.5)  # a subscription starts from now: let one poll pass
            first = ana.add(SUPPORT_THREAD, "Handoff before the move")
            wait_for(lambda: with_note(slack_standin, "handoffs", first["id"]), 10, "the first note in Slack")
        finally:
            server.stop()
        threads_before = slack_standin.messages(slack_standin.channel_id("handoffs"))
        assert len(threads_before) == 1

        done = copy_db("--from", sqlite_url, "--to", postgres_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "copied rc_links: 1 row(s)" in done.stdout and "copied slack_threads: 1 row(s)" in done.stdout
        assert "verified: every table has as many rows" in done.stdout

        again = copy_db("--from", sqlite_url, "--to", postgres_url)
        assert again.returncode == 1 and "Traceback" not in again.stderr
        assert "--to already holds data" in again.stderr and "--force" in again.stderr
        forced = copy_db("--from", sqlite_url, "--to", postgres_url, "--force")
        assert forced.returncode == 0, forced.stdout + forced.stderr

        server, bot = bots.start(postgres_url)
        try:
            listing = bot.command(
                f"list {SUPPORT_THREAD}", user="alice"
            )  # still connected: no connect prompt
            assert "Handoff before the move" in listing.text, listing.text
            second = ana.add(SUPPORT_THREAD, "Handoff after the move")
            found = wait_for(lambda: with_note(slack_standin, "handoffs", second["id"]), 10, "the note after")
            assert found[0].get("thread_ts") == threads_before[0]["ts"], "not in the conversation's thread"
            threads_after = slack_standin.messages(slack_standin.channel_id("handoffs"))
            assert [m["ts"] for m in threads_after] == [threads_before[0]["ts"]], "a second thread was opened"
            # a new row gets a fresh id (the PostgreSQL sequences were moved past the copied ids)
            added = bot.command("subscribe Sales", channel="handoffs")
            assert "now receives" in added.text and "went wrong" not in added.text, added.text
        finally:
            server.stop()
    finally:
        ana.close()


def test_copy_db_refuses_bad_urls_and_the_same_database_in_one_line(tmp_path: Path) -> None:
    same = f"sqlite:///{tmp_path / 'a.db'}"
    sqlite3.connect(tmp_path / "a.db").close()  # an (empty) SQLite file to copy from
    cases = {
        ("--from", same, "--to", same): "same database",
        ("--from", "mysql://x@h/db", "--to", same): "--from",
        ("--from", same, "--to", "sqlite://"): "--to: an in-memory SQLite database",
        ("--from", f"sqlite:///{tmp_path / 'missing.db'}", "--to", same): "--from: there is no SQLite file",
        ("--from", same, "--to", f"sqlite:///{tmp_path / 'missing' / 'a.db'}"): "--to: cannot reach",
        ("--from", same, "--to", "postgresql://nobody@127.0.0.1:1/x"): "--to: cannot reach the database at",
    }
    for args, said in cases.items():
        done = copy_db(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and "THREAD_NOTE_DATABASE_URL" not in done.stderr
    assert not (tmp_path / "missing.db").exists(), "a mistyped --from is not created"
