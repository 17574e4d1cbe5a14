"""What every part of the store shares: the engine, the cipher, the clock, and the transaction boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import RowMapping
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.schema import Column, Table

from bot.store.crypto import TokenCipher
from bot.store.errors import translated

Clock = Callable[[], datetime]
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """Holds the shared parts; the domain mixins (links, oauth, …) add the methods."""

    def __init__(self, engine: AsyncEngine, cipher: TokenCipher, clock: Clock, where: str) -> None:
        self._engine = engine
        self._cipher = cipher
        self._clock = clock
        self._where = where

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the store's clock must return aware datetimes")
        return now.astimezone(UTC)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed on success; every driver error inside becomes a `StoreError`."""
        async with translated(self._where), self._engine.begin() as conn:
            yield conn


def from_row(cls: type[T], row: RowMapping) -> T:
    """The dataclass `cls` built from the row's columns of the same names (the row may have more)."""
    return cls(**{k: row[k] for k in cls.__dataclass_fields__})  # type: ignore[attr-defined]


def upsert(conn: AsyncConnection, table: Table) -> Any:
    """`INSERT … ON CONFLICT` for the connection's backend (both spell it the same way in SQLAlchemy)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def put(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any] | list[dict[str, Any]],
    *,
    key: Sequence[Column[Any]],
) -> None:
    """Insert the row(s), or replace the row with the same `key`: every other column given is overwritten."""
    rows = values if isinstance(values, list) else [values]
    if not rows:
        return
    keys = {c.name for c in key}
    stmt = upsert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={k: stmt.excluded[k] for k in rows[0] if k not in keys}
    )
    await conn.execute(stmt, rows)
