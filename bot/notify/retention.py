"""The retention job: about once an hour (on the bot's clock) the polling replica prunes what delivery left
behind longer ago than THREAD_NOTE_RETENTION_DAYS (`bot/store/retention.py` says what and why), counts the
rows in `thread_note_retention_pruned_total{table}` and logs one `retention.pruned` line.

The notifier checks `due()` at every poll interval (no query: a time kept in memory), so a moved clock is
noticed within one interval; a replica that takes the polling over runs it on its first check. Two replicas
running it together would only find fewer rows to delete.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.store.protocols import RetentionStore
from bot.store.retention import DEFAULT_RETENTION_DAYS

log = get_logger(__name__)

EVERY = timedelta(hours=1)


class RetentionJob:
    def __init__(
        self,
        store: RetentionStore,
        metrics: Metrics,
        *,
        clock: Callable[[], datetime],
        days: int = DEFAULT_RETENTION_DAYS,
        every: timedelta = EVERY,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.days = days
        self.every = every
        self._next: datetime | None = None  # None: due now (the first check after start)

    def due(self) -> bool:
        return self._next is None or self._clock() >= self._next

    async def run(self) -> dict[str, int]:
        """Prune rows older than the retention; the next run is due `every` later."""
        now = self._clock()
        before = now - timedelta(days=self.days)
        started = time.monotonic()
        pruned = await self._store.prune(before)
        self._next = now + self.every
        for table, count in pruned.items():
            self._metrics.retention_pruned.labels(table).inc(count)
        log.info(
            "retention.pruned",
            before=before.isoformat(),
            days=self.days,
            seconds=round(time.monotonic() - started, 3),
            **pruned,
        )
        return pruned
