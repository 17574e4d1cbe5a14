"""Two `thread-note-bot serve` replicas on one PostgreSQL database split the work: a burst of notes across
many resources (one channel each) reaches Slack exactly once, each channel in order at ≈1 message/s, even
when one replica is SIGKILLed midway (its leases expire and the other finishes)."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.kit.bot import wait_for
from tests.kit.db import POSTGRES_ENV
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import Handler
from tests.scale.conftest import RESOURCES
from tests.scale.helpers import BotProcess, answers, base_env, command, fresh_postgres, pg, posted

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set"),
]

NOTES_PER_RESOURCE = 4
HOLDERS = "SELECT holder FROM leases WHERE name LIKE 'notify:channel:%' AND expires_at > now()"


def test_two_replicas_deliver_a_burst_exactly_once_and_the_survivor_of_a_sigkill_finishes_it(
    scale_rc: RcSandbox, slack_standin: SlackStandin, slack_request: SlackRequests, tmp_path: Path
) -> None:
    ana = Handler(scale_rc, "Ana Alvarez")
    replicas: list[BotProcess] = []
    ws = slack_standin.default
    with fresh_postgres() as database_url:
        env = base_env(scale_rc, slack_standin, database_url, Fernet.generate_key().decode())
        env["THREAD_NOTE_LEASE_TTL"] = "4"
        try:
            replicas += [
                BotProcess(env, tmp_path, "a", public=False),
                BotProcess(env, tmp_path, "b", public=False),
            ]
            channels = [f"q{i:02d}" for i in range(1, RESOURCES + 1)]
            for i, name in enumerate(channels):
                # private: a public channel asks for a confirmation first
                slack_standin.channel("create", name=name, members=["alice"], private=True)
                slack_request.app_url = replicas[i % 2].url  # listeners are stateless: any replica answers
                response, rid = command(slack_request, ws, f"subscribe Q{i + 1:02d}", channel=name)
                assert response.status_code == 200, response.text
                wait_for(
                    lambda rid=rid: "now receives" in answers(slack_standin, rid), 15.0, f"subscribe {name}"
                )
            time.sleep(2.5)  # subscriptions start from now: let a poll pass

            threads = {t["id"]: t for t in scale_rc_threads(scale_rc)}
            ids = []
            for round_ in range(NOTES_PER_RESOURCE):
                for thread_id in threads:
                    ids.append(ana.add(thread_id, f"burst {round_} on {thread_id[-4:]}")["id"])

            holders: set[str] = set()

            def delivered() -> int:
                rows = asyncio.run(pg(database_url, HOLDERS))
                holders.update(r["holder"] for r in rows)
                return sum(1 for note_id in ids if note_id in posted(slack_standin))

            wait_for(lambda: delivered() >= len(ids) // 4, 30.0, "the first quarter of the burst")
            victim = replicas[0]
            victim.kill()
            at_kill = delivered()
            assert at_kill < len(ids), "the kill should land in the middle of the burst"
            wait_for(lambda: delivered() == len(ids), 60.0, "every note of the burst")
            time.sleep(2.0)  # and nothing more arrives

            copies = posted(slack_standin)
            for note_id in ids:
                assert len(copies.get(note_id, [])) == 1, (note_id, copies.get(note_id))
            assert len(holders) == 2, f"both replicas should have held channels: {holders}"
            # Each channel: one Slack thread, its notes in order, ≈1 message/s even across the handover.
            for name in channels:
                cid = ws.channels[name]
                calls = [
                    c for c in slack_standin.calls("chat.postMessage") if c["args"].get("channel") == cid
                ]
                times = [c["time"] for c in calls if c.get("ok")]
                gaps = [b - a for a, b in itertools.pairwise(times)]
                assert all(g >= 0.8 for g in gaps), (name, gaps)
                assert len(slack_standin.messages(cid)) == 1, "one Slack thread per RingCentral thread"
            print(
                f"\nreplicas: {len(ids)} notes over {RESOURCES} channels, {at_kill} delivered before the kill"
            )
        finally:
            ana.close()
            for replica in replicas:
                replica.kill()


def scale_rc_threads(rc: RcSandbox) -> list[dict[str, Any]]:
    return list(httpx.get(f"{rc.url}/sandbox/state", timeout=10).json()["threads"])
