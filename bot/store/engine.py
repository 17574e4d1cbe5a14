"""The `AsyncEngine` for a normalised URL, with per-backend connection settings."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from bot.store.errors import unavailable
from bot.store.urls import describe, is_memory, is_sqlite

SQLITE_BUSY_TIMEOUT_MS = 15_000
CONNECT_TIMEOUT_S = 10.0


def make_engine(url: URL, *, connect_timeout: float = CONNECT_TIMEOUT_S) -> AsyncEngine:
    """Build the engine. SQLite: WAL, foreign keys, a busy timeout. PostgreSQL: a bounded connect timeout."""
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True, connect_args={"timeout": connect_timeout})

    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if is_memory(url):
        # One shared connection (each new one would be a new empty database): for one task at a time only.
        kwargs["poolclass"] = StaticPool
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def check_reachable(url: URL) -> None:
    """Fail early, in one line, when a SQLite file's directory is missing.

    Besides the clearer message this avoids aiosqlite's failed-connect path, whose worker thread outlives
    the attempt and may report to an event loop that has closed meanwhile.
    """
    if is_sqlite(url) and not is_memory(url) and url.database:
        directory = Path(url.database).parent
        if not directory.is_dir():
            raise unavailable(describe(url), FileNotFoundError(f"directory {directory} does not exist"))


def _use_wal(cursor: Any) -> None:
    """Put the file in WAL mode, once: the mode is stored in the file.

    Switching needs the file to itself, and SQLite answers "database is locked" at once (no busy wait) when
    another connection holds it, e.g. a second process opening a new database while the first migrates it.
    So: look, switch only when needed, and when refused wait a moment and look again.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # aiosqlite's own thread: blocking here holds up no event loop


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
