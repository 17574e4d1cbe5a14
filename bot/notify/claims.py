"""This replica's claims on Slack channels: which channels with rows waiting it posts to (see `notifier.py`,
"Delivery").

Each replica claims the channels with rows waiting (`notify:channel:<team>:<channel>`, `SELECT … FOR UPDATE
SKIP LOCKED`), about its fair share (channels ÷ live replicas, counted from the `replica:<holder>`
heartbeats), posts only their rows, and releases the idle ones. It keeps the channels it holds while they
have rows, and may always claim one more than it holds (or than its share, if that is more): the one more is
for the row a poll has just queued, which the replica that queued it claims at once. Without it, a replica
holding its share in channels still draining (a burst, paced at one message a second) would leave the new
channel to another replica's next send tick, up to a second later (BENCHMARKS.md, figure 12). A channel
taken over from another replica a moment ago keeps its pace (that replica may have just posted there).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.notify.posting import Pacer
from bot.store.protocols import NotifierStore

CHANNEL_LEASE = "notify:channel:"
REPLICA_LEASE = "replica:"
REPLICAS_FRESH = 1.0  # seconds a count of the live replicas is used for (claims run several times a second)


class ChannelClaims:
    def __init__(
        self,
        store: NotifierStore,
        pacer: Pacer,
        *,
        holder: str,
        ttl: Callable[[], timedelta],
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._pacer = pacer
        self.holder = holder
        self._ttl = ttl
        self._clock = clock
        self.held: dict[str, float] = {}  # channel claims held, and when each was last renewed
        self._replicas = (float("-inf"), 1)  # (when counted, live replicas)

    async def claim(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Hold this replica's share of the channels with rows waiting: (those waiting, those held)."""
        waiting = await self._store.channels_with_pending()
        if not waiting:
            await self.release_idle(waiting)
            return waiting, []
        replicas = await self._live_replicas()
        names = {channel_lease(team, channel): (team, channel) for team, channel in waiting}
        holding = sum(name in self.held for name in names)
        share = math.ceil(len(waiting) / replicas)
        limit = max(share, holding) + 1
        won = await self._store.claim_leases(list(names), self.holder, self._ttl(), limit=limit)
        now, wall = time.monotonic(), self._clock()
        pace = timedelta(seconds=self._pacer.interval)
        for before in won:
            if before.holder not in ("", self.holder) and wall - before.expires_at < pace:
                # Just taken over from another replica, which may have posted a moment ago: keep the pace.
                self._pacer.block(names[before.name][1], self._pacer.interval)
            self.held[before.name] = now
        got = {before.name for before in won}
        for name in set(self.held) - got:
            self.held.pop(name, None)
        return waiting, [names[n] for n in names if n in got]

    async def _live_replicas(self) -> int:
        counted, replicas = self._replicas
        if time.monotonic() - counted >= REPLICAS_FRESH:
            replicas = max(1, len(await self._store.live_leases(REPLICA_LEASE)))
            self._replicas = (time.monotonic(), replicas)
        return replicas

    async def release_idle(self, waiting: list[tuple[str, str]] | None = None) -> None:
        if not self.held:
            return
        if waiting is None:
            waiting = await self._store.channels_with_pending()
        busy = {channel_lease(team, channel) for team, channel in waiting}
        idle = [name for name in self.held if name not in busy]
        if idle:
            await self._store.release_leases(idle, self.holder)
            for name in idle:
                self.held.pop(name, None)

    async def mine(self, team_id: str, channel_id: str) -> bool:
        """Still this replica's channel (its claim renewed every quarter of the lease's lifetime)?"""
        name = channel_lease(team_id, channel_id)
        renewed = self.held.get(name)
        if renewed is None:
            return False
        ttl = self._ttl()
        if time.monotonic() - renewed < ttl.total_seconds() / 4:
            return True
        if await self._store.renew_lease(name, self.holder, ttl) is None:
            self.held.pop(name, None)
            return False
        self.held[name] = time.monotonic()
        return True

    async def release(self) -> None:
        await self._store.release_leases(list(self.held), self.holder)
        self.held.clear()


def channel_lease(team_id: str, channel_id: str) -> str:
    return f"{CHANNEL_LEASE}{team_id}:{channel_id}"
