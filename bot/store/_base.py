"""What every part of the store shares: the engine, the cipher, the clock, and the transaction boundary."""

from __future__ import annotations

import asyncio
import functools
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
        # SQLite takes one writer at a time, and a writer that finds the file locked sleeps in SQLite's busy
        # handler (1 to 100 ms a step, unfair: under twenty senders' writes a mark waited up to a second).
        # The sender's writes take their turn here instead, in order; PostgreSQL locks rows, not the file.
        self._turns = engine.dialect.name == "sqlite"
        self._turn: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the store's clock must return aware datetimes")
        return now.astimezone(UTC)

    @asynccontextmanager
    async def _tx(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed on success; every driver error inside becomes a `StoreError`.
        `write`: a write on the path of every post (the mark, the record), which takes its turn on SQLite."""
        if write and self._turns:
            async with self._write_turn(), translated(self._where), self._engine.begin() as conn:
                yield conn
            return
        async with translated(self._where), self._engine.begin() as conn:
            yield conn

    def _write_turn(self) -> asyncio.Lock:
        """The turn of this event loop's writes (a lock belongs to one loop; a CLI may run several)."""
        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn[0] is not loop:
            self._turn = (loop, asyncio.Lock())
        return self._turn[1]


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
    stmt = _put_statement(conn.dialect.name, table, tuple(rows[0]), tuple(c.name for c in key))
    await conn.execute(stmt, rows)


@functools.lru_cache(maxsize=256)
def _put_statement(dialect: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...]) -> Any:
    """`put`'s statement, built once per backend, table and set of columns: a delivery makes one, and
    building and keying it anew each time cost more than running it."""
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in key], set_={k: stmt.excluded[k] for k in columns if k not in key}
    )
