"""Database fixtures: one store test suite, every backend.

- `database_url`: a plain URL (as a user writes THREAD_NOTE_DATABASE_URL) to an empty database. Parametrised
  over `sqlite` (a file in tmp_path) and `postgres` (a freshly created database on the server named by
  THREAD_NOTE_TEST_POSTGRES_URL, dropped afterwards; skipped when the variable is unset; marker `postgres`).
- `secret_key`: a fresh Fernet key.  `clock`: a `FakeClock` the test moves with `clock.advance(minutes=5)`.
- `store`: a `Store` opened on `database_url` with `secret_key` and `clock`, closed after the test.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.store import Store, TokenCipher

POSTGRES_ENV = "THREAD_NOTE_TEST_POSTGRES_URL"
_NO_POSTGRES = f"{POSTGRES_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"


class FakeClock:
    """An injectable clock: aware UTC, moves only when told to."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        self.now += delta if delta is not None else timedelta(**parts)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def secret_key() -> str:
    return TokenCipher.generate_key()


_POSTGRES = pytest.param(
    "postgres",
    id="postgres",
    marks=[pytest.mark.postgres, pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=_NO_POSTGRES)],
)


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), _POSTGRES])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    admin = make_url(os.environ[POSTGRES_ENV])
    admin_dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"tnb_test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def store(database_url: str, secret_key: str, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, [secret_key], clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
