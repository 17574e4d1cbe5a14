"""Alembic, configured in code: `script_location` is `bot/store/migrations` inside the installed package.

Adding a table or column: change `schema.py`, then generate a revision and review it by hand:

    .venv/bin/python -m bot.store.migrations revision --autogenerate -m "add subscriptions"

(it compares `schema.metadata` with a scratch SQLite database migrated to head). `tests/store` fails while
`schema.py` and the migrations disagree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: replicas starting together against one PostgreSQL migrate one at a time.
_PG_MIGRATION_LOCK = 0x74_6E_62_6D  # "tnbm"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    return cfg


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Apply every pending revision in one transaction (a no-op when the database is at head)."""
    async with engine.begin() as conn:
        # Processes opening the same database together migrate one at a time; the later ones find it at head.
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        else:
            # The sqlite3 module opens no transaction before DDL by itself: take the write lock up front.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        await conn.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
