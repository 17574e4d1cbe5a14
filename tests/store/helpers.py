"""Reaching the database behind the store's back, to check what is really stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from bot.store.engine import make_engine
from bot.store.urls import async_url

T = TypeVar("T")


async def on_sync_connection(database_url: str, fn: Callable[[Connection], T]) -> T:
    """Run `fn` (Alembic, inspection, raw SQL) on a connection of its own, in a transaction."""
    engine = make_engine(async_url(database_url))
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def raw_rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    return await on_sync_connection(database_url, lambda conn: [tuple(r) for r in conn.execute(text(sql))])
