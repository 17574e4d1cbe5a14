"""Reading the database behind the store's back, to check what is really stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from bot.store.engine import make_engine
from bot.store.urls import async_url


async def raw_rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = make_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(text(sql))]
    finally:
        await engine.dispose()
