"""What the RingCentral-side figures share (poll cost, recovery, new conversations, poll interval): a world of
N subscribed call queues, the bot's notifier driven in this process, and the requests counted where they land.

Requests are counted by the emulator, as a proxy in front of RingCentral would count them: every request that
reached it (the REST API and OAuth's token endpoint, 429s and retries included; its control routes are not
counted), by route. Nothing is read from the bot's own counters.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench._kit import (
    JSON,
    MT,
    Notifying,
    RcControl,
    SlackControl,
    big_seed,
    extra_resources,
    quiet,
    start_rc,
    start_slack,
    write_result,
)

LIFTED = {"Medium": {"limit": 1_000_000, "window": 60, "penalty": 60}}  # counting, not pacing
REAL_MEDIUM = {"Medium": {"limit": 40, "window": 60, "penalty": 60}}  # RingCentral's default (NOTES.md §3)

# Route templates as the emulator logs them ("METHOD template"), grouped the way the figures read them.
KINDS = {
    "sync": "GET /restapi/v1.0/account/{accountId}/message-threads/entries/sync",
    "thread_get": "GET /restapi/v1.0/account/{accountId}/message-threads/{threadId}",
    "threads_list": "GET /restapi/v1.0/account/{accountId}/message-threads",
    "notes_list": "GET /restapi/v1.0/account/{accountId}/message-threads/notes",
    "oauth": "POST /restapi/oauth/token",
}


@dataclass(frozen=True)
class Count:
    """Requests that reached the emulator since the last reset."""

    total: int  # everything: REST API and OAuth
    by_kind: dict[str, int]

    @property
    def thread_lookups(self) -> int:
        return self.by_kind.get("thread_get", 0) + self.by_kind.get("threads_list", 0)

    def to_json(self) -> JSON:
        return {"total": self.total, **self.by_kind}


def count(rc: RcControl) -> Count:
    by_route: dict[str, int] = rc.requests()["byRoute"]
    names = {route: kind for kind, route in KINDS.items()}
    by_kind: dict[str, int] = {}
    for route, n in by_route.items():
        kind = names.get(route, "other")
        by_kind[kind] = by_kind.get(kind, 0) + n
    return Count(sum(by_route.values()), by_kind)


@dataclass
class FeedWorld:
    rc: RcControl
    slack: SlackControl
    bot: Notifying
    resources: list[str]
    channels: list[str]
    ana: httpx.Client

    def moved(self, seconds: float) -> None:
        """Both clocks (the bot's and the emulator's) `seconds` forward: a compressed poll interval."""
        self.bot.clock.advance(seconds)
        self.rc.advance(seconds)

    def write(self, thread_id: str, text: str) -> JSON:
        """Ana writes a note (signing in again when her hour-long token expired on the moved clock)."""
        response = self.ana.post(f"{MT}/notes", json={"threadId": thread_id, "text": text})
        if response.status_code == 401:
            self.ana.close()
            self.ana = self.rc.handler("Ana Alvarez")
            response = self.ana.post(f"{MT}/notes", json={"threadId": thread_id, "text": text})
        response.raise_for_status()
        body: JSON = response.json()
        return body

    def delete(self, note_id: str) -> None:
        self.ana.request("DELETE", f"{MT}/notes", json={"ids": [note_id]}).raise_for_status()

    def resolve(self, thread_id: str) -> None:
        self.ana.post(f"{MT}/{thread_id}/resolve").raise_for_status()

    def new_conversation(self, resource_id: str, guest: str) -> str:
        """A customer texts a shared number: a new thread (an inbound SMS, by an emulator control route)."""
        response = self.rc.http.post(
            "/sandbox/threads", json={"resourceId": resource_id, "guestNumber": guest}
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def posted(self, note_ids: set[str]) -> set[str]:
        """Which of `note_ids` have a message in any of the world's channels (by the message's metadata)."""
        seen: set[str] = set()
        for channel in set(self.channels):
            for message in self.slack.messages(channel):
                for m in [message, *(message.get("replies") or [])]:
                    payload = (m.get("metadata") or {}).get("event_payload") or {}
                    if payload.get("note_id") in note_ids:
                        seen.add(str(payload["note_id"]))
        return seen

    def struck(self, note_id: str) -> bool:
        for channel in set(self.channels):
            for message in self.slack.messages(channel):
                for m in [message, *(message.get("replies") or [])]:
                    payload = (m.get("metadata") or {}).get("event_payload") or {}
                    if payload.get("note_id") == note_id and "(deleted)" in str(m.get("text", "")) + str(
                        m.get("blocks", "")
                    ):
                        return True
        return False

    async def reconciled_since(self, when: datetime) -> bool:
        """Every subscribed resource reconciled at or after `when` (the store's record, both designs)."""
        states = await self.bot.store.feed_resource_states(account="")
        return all(
            rid in states
            and states[rid].last_reconciled_at is not None
            and states[rid].last_reconciled_at >= when
            for rid in self.resources
        )


@asynccontextmanager
async def feed_world(
    size: int,
    *,
    limits: dict[str, Any] | None = None,
    channels: int = 20,
    poll_interval: float = 30.0,
    channel_interval: float = 0.0,
    threads_per_resource: int = 2,
) -> AsyncIterator[FeedWorld]:
    """A fresh emulator (the demo seed plus `size` call queues with `threads_per_resource` threads each, one
    with an old note) and Slack stand-in, each in its own process; the bot's notifier in this one, with every
    queue subscribed (round robin over `channels` channels). `limits`: the emulator's rate limits (default:
    Medium lifted, so that counts are not hidden by pacing)."""
    seed = big_seed(size, threads_per_resource=threads_per_resource, notes_per_thread=1)
    rc_proc, slack_proc = start_rc(seed), start_slack()
    rc, slack = RcControl(rc_proc.url), SlackControl(slack_proc.url)
    try:
        rc.config(rateLimits=limits or LIFTED)
        names = [slack.create_channel(f"bench-feed-{i}") for i in range(min(channels, max(size, 1)))]
        with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
            bot = await Notifying.open(
                rc,
                slack,
                f"sqlite:///{Path(tmp) / 'feed.db'}",
                poll_interval=poll_interval,
                channel_interval=channel_interval,
            )
            ana = rc.handler("Ana Alvarez")
            world = FeedWorld(rc, slack, bot, extra_resources(size), [], ana)
            try:
                creator = slack.ws["users"]["alice"]
                for i, rid in enumerate(world.resources):
                    channel = names[i % len(names)]
                    world.channels.append(channel)
                    await bot.subscribe(slack.ws["team_id"], channel, rid, creator)
                yield world
            finally:
                world.ana.close()
                await bot.close()
    finally:
        rc.close()
        slack.close()
        rc_proc.stop()
        slack_proc.stop()


def batches(resources: int, per: int = 10) -> int:
    return math.ceil(resources / per)


def parser_for(doc: str | None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def measure(name: str, run: Callable[[argparse.Namespace], Awaitable[JSON]], args: argparse.Namespace) -> int:
    """Run a figure and write `bench/results/<name>.json` (the machine, the command, the load before)."""
    quiet()
    load, started = os.getloadavg(), time.monotonic()
    figures = asyncio.run(run(args))
    write_result(name, figures, started=started, load_before=load)
    return 0
