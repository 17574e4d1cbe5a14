"""Time-driven work of the subscriptions, run by the notifier's scheduler (on the polling replica) with the
notifier's injected clock: ending quiet hours and posting the daily handoff digests.

    schedules = Schedules(store, notifier.client_for, slack_clients, clock=clock)
    await schedules.run()     # once a second in production; tests advance the clock and wait

- Quiet hours end: a subscription with held rows that is no longer quiet gets them released as one
  "summary" row (`Store.release_held`); the sender posts it like any other row of its channel.
- Digest: when `Options.digest_due` says a local day's digest is due, the day is claimed (`digest_runs`),
  the resource's open threads and their notes are read with the service identity of the workspace's account
  (two list requests, not one per thread), and one message is posted. Posting fails → the claim is dropped
  and the next run retries; a crash after the claim, or a post whose answer never came (a WARNING), loses
  that day's digest rather than posting it twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError

from bot.logs import get_logger
from bot.notify import messages
from bot.notify.filters import Filters, passes
from bot.notify.options import Options
from bot.notify.posting import NETWORK_ERRORS
from bot.notify.roundups import DigestItem, digest_message, local_when, needs_someone
from bot.notify.workspaces import NotInstalled, SlackClients
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import RingCentralError
from bot.ringcentral.models import Note
from bot.store.protocols import ScheduleStore
from bot.store.subscriptions import Subscription

log = get_logger(__name__)


class Schedules:
    def __init__(
        self,
        store: ScheduleStore,
        client_for: Callable[[str], Awaitable[RingCentralClient]],
        slack: SlackClients,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._client_for = client_for  # the service identity of a workspace's RingCentral account
        self._slack = slack
        self._clock = clock

    async def run(self) -> dict[str, int]:
        """One pass: release what quiet hours held, post the digests that are due. Returns counts."""
        now = self._clock().astimezone(UTC)
        released = digests = 0
        # The store's snapshot: one small read a pass while no subscription changed, not every row a second.
        subs = {s.id: s for s in await self._store.subscriptions_snapshot() if s.active}
        for sub_id in await self._store.held_subscriptions():
            sub = subs.get(sub_id)
            if sub is not None and not Options.from_json(sub.options).in_quiet(now):
                held = await self._store.release_held(sub.id)
                if held:
                    log.info("quiet.released", subscription_id=sub.id, held=held)
                    released += 1
        for sub in subs.values():
            options = Options.from_json(sub.options)
            day = options.digest_due(now, sub.created_at)
            if day is None or not await self._store.claim_digest(sub.id, day.isoformat()):
                continue
            if await self.digest(sub, options, now, day.isoformat()):
                digests += 1
        return {"released": released, "digests": digests}

    async def digest(self, sub: Subscription, options: Options, now: datetime, day: str) -> bool:
        try:
            items = await self.items(
                sub.resource_id,
                sub.team_id,
                Filters.from_json(sub.filters),
                muted=await self._store.muted_threads(sub.team_id, sub.channel_id),
            )
        except RingCentralError as exc:
            log.info("digest.read_failed", subscription_id=sub.id, error=type(exc).__name__)
            await self._store.drop_digest(sub.id, day)
            return False
        when = local_when(options.local(now), options.tz or "UTC")
        blocks, text = digest_message(sub.resource_name, items, when)
        try:
            slack = await self._slack.for_team(sub.team_id)
            response = await slack.chat_postMessage(
                channel=sub.channel_id, blocks=messages.as_dicts(blocks), text=text, unfurl_links=False
            )
        except (SlackApiError, NotInstalled) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else "not_installed"
            log.info("digest.post_failed", subscription_id=sub.id, error=error)
            await self._store.drop_digest(sub.id, day)
            return False
        except NETWORK_ERRORS as exc:  # no answer: it may have landed, so the day stays claimed
            log.warning("digest.maybe_posted", subscription_id=sub.id, day=day, reason=type(exc).__name__)
            return False
        await self._store.finish_digest(sub.id, day, str(response["ts"]), len(items))
        log.info("digest.posted", subscription_id=sub.id, day=day, threads=len(items))
        return True

    async def items(
        self,
        resource_id: str,
        team_id: str,
        filters: Filters | None = None,
        *,
        muted: set[str] | frozenset[str] = frozenset(),
    ) -> list[DigestItem]:
        """The resource's open conversations that need someone, with their latest notes, oldest first (read
        as the service identity of `team_id`'s account).

        The channel's filters hold here as they do for its notifications: a note they leave out (no wanted
        tag, an excluded author) is not there for the digest, so with `tags` only conversations with a wanted
        note are listed; `unassigned_only` leaves out assigned conversations; muted ones too.
        """
        filters = filters or Filters()
        client = await self._client_for(team_id)
        threads = [
            t
            async for t in client.iter_threads(
                status="Open", owner_extension_ids=[resource_id], per_page=1000
            )
            if t.id not in muted
        ]
        latest: dict[str, Note] = {}
        if threads:
            by_id = {t.id: t for t in threads}
            async for note in client.iter_notes(owner_extension_ids=[resource_id], per_page=1000):
                if note.thread_id not in by_id or not passes(filters, note, by_id[note.thread_id]):
                    continue
                known = latest.get(note.thread_id)
                if known is None or (note.creation_time, note.id) >= (known.creation_time, known.id):
                    latest[note.thread_id] = note
        items = []
        for thread in sorted(threads, key=lambda t: t.creation_time):
            if filters.tags and thread.id not in latest:
                continue  # nothing in it that the channel asked for
            if filters.unassigned_only and thread.assignee is not None:
                continue
            why = needs_someone(thread, latest.get(thread.id))
            if why is not None:
                items.append(DigestItem(thread, latest.get(thread.id), why))
        return items
