"""Real time: with THREAD_NOTE_PUBLIC_URL set, the bot subscribes to RingCentral's thread-entries webhook
and polls as soon as a verified delivery arrives. Measured side by side in one run against a polling-only
bot (same poll interval, own workspace): the time from a note's creation in the emulator to its post in the
stand-in. A delivery with a wrong or missing Verification-Token is refused (403) and triggers nothing."""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from tests.kit.bot import wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo
from tests.notify.helpers import Handler
from tests.scale.conftest import RESOURCES
from tests.scale.helpers import BotProcess, answers, base_env, command, percentile, posted

POLL_INTERVAL = "5"
NOTES = 40
SPACING = 0.5  # seconds between notes; each channel gets one every RESOURCES * SPACING s (no pacing queue)


def figures(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds):.2f} s, p99 {percentile(seconds, 0.99):.2f} s"


def kv(db: Path, name: str) -> tuple[Any, Any] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value, secret_value FROM kv_state WHERE name = ?", (name,)).fetchone()
    return None if row is None else (row[0], row[1])


def subscribe_all(requests: SlackRequests, ws: WorkspaceInfo, standin: SlackStandin) -> None:
    for i in range(1, RESOURCES + 1):
        name = f"q{i:02d}"
        standin.channel("create", name=name, members=["alice"], private=True, team_id=ws.team_id)
        response, rid = command(requests, ws, f"subscribe Q{i:02d}", channel=name)
        assert response.status_code == 200, response.text
        wait_for(lambda rid=rid: "now receives" in answers(standin, rid), 15.0, f"subscribe {name}")


def test_webhook_brings_notes_in_about_a_second_and_a_wrong_verification_token_is_refused(
    scale_rc: RcSandbox, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    ana = Handler(scale_rc, "Ana Alvarez")
    w1 = slack_standin.default
    w2 = slack_standin.add_workspace("Polling only")
    bots: list[BotProcess] = []
    try:
        key = Fernet.generate_key().decode()
        env1 = base_env(scale_rc, slack_standin, f"sqlite:///{tmp_path / 'hook.db'}", key)
        env1["THREAD_NOTE_POLL_INTERVAL"] = POLL_INTERVAL
        env2 = {**env1, "THREAD_NOTE_DATABASE_URL": f"sqlite:///{tmp_path / 'poll.db'}",
                "SLACK_BOT_TOKEN": w2.bot_token, "SLACK_SIGNING_SECRET": w2.signing_secret}  # fmt: skip
        hook = BotProcess(env1, tmp_path, "hook", public=True)
        bots.append(hook)
        poll = BotProcess(env2, tmp_path, "poll", public=False)
        bots.append(poll)
        subscribe_all(SlackRequests(slack_standin, app_url=hook.url), w1, slack_standin)
        subscribe_all(
            SlackRequests(slack_standin, app_url=poll.url, signing_secret=w2.signing_secret),
            w2,
            slack_standin,
        )
        wait_for(lambda: kv(tmp_path / "hook.db", "notify:webhook"), 20.0, "the webhook subscription")
        assert kv(tmp_path / "poll.db", "notify:webhook") is None, "no public URL: no webhook"
        time.sleep(float(POLL_INTERVAL) + 1)  # subscriptions start from now: let both poll once

        threads = [t["id"] for t in httpx.get(f"{scale_rc.url}/sandbox/state", timeout=10).json()["threads"]]
        created: dict[str, float] = {}
        for n in range(NOTES):
            started = time.time()
            created[ana.add(threads[n % len(threads)], f"latency probe {n}")["id"]] = started
            time.sleep(SPACING)

        def both_done() -> bool:
            a, b = posted(slack_standin, w1.team_id), posted(slack_standin, w2.team_id)
            return all(i in a and i in b for i in created)

        wait_for(both_done, 30.0, "every probe in both workspaces")
        by_hook, by_poll = posted(slack_standin, w1.team_id), posted(slack_standin, w2.team_id)
        hook_s = [by_hook[i][0]["time"] - t for i, t in created.items()]
        poll_s = [by_poll[i][0]["time"] - t for i, t in created.items()]
        assert all(len(by_hook[i]) == 1 and len(by_poll[i]) == 1 for i in created)
        report = (
            f"\nnote created → posted in Slack, {NOTES} notes over {RESOURCES} channels, "
            f"poll interval {POLL_INTERVAL} s:\n  webhook + polling: {figures(hook_s)}\n"
            f"  polling only:      {figures(poll_s)}"
        )
        print(report)
        (tmp_path.parent / "latency.txt").write_text(report)
        assert statistics.median(hook_s) < 1.5, report
        assert statistics.median(hook_s) < statistics.median(poll_s), report

        # Forged deliveries: refused, and no poll is asked for.
        time.sleep(1.0)
        before = kv(tmp_path / "hook.db", "notify:poke")
        envelope = {"uuid": "x", "event": "/restapi/v1.0/account/1/message-threads/entries/sync",
                    "body": {"lastModifiedTime": "2026-01-01T00:00:00Z"}}  # fmt: skip
        for token in ({"Verification-Token": "not-the-token"}, {}):
            headers = {"Content-Type": "application/json", **token}
            forged = httpx.post(
                f"{hook.url}/ringcentral/webhook", content=json.dumps(envelope), headers=headers, timeout=5
            )
            assert forged.status_code == 403
        time.sleep(0.5)
        assert kv(tmp_path / "hook.db", "notify:poke") == before, "a refused delivery must not trigger a poll"
        handshake = httpx.post(
            f"{hook.url}/ringcentral/webhook", headers={"Validation-Token": "abc"}, timeout=5
        )
        assert handshake.status_code == 200 and handshake.headers["Validation-Token"] == "abc"
    finally:
        ana.close()
        for bot in bots:
            bot.kill()
