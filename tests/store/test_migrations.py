"""Opening a store migrates it; the migrations and `schema.py` never drift apart."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from bot.store import Store, StoreUnavailable
from bot.store.migrate import MIGRATIONS, alembic_config
from bot.store.schema import metadata
from bot.store.urls import async_url
from tests.kit.db import POSTGRES_ENV, FakeClock
from tests.store.helpers import on_sync_connection

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def test_migrations_ship_inside_the_package() -> None:
    assert MIGRATIONS.is_dir()
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert list((MIGRATIONS / "versions").glob("0001_*.py"))
    assert Path(MIGRATIONS, "__init__.py").is_file()  # found by setuptools' package discovery


async def test_opening_an_empty_database_migrates_it_to_head(store: Store, database_url: str) -> None:
    def tables(conn: Connection) -> tuple[set[str], str | None]:
        return set(inspect(conn).get_table_names()), _revision(conn)

    names, revision = await on_sync_connection(database_url, tables)
    assert {"rc_links", "oauth_states", "audit_log", "kv_state", "leases", "alembic_version"} <= names
    assert revision == HEAD


async def test_reopening_keeps_data_and_changes_nothing(
    database_url: str, secret_key: str, clock: FakeClock
) -> None:
    async with await Store.open(database_url, [secret_key], clock=clock) as first:
        await first.set_state("cursor", {"syncToken": "abc"})
    async with await Store.open(database_url, [secret_key], clock=clock) as second:
        assert await second.get_state("cursor") == {"syncToken": "abc"}
    assert await on_sync_connection(database_url, _revision) == HEAD


async def test_schema_module_and_migrations_agree(store: Store, database_url: str) -> None:
    def drift(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert await on_sync_connection(database_url, drift) == []


async def test_migrations_downgrade_to_empty_and_upgrade_again(store: Store, database_url: str) -> None:
    def down_and_up(conn: Connection) -> tuple[set[str], str | None]:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        emptied = set(inspect(conn).get_table_names()) - {"alembic_version"}
        command.upgrade(cfg, "head")
        return emptied, _revision(conn)

    emptied, revision = await on_sync_connection(database_url, down_and_up)
    assert emptied == set()
    assert revision == HEAD


async def test_replicas_opening_together_migrate_once(database_url: str, secret_key: str) -> None:
    stores = await asyncio.gather(*(Store.open(database_url, [secret_key]) for _ in range(4)))
    try:
        assert await on_sync_connection(database_url, _revision) == HEAD
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_unreachable_postgres_names_the_setting_and_host(secret_key: str) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        await Store.open("postgresql://postgres@127.0.0.1:1/x", [secret_key], connect_timeout=5)
    message = str(caught.value)
    assert "THREAD_NOTE_DATABASE_URL" in message
    assert "127.0.0.1:1" in message
    assert "\n" not in message


async def test_sqlite_file_in_a_missing_directory_is_unavailable(tmp_path: Path, secret_key: str) -> None:
    with pytest.raises(StoreUnavailable, match=r"THREAD_NOTE_DATABASE_URL.*missing does not exist"):
        await Store.open(f"sqlite:///{tmp_path}/missing/bot.db", [secret_key])


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set")
async def test_missing_postgres_database_is_unavailable(secret_key: str) -> None:
    missing = async_url(os.environ[POSTGRES_ENV]).set(database="tnb_no_such_database")
    with pytest.raises(StoreUnavailable, match=r"tnb_no_such_database.*THREAD_NOTE_DATABASE_URL"):
        await Store.open(missing.render_as_string(hide_password=False), [secret_key])


def test_migration_command_line_finds_no_drift() -> None:
    from bot.store.migrations.__main__ import main

    main(["check"])  # autogenerates against a scratch database at head; raises if anything is missing
