"""Single-use sync tokens and a crash: the bot is killed (SIGKILL) after RingCentral answered a sync but
before the outbox committed it. The token it kept was spent, so the restarted bot's ISync is refused; it
falls back to a full sync plus reconciliation, and every note (and the deletion) the dead process had
received is in Slack exactly once. The bot runs as a real `thread-note-bot serve` subprocess."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.kit.bot import wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, Handler, shown, with_note
from tests.notify.test_crash_restart import (  # noqa: F401 - bot_env is a fixture
    BotProcess,
    bot_env,
    subscribed_bot,
)

THREAD_ROUTE = "/restapi/v1.0/account/{accountId}/message-threads/{threadId}"
SYNC_ROUTE = "GET /restapi/v1.0/account/{accountId}/message-threads/entries/sync"


def _held(rc: RcSandbox) -> bool:
    faults = httpx.get(f"{rc.url}/sandbox/faults", timeout=10).json()["faults"]
    return any(f["kind"] == "hold" and f["hits"] for f in faults)


@pytest.mark.parametrize("sandbox_profile", ["single-use-sync-token", "strict"], indirect=True)
def test_sigkill_between_a_single_use_sync_answer_and_the_commit_loses_and_repeats_nothing(
    bot_env: dict[str, str],  # noqa: F811 - the fixture imported above
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    tmp_path: Path,
) -> None:
    processes: list[BotProcess] = []
    ana = Handler(rc_sandbox, "Ana Alvarez")
    try:
        first = subscribed_bot(bot_env, tmp_path, slack_request, slack_standin)
        processes.append(first)
        early = ana.add(SUPPORT_THREAD, "posted before the crash")
        wait_for(lambda: with_note(slack_standin, "handoffs", early["id"]), 10.0, "the first note")
        # A thread the bot has never looked up: routing its note needs a lookup, which is held.
        fresh = rc_admin.new_thread(rc_sandbox.resource("Support"), "+14155550777", "Is my order shipped?")
        time.sleep(1.5)
        rc_admin.fault("hold", path=THREAD_ROUTE, method="GET")
        rc_admin.reset_requests()
        late = ana.add(fresh["id"], "written just before the crash")
        ana.delete(early["id"])
        wait_for(lambda: _held(rc_sandbox), 10.0, "the sync answered and its thread lookup held")
        first.kill()  # the answer was received, its token spent, nothing of it committed
        rc_admin.clear_faults()
        with sqlite3.connect(tmp_path / "bot.db") as db:  # the dead holder's lease, as the clock would
            db.execute("UPDATE leases SET expires_at = '2000-01-01 00:00:00.000000'")

        second = BotProcess(bot_env, tmp_path, "second")
        processes.append(second)
        wait_for(lambda: with_note(slack_standin, "handoffs", late["id"]), 30.0, "the note the dead one had")

        def struck() -> bool:
            found = with_note(slack_standin, "handoffs", early["id"])
            return bool(found) and "(deleted)" in shown(found[0])

        wait_for(struck, 45.0, "the deletion the dead one had")
        time.sleep(2)  # and nothing more arrives
        assert "400" in rc_admin.requests()["byRouteAndStatus"][SYNC_ROUTE], "the spent token was refused"
        for note in (early, late):
            assert len(with_note(slack_standin, "handoffs", note["id"])) == 1, note["id"]
    finally:
        ana.close()
        for process in processes:
            process.kill()
