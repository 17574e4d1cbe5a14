"""A change feed that keeps failing is never silent: `/healthz`, `/metrics`, `/thread-note status` and
`thread-note-bot check` say so, the subscription's creator is told once (and once when it recovers), and
nothing written meanwhile is lost. The bot runs for real against the stand-ins."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

from tests.check.test_check import BAD, check, marked, settings_env
from tests.kit.bot import RunningBot, texts, wait_for
from tests.notify.helpers import SUPPORT_THREAD, Handler, with_note

SYNC_PATH = "/restapi/v1.0/account/~/message-threads/entries/sync"


def _health(bot: RunningBot) -> dict[str, Any]:
    health = bot.health()
    assert health["ok"] is True, "a failing feed is reported, the process is not declared dead"
    return health


def _metric(bot: RunningBot, name: str) -> float:
    body = bot.metrics()
    return float(
        next(x for x in body.splitlines() if x.startswith(name + '{account="deployment"} ')).split()[-1]
    )


def _feed_dms(bot: RunningBot) -> list[str]:
    return [t for t in (texts(c["args"]) for c in bot.dms("alice")) if "RingCentral's changes" in t]


def test_a_failing_feed_shows_everywhere_tells_the_creator_once_and_loses_nothing(
    bot: RunningBot, tmp_path: Path
) -> None:
    ana = Handler(bot.rc, "Ana Alvarez")
    try:
        bot.connect("alice", "Ana Alvarez")
        bot.command("subscribe Support", channel="handoffs")
        time.sleep(1.5)  # starts from now: one poll
        assert _health(bot)["feed"] == "ok"

        bot.rc_admin.fault("status", path=SYNC_PATH, status=500, retry_after=0)
        during = ana.add(SUPPORT_THREAD, "written while RingCentral's feed fails")
        wait_for(lambda: "failing since" in _health(bot)["feed"], 20, "/healthz to say the feed fails")
        assert _health(bot)["ok"] is True
        # Scrapes read the store at most every few seconds: the figures are waited for.
        wait_for(lambda: _metric(bot, "thread_note_feed_failing") == 1.0, 10, "thread_note_feed_failing 1")
        assert _metric(bot, "thread_note_feed_consecutive_failures") >= 3
        assert "failing since" in bot.command("status", channel="handoffs").text
        code, lines = check(settings_env(bot), tmp_path)
        assert code == 1 and any("Change feed: failing since" in line for line in marked(lines, BAD)), lines
        wait_for(lambda: _feed_dms(bot), 10, "the creator's DM")
        time.sleep(3)  # more failed polls: no more DMs
        assert len(_feed_dms(bot)) == 1 and "cannot read" in _feed_dms(bot)[0]

        bot.rc_admin.clear_faults()
        wait_for(partial(with_note, bot.slack, "handoffs", during["id"]), 60, "the note written meanwhile")
        wait_for(lambda: _health(bot)["feed"] == "ok", 10, "/healthz to say the feed works")
        wait_for(lambda: _metric(bot, "thread_note_feed_failing") == 0.0, 10, "thread_note_feed_failing 0")
        wait_for(
            lambda: len(_feed_dms(bot)) == 2,
            60,
            "the recovery DM (after reconciliation, within the Medium budget)",
        )
        assert "again" in _feed_dms(bot)[1]
        time.sleep(2)
        assert len(with_note(bot.slack, "handoffs", during["id"])) == 1
        assert len(_feed_dms(bot)) == 2
    finally:
        ana.close()


def test_unknown_sync_records_are_counted_in_metrics(bot: RunningBot) -> None:
    ana = Handler(bot.rc, "Ana Alvarez")
    try:
        bot.connect("alice", "Ana Alvarez")
        bot.command("subscribe Support", channel="handoffs")
        time.sleep(1.5)
        note = ana.add(SUPPORT_THREAD, "counted beside unknown records")
        wait_for(partial(with_note, bot.slack, "handoffs", note["id"]), 10, "the note")
    finally:
        ana.close()
    body = bot.metrics()
    if bot.rc.settings.profile.sync_unknown_records:
        assert 'thread_note_sync_records_skipped_total{reason="unknown_type"}' in body
        assert 'thread_note_sync_records_skipped_total{reason="system_entry"}' in body
    assert len(with_note(bot.slack, "handoffs", note["id"])) == 1
