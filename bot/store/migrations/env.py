"""Alembic environment for the store.

`Store.open` passes an open (sync-facing) connection in `config.attributes["connection"]`; the command line
(`python -m bot.store.migrations`) passes a URL and we open an async engine for it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from bot.store.engine import make_engine
from bot.store.schema import UtcDateTime, metadata
from bot.store.urls import async_url

config = context.config


def _render_item(kind: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    """Revisions are frozen history: they spell plain SQLAlchemy types, not our Python-side decorators."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_and_run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = make_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _configure_and_run(given)
else:
    asyncio.run(_run_with_url(config.get_main_option("sqlalchemy.url") or "sqlite:///thread-note-bot.db"))
