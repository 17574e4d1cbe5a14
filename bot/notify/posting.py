"""Posting into Slack exactly once: the one path every new message takes, and the Web API calls under it.

`Poster.post_once` is the whole crash-safe post, for notes and summaries alike:

1. **look up** — a row found *attempted* (a try began and its outcome is unknown) is first looked for by its
   metadata (`event_type` `thread_note`, the note id or summary key) and recorded if found;
2. **mark** — the row is marked attempted (committed) before posting;
3. **post** — `chat.postMessage` with that metadata;
4. **record** — the `ts` is recorded, the row finished, in one transaction (the caller's `record`).

A row is attempted after one of two things:

- **A crash** between "posted" and "recorded". The next process (after the dead one's channel lease expired)
  looks at once: a healthy Slack stores a post in well under a second, long before a restart is done.
- **A post whose answer never came** (a timeout, a reset connection, a 5xx): Slack may still be working on it,
  and a post that timed out may still land. That is `MaybePosted`: logged as a WARNING, and the row waits
  `UNANSWERED_SETTLE` before the lookup — never posted again at once. Two minutes: Slack answers
  `chat.postMessage` in well under a second when healthy; no answer within our client's 10 s timeout means it
  is slow or failing, and Slack documents no bound on how long it may keep a request it has; two minutes is
  twelve times our timeout and twice the 60 s at which HTTP front ends commonly cut a request. Under the 2025
  tier-1 limits a lookup costs a minute of budget anyway, so a shorter wait would buy little.

The lookup works under Slack's limits for apps distributed outside the Marketplace (changelog "Rate limit
changes for non-Marketplace apps", 2025-05-29: `conversations.history` and `conversations.replies` allow one
request a minute and return at most 15 messages a page):

- a **time window** around the attempt (`oldest`/`latest` from `attempted_at`, widened by `CLOCK_SKEW`
  between our clock and Slack's), so the pages to read do not grow with the channel or with the time since;
- **cursor paging** through the window (`conversations.replies` lists the oldest first: the post looked for
  is at the end of a long thread, never on a first page of 15);
- a **429 is waited out per workspace and method**: the row's channel waits (`Wait`), the cursor is kept for
  the next page, and every other channel goes on posting meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.notify import messages
from bot.notify.workspaces import SlackClients
from bot.store.outbox import OutboxRow
from bot.store.protocols import OutboxStore
from bot.store.subscriptions import Subscription

log = get_logger(__name__)

UNANSWERED_SETTLE = timedelta(
    minutes=2
)  # after a post whose answer never came, before the lookup (see above)
CLOCK_SKEW = timedelta(
    seconds=10
)  # our clock against Slack's (`ts`); hosts keep time by NTP to well under 1 s
LOOKUP_PAGE = 100  # asked for; Slack caps it (15 under tier 1) and the cursor reads on
NETWORK_ERRORS = (TimeoutError, OSError, aiohttp.ClientError)
WINDOW = 1.0  # seconds: Slack's per-channel limit is one message a second
MARK_LEAD = 0.1  # seconds before a post's slot that its mark is made (a write): kept short, because a
# process killed between the mark and the post leaves a row that must be looked up in Slack's history first
# (one call a minute under tier 1)
WORKSPACE_SIGNS = 3  # channels of one workspace limited at once that mean the workspace's own limit

Record = Callable[[str, bool], Awaitable[None]]  # (ts, repaired) → the delivery recorded with its row


class Wait(Exception):
    """The row cannot go yet: its channel waits (in order) until `until` (None: the next round)."""

    def __init__(self, why: str, until: datetime | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.until = until


class MaybePosted(Exception):
    """`chat.postMessage` got no answer (timeout, reset, 5xx): the message may have landed, or may still."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotPosted(Exception):
    """Slack answered the post with an error: nothing was posted (`error` is Slack's answer)."""

    def __init__(self, error: SlackApiError) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def ignore_gone() -> Iterator[None]:
    """`with ignore_gone(): await ...` — a message someone deleted (`message_not_found`) is already what an
    update or a deletion wanted it to be, or beyond changing: carry on."""
    try:
        yield
    except SlackApiError as exc:
        if exc.response.get("error") != "message_not_found":
            raise


class Pacer:
    """When each channel may next be posted to: ≈1 message/s per channel, longer after a 429.

    Two rules for a channel's next slot, both kept:

    - the *start* of its previous post plus the interval: the post's reads, its mark and the
      recording after it are not added to every period (they were, counted from the end of a whole round);
    - Slack's window: at most `burst` posts (one second's worth at this interval) per `WINDOW`, counted from
      the moment Slack *answered* the oldest of the last `burst`. Slack counts a post somewhere between our
      start and its answer; counted from the start alone, a post that reached Slack late followed by one
      that reached it early (a loaded host, a busy server) breaks a strict window and costs a 429, whose
      `Retry-After` is a whole second. At one message a second this is the old rule (from the answer),
      at a shorter interval (the benchmarks' scaled limits) the round trip is paid once per window.

    No margin on top of either: Slack took the post `burst` back no later than it answered it, and takes
    this one no earlier than we start it, so the second rule alone keeps a strict window; a margin would
    only cost its share of the bound (2 % for 20 ms a second; BENCHMARKS.md figure 3).

    Slack also keeps a workspace-wide limit on `chat.postMessage` (its rate-limits page names one without
    a number). A 429 on one channel blocks that channel only; 429s on `WORKSPACE_SIGNS` channels of a
    workspace within one `Retry-After` mean the workspace's limit: then the whole workspace waits, so the
    other channels do not each run into their own 429 (no storm). Not two: on a loaded host two channels
    now and then arrive a few milliseconds early within the same second, and a whole workspace waiting for
    that would cost every channel a second."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.window = max(WINDOW, interval)
        self.burst = max(1, round(self.window / interval)) if interval > 0 else 0
        self._clock = clock
        self._next: dict[str, float] = {}
        self._answers: dict[str, deque[float]] = {}  # channel → when Slack answered its last `burst` posts
        self._team_next: dict[str, float] = {}
        self._limited: dict[str, dict[str, float]] = {}  # team → channel → its 429's Retry-After ends

    def now(self) -> float:
        return self._clock()

    def wait(self, channel: str, team: str | None = None) -> float:
        until = self._next.get(channel, 0.0)
        if team is not None:
            until = max(until, self._team_next.get(team, 0.0))
        return max(0.0, until - self._clock())

    async def ready(self, channel: str, team: str | None = None, *, early: float = 0.0) -> None:
        """Wait until `channel` (and its workspace) may be posted to, or until `early` seconds before."""
        wait = self.wait(channel, team) - early
        while wait > 0:  # a 429 meanwhile may move the slot on
            await asyncio.sleep(wait)
            wait = self.wait(channel, team) - early

    def sent(self, channel: str, started: float | None = None) -> None:
        """A post to `channel` that began at `started` (our clock; now if not given) was answered now."""
        answered = self._clock()
        slot = (answered if started is None else started) + self.interval
        if self.burst:
            answers = self._answers.setdefault(channel, deque(maxlen=self.burst))
            answers.append(answered)
            if len(answers) == self.burst:
                slot = max(slot, answers[0] + self.window)
        self._next[channel] = max(self._next.get(channel, 0.0), slot)

    def block(self, channel: str, seconds: float) -> None:
        self._next[channel] = max(self._next.get(channel, 0.0), self._clock() + seconds)

    def limited(self, team: str, channel: str, seconds: float) -> bool:
        """A 429 with `Retry-After: seconds` on `channel`: block it. True when the workspace is limited
        (another of its channels is still waiting out a 429), and then block the whole workspace too."""
        now = self._clock()
        self.block(channel, seconds)
        recent = {c: t for c, t in self._limited.get(team, {}).items() if t > now}
        recent[channel] = now + seconds
        self._limited[team] = recent
        if len(recent) < WORKSPACE_SIGNS:
            return False
        self._team_next[team] = max(self._team_next.get(team, 0.0), max(recent.values()))
        return True


@dataclass
class _Paging:
    """Where a row's lookup stands while its channel waits for the history budget."""

    method: str
    cursor: str


class Poster:
    """The Web API calls of the sender (each with its workspace's token), and the exactly-once post."""

    def __init__(
        self,
        store: OutboxStore,
        clients: SlackClients,
        metrics: Metrics,
        pacer: Pacer,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self.clients = clients
        self._metrics = metrics
        self.pacer = pacer
        self._clock = clock
        self._budget: dict[tuple[str, str], datetime] = {}  # (team, method) → no history call before
        self._paging: dict[int, _Paging] = {}  # row id → the next page of its lookup

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # --- the exactly-once post ------------------------------------------------------------------------

    async def post_once(
        self,
        row: OutboxRow,
        sub: Subscription,
        *,
        kind: str,
        metadata: dict[str, Any],
        blocks: list[Any],
        text: str,
        record: Record,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> str:
        """Look up → mark → post → record; returns the message's `ts`. Raises `Wait` (the lookup must wait
        for its budget), `MaybePosted` (no answer: the caller waits before looking) or `NotPosted`."""
        key = str(metadata["event_payload"]["note_id"])
        if row.attempted_at is not None:
            found = await self.find_posted(row, sub, key, row.attempted_at, thread_ts)
            if found is not None:
                await record(found, True)
                self.delivered(kind, "repaired", sub, row.note_id, found)
                return found
        # The reads were done before the slot (the sender's `lead`); the mark is made only just before it, so
        # a crash seldom falls between a mark and its post (such a row costs a history lookup).
        await self.pacer.ready(sub.channel_id, sub.team_id, early=MARK_LEAD)
        if not await self._store.mark_attempt(row.id, seen=row):
            # Someone else (a replica that had the channel, the row read a moment ago) finished or tried it
            # since it was read: read it again before anything is posted.
            raise Wait("the row changed since it was read")
        await self.pacer.ready(sub.channel_id, sub.team_id)
        extra: dict[str, Any] = (
            {} if thread_ts is None else {"thread_ts": thread_ts, "reply_broadcast": broadcast}
        )
        started = self.pacer.now()
        try:
            response = await self.call(
                sub.team_id, "chat.postMessage", channel=sub.channel_id, blocks=blocks, text=text,
                metadata=metadata, **extra,
            )  # fmt: skip
        except SlackApiError as exc:
            if exc.response.status_code >= 500:
                raise MaybePosted(f"http {exc.response.status_code}") from exc
            raise NotPosted(exc) from exc
        except NETWORK_ERRORS as exc:
            raise MaybePosted(type(exc).__name__) from exc
        ts = str(response["ts"])
        self.pacer.sent(sub.channel_id, started)
        await record(ts, False)
        self.delivered(kind, "ok", sub, row.note_id, ts)
        return ts

    def delivered(self, kind: str, outcome: str, sub: Subscription, note_id: str, ts: str) -> None:
        """One INFO line and one count per delivered notification: ids only, never the note's text."""
        self._metrics.deliveries.labels(kind, outcome).inc()
        log.info(
            "sender.delivered", kind=kind, outcome=outcome, subscription_id=sub.id, team_id=sub.team_id,
            channel_id=sub.channel_id, note_id=note_id, ts=ts,
        )  # fmt: skip

    # --- the lookup -----------------------------------------------------------------------------------

    async def find_posted(
        self, row: OutboxRow, sub: Subscription, key: str, attempted: datetime, thread_ts: str | None
    ) -> str | None:
        """The `ts` of this subscription's message with metadata `key` posted by the try at `attempted`, if
        Slack has it: the replies of `thread_ts`, or the channel's top level. Paged through a window around
        the attempt; a 429 raises `Wait` and the next call reads on from the same page."""
        method = "conversations.history" if thread_ts is None else "conversations.replies"
        window: dict[str, Any] = {
            "channel": sub.channel_id,
            "oldest": _slack_ts(attempted - CLOCK_SKEW),
            "latest": _slack_ts(attempted + UNANSWERED_SETTLE + CLOCK_SKEW),
            "inclusive": True,
            "include_all_metadata": True,
            "limit": LOOKUP_PAGE,
        }
        if thread_ts is not None:
            window["ts"] = thread_ts
        paging = self._paging.pop(row.id, None)
        cursor = paging.cursor if paging is not None and paging.method == method else None
        while True:
            page = await self._history_page(row, sub, method, window, cursor)
            if page is None:
                return None  # the thread is gone, and our reply with it
            for message in page.get("messages") or []:
                if messages.matches(message, sub.id, key):
                    return str(message["ts"])
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None

    async def _history_page(
        self, row: OutboxRow, sub: Subscription, method: str, window: dict[str, Any], cursor: str | None
    ) -> Any:
        """One page of `method`, within the workspace's budget for it; None when the thread is not found."""
        now = self.now()
        budget = (sub.team_id, method)
        free_at = self._budget.get(budget)
        if free_at is not None and free_at > now:
            self._paging[row.id] = _Paging(method, cursor or "")
            raise Wait(f"{method}: waiting for Slack's rate limit", free_at)
        args = dict(window, cursor=cursor) if cursor else window
        try:
            return await self.call(sub.team_id, method, **args)
        except SlackApiError as exc:
            if exc.response.status_code == 429 or exc.response.get("error") == "ratelimited":
                until = now + timedelta(seconds=retry_after(exc))
                self._budget[budget] = until
                self._paging[row.id] = _Paging(method, cursor or "")
                self._metrics.slack_rate_limited.labels("history").inc()
                log.info(
                    "sender.history_ratelimited", team_id=sub.team_id, method=method, until=until.isoformat()
                )
                raise Wait(f"{method}: rate limited", until) from exc
            if exc.response.get("error") == "thread_not_found":
                return None
            raise

    # --- one Web API call -----------------------------------------------------------------------------

    async def call(self, team_id: str, method: str, **kwargs: Any) -> Any:
        """One Web API call with the bot token of the subscription's own workspace. A timeout is logged as a
        WARNING (and raised): the caller decides what it means."""
        slack = await self.clients.for_team(team_id)
        if "blocks" in kwargs:
            kwargs["blocks"] = messages.as_dicts(kwargs["blocks"])
        try:
            return await _dispatch(slack, method, kwargs)
        except TimeoutError:
            log.warning(
                "sender.slack_timeout", team_id=team_id, method=method, channel_id=kwargs.get("channel")
            )
            raise


async def _dispatch(slack: AsyncWebClient, method: str, kwargs: dict[str, Any]) -> Any:
    if method == "chat.postMessage":
        return await slack.chat_postMessage(unfurl_links=False, unfurl_media=False, **kwargs)
    if method == "chat.update":
        return await slack.chat_update(**kwargs)
    if method == "chat.delete":
        return await slack.chat_delete(**kwargs)
    if method == "conversations.replies":
        return await slack.conversations_replies(**kwargs)
    if method == "conversations.history":
        return await slack.conversations_history(**kwargs)
    if method == "chat.getPermalink":
        return await slack.chat_getPermalink(**kwargs)
    raise ValueError(f"unexpected Slack method {method}")


def _slack_ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def retry_after(exc: SlackApiError) -> float:
    """Seconds from a 429's `Retry-After` (at least 1)."""
    headers = getattr(exc.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(1.0, float(value if isinstance(value, str) else value[0]))
            except (TypeError, ValueError, IndexError):
                break
    return 1.0
