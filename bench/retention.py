"""Retention — the outbox and the thread tables after a year of traffic, simulated, with the retention job and
without it (the old code has none), side by side in one run; and whether anything was posted twice or an edit
of an old note of a still-open conversation was lost.

    .venv/bin/python -m bench.retention [--days 90] [--resources 2] [--conversations 2] [--notes 3]

The bot's notifier runs in this process (`run_once()`, and the job as `serve` schedules it: hourly on the
bot's clock, checked after each step), against the RingCentral emulator and the Slack stand-in in their own
processes, twice over the same traffic: once with the retention job (THREAD_NOTE_RETENTION_DAYS=30, the
default), once without. Each simulated day, in four steps of six hours (both clocks move; the emulator
resolves a conversation 72 hours after its last message, as RingCentral does), for each of `--resources` call
queues: `--conversations` customers text for the first time and Ana writes `--notes` notes in each new
conversation; one long conversation per queue stays open all year (its customer texts every day) and gets a
note a day, and Ana edits its note from 31 days before, which must change that note's Slack message in place.
After each step the bot polls and posts until nothing waits. Rows are counted per table at the end of chosen
days; at the end, every note's Slack messages are counted (more than one: posted twice) and the edited notes'
messages checked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
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
    table,
    write_result,
)
from bench.footprint import table_sizes

STEP_HOURS = 6
RETENTION_DAYS = 30
REPORT_DAYS = (1, 7, 30, 31, 45, 60, 90, 120, 180, 270, 365)


class Traffic:
    """Customers texting and Ana writing through the emulator's API (her session renewed as it expires)."""

    def __init__(self, rc: RcControl, resources: list[str]) -> None:
        self.rc = rc
        self.resources = resources
        self.ana: httpx.Client = rc.handler("Ana Alvarez")
        self.guests = 0
        self.long: dict[str, str] = {}  # resource -> its long conversation's thread id
        self.long_notes: list[tuple[float, str, str]] = []  # (day, note id, text) in the long conversations
        self.edited: dict[str, str] = {}  # note id -> its latest text

    def text(self, resource: str, guest: str) -> str:
        body = {"resourceId": resource, "guestNumber": guest, "text": "Hello, any news?"}
        response = self.rc.http.post("/sandbox/threads", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def _api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = self.ana.request(method, path, **kw)
        if response.status_code == 401:  # her hour-long token expired on the moved clock
            self.ana.close()
            self.ana = self.rc.handler("Ana Alvarez")
            response = self.ana.request(method, path, **kw)
        response.raise_for_status()
        return response

    def note(self, thread: str, text: str) -> str:
        return str(self._api("POST", f"{MT}/notes", json={"threadId": thread, "text": text}).json()["id"])

    def day(self, day: int, step: int, conversations: int, notes: int) -> None:
        for n, resource in enumerate(self.resources):
            guest = f"+1650555{n:02d}00"
            if resource not in self.long:
                self.long[resource] = self.text(resource, guest)
            if step == 0:  # the long conversation: the customer texts daily, Ana notes daily
                self.text(resource, guest)
                text = f"day {day}: still waiting for the part"
                self.long_notes.append((day, self.note(self.long[resource], text), text))
            if step == 1:
                for _ in range(conversations):
                    self.guests += 1
                    thread = self.text(resource, f"+1415{self.guests:07d}")
                    for k in range(notes):
                        self.note(thread, f"day {day}: note {k + 1} of a short conversation")
        if step == 2:  # a late edit: last month's note of each long conversation
            for noted, note_id, text in self.long_notes:
                if noted == day - RETENTION_DAYS - 1:
                    self._api("PATCH", f"{MT}/notes/{note_id}", json={"text": text + " (part arrived)"})
                    self.edited[note_id] = text + " (part arrived)"

    def close(self) -> None:
        self.ana.close()


async def deliver(bot: Notifying) -> None:
    """Poll, then post until nothing waits (the stand-in's limits are off; the pacing is 100 a second)."""
    await bot.notifier.run_once(send_seconds=1.0)
    deadline = time.monotonic() + 120
    while sum((await bot.store.outbox_depths()).values()) and time.monotonic() < deadline:
        await bot.notifier.send(max_seconds=1.0)


async def one_run(args: argparse.Namespace, retention: bool) -> JSON:
    resources = extra_resources(args.resources)
    rc_proc, slack_proc = start_rc(big_seed(args.resources, threads_per_resource=0)), start_slack()
    rc, slack = RcControl(rc_proc.url), SlackControl(slack_proc.url)
    # A year in wall-clock minutes: RingCentral's limits and an hour-long token would pace it by wall time
    # (each step moves six hours, so every step would sign in again, and the Auth group allows 5 a minute).
    rc.config(
        rateLimits={"Medium": {"limit": 1_000_000, "window": 60, "penalty": 60}},
        accessTokenTtl=400 * 86400,
        refreshTokenTtl=400 * 86400,
    )
    channels = [slack.create_channel(f"bench-year-{i}") for i in range(args.resources)]
    traffic = Traffic(rc, resources)
    sizes: dict[int, dict[str, int]] = {}
    pruned: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="bench-year-") as tmp:
        bot = await Notifying.open(rc, slack, f"sqlite:///{Path(tmp) / 'year.db'}", channel_interval=0.01)
        try:
            team, creator = slack.ws["team_id"], slack.ws["users"]["alice"]
            for rid, channel in zip(resources, channels, strict=True):
                await bot.subscribe(team, channel, rid, creator)
            await bot.notifier.run_once()
            started = time.monotonic()
            for day in range(1, args.days + 1):
                for step in range(24 // STEP_HOURS):
                    bot.clock.advance(STEP_HOURS * 3600)
                    rc.advance(STEP_HOURS * 3600)
                    traffic.day(day, step, args.conversations, args.notes)
                    await deliver(bot)
                    if retention and bot.notifier.retention.due():
                        pruned.update(await bot.notifier.retention.run())
                if day in REPORT_DAYS or day == args.days:
                    sizes[day] = await table_sizes(bot)
                    print(f"  {'with' if retention else 'without'} retention, day {day}: {sizes[day]} "
                          f"({time.monotonic() - started:.0f} s)", flush=True)  # fmt: skip
            shown = messages_by_note(slack, channels)
            edits_followed = sum(
                1
                for note_id, text in traffic.edited.items()
                if len(shown.get(note_id, [])) == 1 and text in str(shown[note_id][0])
            )
        finally:
            traffic.close()
            await bot.close()
            rc.close()
            slack.close()
            rc_proc.stop()
            slack_proc.stop()
    return {
        "retention": retention,
        "rows_by_day": sizes,
        "pruned": dict(pruned),
        "notes_posted": len(shown),
        "posted_twice": sum(1 for found in shown.values() if len(found) > 1),
        "late_edits": len(traffic.edited),
        "late_edits_followed_in_place": edits_followed,
        "seconds": time.monotonic() - started,
    }


def messages_by_note(slack: SlackControl, channels: list[str]) -> dict[str, list[JSON]]:
    """Each note's Slack messages (top level and replies), by the note id in their metadata."""
    out: dict[str, list[JSON]] = {}
    every = [m for c in channels for top in slack.messages(c) for m in [top, *(top.get("replies") or [])]]
    for message in every:
        note_id = ((message.get("metadata") or {}).get("event_payload") or {}).get("note_id")
        if note_id:
            out.setdefault(str(note_id), []).append(message)
    return out


def report(runs: list[JSON]) -> None:
    without, with_ = (next(r for r in runs if r["retention"] is flag) for flag in (False, True))
    tables = list(next(iter(with_["rows_by_day"].values())))
    table(
        "Rows per table at the end of the day: without retention | with it (30 days)",
        ["day", *tables],
        [
            (day, *(f"{without['rows_by_day'][day][t]:,} | {with_['rows_by_day'][day][t]:,}" for t in tables))
            for day in with_["rows_by_day"]
        ],
    )
    table(
        "What was posted",
        ["run", "notes posted", "posted twice", "late edits", "followed in place", "rows pruned"],
        [
            ("without retention", r["notes_posted"], r["posted_twice"], r["late_edits"],
             r["late_edits_followed_in_place"], sum(r["pruned"].values()))
            if r is without
            else ("with retention", r["notes_posted"], r["posted_twice"], r["late_edits"],
                  r["late_edits_followed_in_place"], sum(r["pruned"].values()))
            for r in (without, with_)
        ],
    )  # fmt: skip


async def run(args: argparse.Namespace) -> JSON:
    runs = []
    for retention in (False, True):
        load = os.getloadavg()
        runs.append(await one_run(args, retention) | {"loadavg_before": [round(x, 2) for x in load]})
    report(runs)
    return {"days": args.days, "resources": args.resources, "retention_days": RETENTION_DAYS, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--resources", type=int, default=2)
    parser.add_argument("--conversations", type=int, default=2, help="new conversations a day per queue")
    parser.add_argument("--notes", type=int, default=3, help="notes in each new conversation")
    args = parser.parse_args(argv)
    quiet()
    load, started = os.getloadavg(), time.monotonic()
    figures = asyncio.run(run(args))
    write_result("retention" if args.days == 90 else f"retention-{args.days}d", figures, started=started,
                 load_before=load)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
