"""The store's error tree, and the one boundary where driver errors are translated into it.

```
StoreError
├── StoreUnavailable       the database cannot be reached or is busy (names THREAD_NOTE_DATABASE_URL)
├── Conflict               a unique (or other integrity) constraint refused the write
│   └── StaleLink          `update_link_tokens` lost a race: someone else stored newer tokens first
├── NotFoundInStore        the row to change does not exist
├── InvalidOAuthState      an OAuth `state` is unknown (forged), expired or already used
└── UndecryptableSecret    a stored secret was encrypted with a key no longer in THREAD_NOTE_SECRET_KEY
```

Callers above the store never see sqlite3, aiosqlite, asyncpg or SQLAlchemy exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from sqlalchemy import exc as sa_exc

SETTING = "THREAD_NOTE_DATABASE_URL"


class StoreError(Exception):
    """Base of every error the store raises."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (down, wrong host, missing file, locked for too long)."""


class Conflict(StoreError):
    """A write broke a unique or integrity constraint."""


class StaleLink(Conflict):
    """The link changed since it was read (another refresh won); read it again and use its tokens."""


class NotFoundInStore(StoreError):
    """The row the caller wanted to change does not exist."""


OAuthStateProblem = Literal["unknown", "expired", "used"]


class InvalidOAuthState(StoreError):
    """An OAuth `state` cannot be consumed; `reason` says why."""

    def __init__(self, reason: OAuthStateProblem) -> None:
        self.reason: OAuthStateProblem = reason
        text = {
            "unknown": "unknown sign-in link (it was not issued by this bot)",
            "expired": "this sign-in link has expired; ask for a new one",
            "used": "this sign-in link was already used; ask for a new one",
        }[reason]
        super().__init__(text)


class UndecryptableSecret(StoreError):
    """A stored secret does not decrypt with any configured key."""

    def __init__(self) -> None:
        super().__init__(
            "a stored secret cannot be decrypted with any key in THREAD_NOTE_SECRET_KEY: "
            "keep the old key listed after the new one until `reencrypt_secrets` has run"
        )


def unavailable(where: str, cause: BaseException) -> StoreUnavailable:
    """A one-line `StoreUnavailable` naming the setting and where it points (never a password)."""
    reason = " ".join(str(getattr(cause, "orig", None) or cause).split()) or type(cause).__name__
    return StoreUnavailable(f"cannot reach the database at {where} ({SETTING}): {reason}")


@asynccontextmanager
async def translated(where: str) -> AsyncIterator[None]:
    """The boundary: driver and SQLAlchemy errors raised inside become `StoreError`s.

    Our own errors pass through untouched. `where` describes the database for `StoreUnavailable`.
    """
    try:
        yield
    except StoreError:
        raise
    except sa_exc.IntegrityError as exc:
        raise Conflict(f"the write conflicts with a stored row: {_first_line(exc.orig)}") from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated or _cannot_connect(exc):
            raise unavailable(where, exc) from exc
        raise StoreError(f"database error: {_first_line(exc.orig)}") from exc
    except sa_exc.TimeoutError as exc:  # no pooled connection came free in time
        raise unavailable(where, exc) from exc
    except sa_exc.SQLAlchemyError as exc:
        raise StoreError(f"database error: {_first_line(exc)}") from exc
    except OSError as exc:  # asyncpg's refused or timed-out connects arrive unwrapped
        raise unavailable(where, exc) from exc


# PostgreSQL SQLSTATE classes that mean "this server/database/role cannot be used now": connection exception,
# invalid authorization, unknown database, insufficient resources, operator intervention (shutting down).
_PG_UNAVAILABLE = ("08", "28", "3D", "53", "57P")
# SQLite result codes of the same kind (busy or locked past the timeout, cannot open, I/O, disk full, …).
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PERM",
    "SQLITE_NOTADB",
)


def _cannot_connect(exc: sa_exc.DBAPIError) -> bool:
    """Unavailable (retry later, check the setting) as opposed to a bug in a query."""
    if isinstance(exc, sa_exc.InterfaceError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_PG_UNAVAILABLE)
    sqlite_code = getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(sqlite_code, str):
        return sqlite_code.startswith(_SQLITE_UNAVAILABLE)
    return isinstance(exc, sa_exc.OperationalError)


def _first_line(exc: object) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
