"""The `AsyncEngine` for a normalised URL, with per-backend connection settings."""

from __future__ import annotations

import sqlite3
import ssl
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from bot.store.errors import SETTING, StoreError, unavailable
from bot.store.urls import describe, is_memory, is_sqlite

SQLITE_BUSY_TIMEOUT_MS = 15_000
CONNECT_TIMEOUT_S = 10.0


def make_engine(url: URL, *, connect_timeout: float = CONNECT_TIMEOUT_S) -> AsyncEngine:
    """Build the engine. SQLite: WAL, foreign keys, a busy timeout. PostgreSQL: a bounded connect timeout,
    and libpq's query parameters (`?sslmode=require`, what managed services hand out) as asyncpg's."""
    if not is_sqlite(url):
        url, args = libpq_connect_args(url)
        return create_async_engine(url, pool_pre_ping=True, connect_args={"timeout": connect_timeout, **args})

    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if is_memory(url):
        # One shared connection (each new one would be a new empty database): for one task at a time only.
        kwargs["poolclass"] = StaticPool
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_LIBPQ_FILES = ("sslrootcert", "sslcert", "sslkey")


def libpq_connect_args(url: URL) -> tuple[URL, dict[str, Any]]:
    """The URL without libpq's parameters, and asyncpg's connect arguments for them.

    asyncpg takes no `sslmode` keyword (SQLAlchemy passes query parameters as keywords: a TypeError), but its
    `ssl` argument takes libpq's mode names; certificate files become an `SSLContext` with libpq's meaning
    (`verify-full` checks the host name, `verify-ca` and `require` with a root certificate check the chain).
    `connect_timeout` and `application_name` are mapped too. Raises `StoreError` naming the setting.
    """
    query = dict(url.query)
    mode = str(query.pop("sslmode", "") or "").lower() or None
    files = {k: str(query.pop(k)) for k in _LIBPQ_FILES if k in query}
    args: dict[str, Any] = {}
    if "connect_timeout" in query:
        raw = str(query.pop("connect_timeout"))
        if not raw.isdigit():
            raise StoreError(f"{SETTING} has connect_timeout={raw!r}: give a number of seconds")
        args["timeout"] = float(raw)
    if "application_name" in query:
        args["server_settings"] = {"application_name": str(query.pop("application_name"))}
    if mode is not None and mode not in SSL_MODES:
        raise StoreError(f"{SETTING} has sslmode={mode!r}: use one of {', '.join(SSL_MODES)}")
    if files and mode not in ("disable", "allow", "prefer"):
        args["ssl"] = _ssl_context(mode or "require", files)
    elif mode is not None:
        args["ssl"] = mode
    return url.set(query=query), args


def _ssl_context(mode: str, files: dict[str, str]) -> ssl.SSLContext:
    for name, path in files.items():
        if not Path(path).is_file():
            raise StoreError(f"{SETTING} has {name}={path}, which is not a file: fix the path")
    try:
        context = ssl.create_default_context(cafile=files.get("sslrootcert"))
        if "sslcert" in files:
            context.load_cert_chain(files["sslcert"], files.get("sslkey"))
    except (ssl.SSLError, OSError) as exc:
        raise StoreError(f"{SETTING}: the certificate files cannot be used ({exc})") from None
    context.check_hostname = mode == "verify-full"
    if mode == "require" and "sslrootcert" not in files:
        context.verify_mode = ssl.CERT_NONE  # libpq's require: encrypted, not verified
    return context


def check_reachable(url: URL) -> None:
    """Fail early, in one line, when a SQLite file's directory is missing.

    Besides the clearer message this avoids aiosqlite's failed-connect path, whose worker thread outlives
    the attempt and may report to an event loop that has closed meanwhile.
    """
    if is_sqlite(url) and not is_memory(url) and url.database:
        directory = Path(url.database).parent
        if not directory.is_dir():
            raise unavailable(describe(url), FileNotFoundError(f"directory {directory} does not exist"))
        if Path(url.database).is_dir():
            raise unavailable(describe(url), IsADirectoryError(f"{url.database} is a folder, not a file"))


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
