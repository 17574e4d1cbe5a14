"""Signatures of Slack requests already handled (revision 0007): the replay guard of `/slack/events`, shared
by every replica on the database, so a signed request replayed to another replica is refused too.

Only a SHA-256 hash of each signature is stored (a fixed 64 characters; nothing a database reader could send
back), with the time after which the signature's timestamp is outside Slack's 5-minute window anyway.

Claiming is one atomic `INSERT … ON CONFLICT (hash) DO UPDATE … WHERE expired RETURNING` on both backends, the
leases' pattern: a new hash is inserted, a hash whose row expired (not pruned yet) is taken again, a live one
returns no row. PostgreSQL makes a second claimant of the same hash wait for the first one's commit and then
re-checks the WHERE, so of two replicas claiming together exactly one wins; SQLite has a single writer.

Expired rows are pruned inside the claim's own transaction, at most once a minute per store (one `DELETE` by
the `expires_at` index), so the table holds about the last `ttl` of requests without a job of its own.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.store._base import StoreBase, upsert
from bot.store.schema import seen_signatures

PRUNE_EVERY = timedelta(minutes=1)


def signature_hash(signature: str) -> str:
    return hashlib.sha256(signature.encode()).hexdigest()


class SeenSignatures(StoreBase):
    _signatures_pruned_at: datetime | None = None  # per store: when this process last pruned

    async def claim_signature(self, signature: str, ttl: timedelta) -> bool:
        """True the first time `signature` is claimed (it is then remembered for `ttl`), False while a claim
        of it lives, whichever replica made that claim."""
        now = self._now()
        table = seen_signatures
        async with self._tx() as conn:
            stmt = upsert(conn, table).values(signature_hash=signature_hash(signature), expires_at=now + ttl)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.signature_hash],
                set_={"expires_at": stmt.excluded.expires_at},
                where=table.c.expires_at <= now,
            ).returning(table.c.signature_hash)
            first = (await conn.execute(stmt)).first() is not None
            pruned = self._signatures_pruned_at
            if pruned is None or now - pruned >= PRUNE_EVERY:
                await conn.execute(table.delete().where(table.c.expires_at <= now))
                self._signatures_pruned_at = now
        return first

    async def forget_signature(self, signature: str) -> bool:
        """Drop a claim (the request it belonged to did nothing), so the same bytes are accepted once more."""
        async with self._tx() as conn:
            result = await conn.execute(
                seen_signatures.delete().where(seen_signatures.c.signature_hash == signature_hash(signature))
            )
        return bool(result.rowcount)

    async def seen_signature_count(self) -> int:
        """Rows in the table, expired ones included (tests and benchmarks watch pruning with it)."""
        async with self._tx() as conn:
            count = await conn.execute(sa.select(sa.func.count()).select_from(seen_signatures))
        return int(count.scalar_one())
