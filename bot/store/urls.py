"""Plain database URLs in, async SQLAlchemy URLs out.

The setting takes the URLs people already write (`sqlite:///relative.db`, `sqlite:////abs/path.db`,
`postgresql://user@host:port/db`, Heroku-style `postgres://…`); the store picks the async driver itself.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.store.errors import SETTING, StoreError

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str | URL) -> URL:
    """The async-driver form of `url`; raises `StoreError` naming the setting for anything else."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"{SETTING} is not a database URL: expected sqlite:///path.db or postgresql://user@host:port/db"
        ) from None
    backend = parsed.drivername.split("+", 1)[0]
    if backend not in _DRIVERS:
        raise StoreError(f"{SETTING} names an unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=_DRIVERS[backend])


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def is_memory(url: URL) -> bool:
    """`sqlite://` and `sqlite:///:memory:`: one shared connection, gone when the store closes."""
    return is_sqlite(url) and url.database in (None, "", ":memory:")


def describe(url: URL) -> str:
    """Where the URL points, for messages: host, port and database, or the SQLite path. Never a password."""
    if is_sqlite(url):
        return "an in-memory SQLite database" if is_memory(url) else f"sqlite file {url.database}"
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database or ''}"
