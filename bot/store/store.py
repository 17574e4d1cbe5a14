"""`Store`: the bot's persistence, one transaction per method, over an `AsyncEngine`."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from alembic.util.exc import CommandError
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store._base import Clock, utcnow
from bot.store.audit import AuditLog
from bot.store.crypto import Key, TokenCipher
from bot.store.digests import DigestRuns
from bot.store.engine import CONNECT_TIMEOUT_S, check_reachable, make_engine
from bot.store.errors import StoreError, UndecryptableSecret, translated
from bot.store.feed_state import FeedState
from bot.store.leases import Leases
from bot.store.links import LinkQueries
from bot.store.migrate import upgrade_to_head
from bot.store.oauth import OAuthStates
from bot.store.outbox import Outbox
from bot.store.quiet_hours import QuietHours
from bot.store.replays import SeenSignatures
from bot.store.retention import Retention
from bot.store.schema import (
    kv_state,
    oauth_states,
    pending_links,
    rc_links,
    slack_bots,
    slack_installations,
    tenant_accounts,
)
from bot.store.slack_installs import SlackInstalls
from bot.store.slack_messages import SlackMessages
from bot.store.slack_notes import SlackNotes
from bot.store.state import NamedState
from bot.store.subscriptions import SubscriptionQueries
from bot.store.tenant_accounts import TenantAccounts
from bot.store.tenants import Tenants
from bot.store.urls import async_url, describe

# Every column that holds ciphertext, by table, with the table's primary key: what key rotation rewrites.
_SECRETS: tuple[tuple[sa.Table, tuple[str, ...]], ...] = (
    (rc_links, ("access_token", "refresh_token")),
    (oauth_states, ("code_verifier", "state_cipher")),
    (pending_links, ("access_token", "refresh_token")),
    (kv_state, ("secret_value",)),
    (slack_installations, ("data",)),
    (slack_bots, ("data",)),
    (tenant_accounts, ("credential",)),
)


async def count_undecryptable(
    conn: AsyncConnection, cipher: TokenCipher, tables: Collection[str] | None = None
) -> tuple[int, int]:
    """(undecryptable, total) over every encrypted column (of `tables` only, when given: a database not yet
    migrated); `check` runs it on its own connection (it must not migrate), the store in a transaction of its
    own. Reads only ciphertext; decrypts without keeping it."""
    bad = total = 0
    for table, columns in _SECRETS:
        if tables is not None and table.name not in tables:
            continue
        rows = await conn.execute(sa.select(*(table.c[c] for c in columns)))
        for row in rows.all():
            for value in row:
                if value is None:
                    continue
                total += 1
                try:
                    cipher.decrypt(value)
                except UndecryptableSecret:
                    bad += 1
    return bad, total


class Store(
    LinkQueries,
    OAuthStates,
    AuditLog,
    NamedState,
    Leases,
    SubscriptionQueries,
    Outbox,
    SlackMessages,
    FeedState,
    SlackInstalls,
    SlackNotes,
    QuietHours,
    DigestRuns,
    Retention,
    SeenSignatures,
    Tenants,
    TenantAccounts,
):
    """Open with `await Store.open(url, keys)`; close with `await store.close()` (or `async with`)."""

    @classmethod
    async def open(
        cls,
        url: str | URL,
        secret_keys: Iterable[Key] | TokenCipher,
        *,
        clock: Clock = utcnow,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> Self:
        """Connect, apply pending migrations, and return a ready store.

        `url` is THREAD_NOTE_DATABASE_URL as the user wrote it; `secret_keys` are THREAD_NOTE_SECRET_KEY's
        keys, newest first. Raises `StoreUnavailable` (one line naming the setting and host) when the database
        cannot be reached.
        """
        cipher = secret_keys if isinstance(secret_keys, TokenCipher) else TokenCipher(secret_keys)
        target = async_url(url)
        where = describe(target)
        check_reachable(target)
        engine = make_engine(target, connect_timeout=connect_timeout)
        try:
            async with translated(where):
                await upgrade_to_head(engine)
        except CommandError as exc:
            await engine.dispose()
            problem = f"cannot migrate the database at {where}: {exc}"
            raise StoreError(f"{problem} (is this bot older than the database?)") from None
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, cipher, clock, where)

    async def close(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Store({self._where})"

    async def undecryptable_secrets(self) -> tuple[int, int]:
        """(how many stored secrets fit no key, how many there are): the alarm for a wrong
        THREAD_NOTE_SECRET_KEY (a restore, replicas on different keys) in status, metrics and `check`."""
        async with self._tx() as conn:
            return await count_undecryptable(conn, self._cipher)

    async def reencrypt_secrets(self) -> int:
        """Re-encrypt every stored secret with the newest key; returns how many values changed.

        Run after putting a new key first in THREAD_NOTE_SECRET_KEY; afterwards the old keys can go. A value
        changed concurrently (e.g. a token refresh) is already under the newest key and is left alone.
        """
        changed = 0
        async with self._tx() as conn:
            for table, columns in _SECRETS:
                key = list(table.primary_key.columns)
                rows = await conn.execute(sa.select(*key, *(table.c[c] for c in columns)))
                for row in rows.all():
                    for column in columns:
                        old = row._mapping[column]
                        if old is None or self._cipher.is_current(old):
                            continue
                        result = await conn.execute(
                            table.update()
                            .where(*(k == row._mapping[k.name] for k in key), table.c[column] == old)
                            .values({column: self._cipher.rotate(old)})
                        )
                        changed += result.rowcount
        return changed
