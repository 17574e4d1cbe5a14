from __future__ import annotations

import pytest

from bot.store import StoreError
from bot.store.urls import async_url, describe


@pytest.mark.parametrize(
    ("given", "driver", "database"),
    [
        ("sqlite:///relative.db", "sqlite+aiosqlite", "relative.db"),
        ("sqlite:////abs/path/bot.db", "sqlite+aiosqlite", "/abs/path/bot.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite", "x.db"),
        ("sqlite://", "sqlite+aiosqlite", None),
        ("postgresql://bot@db.internal:5433/notes", "postgresql+asyncpg", "notes"),
        ("postgres://bot@db.internal:5433/notes", "postgresql+asyncpg", "notes"),
        ("postgresql+psycopg2://bot@db.internal/notes", "postgresql+asyncpg", "notes"),
    ],
)
def test_plain_urls_get_the_async_driver(given: str, driver: str, database: str | None) -> None:
    url = async_url(given)
    assert url.drivername == driver
    assert url.database == database


def test_postgres_url_keeps_user_host_port_and_query() -> None:
    url = async_url("postgres://bot:pw@db.internal:5433/notes?application_name=tnb")
    assert (url.username, url.password, url.host, url.port) == ("bot", "pw", "db.internal", 5433)
    assert url.query == {"application_name": "tnb"}


def test_description_names_host_and_never_the_password() -> None:
    text = describe(async_url("postgresql://bot:hunter2@db.internal:5433/notes"))
    assert text == "db.internal:5433/notes"
    assert describe(async_url("sqlite:///data/bot.db")) == "sqlite file data/bot.db"


@pytest.mark.parametrize("given", ["mysql://u@h/db", "not a url"])
def test_unsupported_urls_are_refused_naming_the_setting(given: str) -> None:
    with pytest.raises(StoreError, match="THREAD_NOTE_DATABASE_URL"):
        async_url(given)
