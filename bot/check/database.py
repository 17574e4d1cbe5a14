"""The database (reachable, its Alembic revision), the secret key (proved on what is stored) and the change
feed as the running bot last recorded it. Read-only: a SQLite file that does not exist yet is not created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.check.results import TIMEOUT, Result, bad, ok, skip
from bot.config import Settings


async def check_database(url: str) -> Result:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from bot.store.engine import make_engine
    from bot.store.errors import StoreError, translated
    from bot.store.migrate import alembic_config
    from bot.store.urls import async_url, describe, is_memory, is_sqlite

    try:
        target = async_url(url)
    except StoreError as exc:
        return bad(f"Database: {exc}")
    where = describe(target)
    if is_sqlite(target) and not is_memory(target):
        missing = _missing_sqlite(Path(str(target.database)))
        if missing is not None:
            return missing
    script = ScriptDirectory.from_config(alembic_config())
    heads = set(script.get_heads())
    try:
        engine = make_engine(target, connect_timeout=TIMEOUT)
    except StoreError as exc:
        return bad(f"Database: {exc}.")
    try:
        async with translated(where), engine.connect() as conn:
            current = set(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))
    except StoreError as exc:
        return bad(f"Database: {exc}; {_database_hint(str(exc))}")
    finally:
        await engine.dispose()
    if current == heads:
        return ok(f"Database: {where} reachable, migrations at head ({', '.join(sorted(heads))})")
    if not current:
        return ok(f"Database: {where} reachable and empty; serve creates the tables when it starts")
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = current - known
    if unknown:
        return bad(
            f"Database: {where} is at revision {', '.join(sorted(unknown))}, which this bot does not know: "
            "a newer thread-note-bot migrated it; upgrade this one."
        )
    return ok(
        f"Database: {where} reachable; migrations {', '.join(sorted(current))} → {', '.join(sorted(heads))} "
        "are pending, serve applies them when it starts"
    )


def _database_hint(problem: str) -> str:
    """The next step for a database that cannot be used, from what the driver said."""
    lowered = problem.lower()
    if "ssl" in lowered and ("rejected" in lowered or "not support" in lowered):
        return (
            "the server does not offer TLS: enable SSL on it, or use sslmode=prefer (or disable) in "
            "THREAD_NOTE_DATABASE_URL."
        )
    if "password" in lowered or "authentication" in lowered:
        return "check the user name and password in THREAD_NOTE_DATABASE_URL."
    if "does not exist" in lowered:
        return "create that database (createdb) or fix its name in THREAD_NOTE_DATABASE_URL."
    if "sqlite file" in lowered:
        return "check the path in THREAD_NOTE_DATABASE_URL and that this user may read and write it."
    return "check THREAD_NOTE_DATABASE_URL and that the server runs."


async def check_secret_key(settings: Settings) -> Result:
    """The key proves itself on what is stored: every stored secret (tokens, installations) is decrypted.

    None fitting means a wrong key (a restore, replicas on different keys): the old key is needed, or people
    reconnect. Nothing stored yet (or no tables yet) is fine.
    """
    import sqlalchemy as sa

    from bot.store.crypto import TokenCipher
    from bot.store.engine import make_engine
    from bot.store.errors import StoreError, translated
    from bot.store.store import count_undecryptable
    from bot.store.urls import async_url, describe

    cipher = TokenCipher(settings.secret_keys)
    target = async_url(settings.database_url)
    nothing_yet = ok("Secret key: THREAD_NOTE_SECRET_KEY is valid; nothing is stored yet to prove it against")
    if _no_sqlite_file_yet(target):
        return nothing_yet  # connecting would create the file: check changes nothing
    engine = make_engine(target, connect_timeout=TIMEOUT)
    try:
        async with translated(describe(target)), engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            wrong, total = await count_undecryptable(conn, cipher, tables)
    except StoreError as exc:
        return bad(f"Secret key: cannot read the stored secrets ({exc}).")
    finally:
        await engine.dispose()
    if not total:
        return nothing_yet
    if not wrong:
        return ok(f"Secret key: THREAD_NOTE_SECRET_KEY decrypts the {total} stored secret(s)")
    return bad(
        f"Secret key: THREAD_NOTE_SECRET_KEY does not decrypt {wrong} of the {total} stored secret(s): it is "
        "not the key they were saved with. Find the old key (backups of your .env, another replica's "
        "environment), list it after the new one (new,old) and run `thread-note-bot reencrypt`; without "
        "it, people must run /thread-note connect again."
    )


def _no_sqlite_file_yet(target: Any) -> bool:
    from bot.store.urls import is_memory, is_sqlite

    return is_sqlite(target) and not is_memory(target) and not Path(str(target.database)).exists()


async def check_feed(url: str) -> Result:
    """The change feed as the running bot last recorded it (`notify:feed_health` in the database): a feed
    that fails poll after poll is red here too. Read-only: a database not created yet is "not polled"."""
    import sqlalchemy as sa

    from bot.notify.health import HEALTH_KEY, FeedHealth
    from bot.store.engine import make_engine
    from bot.store.errors import StoreError, translated
    from bot.store.schema import kv_state
    from bot.store.urls import async_url, describe, is_memory, is_sqlite

    try:
        target = async_url(url)
    except StoreError as exc:
        return skip(f"Change feed: not checked ({exc})")
    if is_sqlite(target) and (is_memory(target) or _missing_sqlite(Path(str(target.database)))):
        return ok("Change feed: not polled yet (serve starts it)")
    engine = make_engine(target, connect_timeout=TIMEOUT)
    try:
        async with translated(describe(target)), engine.connect() as conn:
            if not await conn.run_sync(lambda c: sa.inspect(c).has_table(kv_state.name)):
                return ok("Change feed: not polled yet (serve starts it)")
            query = sa.select(kv_state.c.value).where(kv_state.c.name == HEALTH_KEY)
            value = (await conn.execute(query)).scalar()
    except StoreError as exc:
        return skip(f"Change feed: not checked ({exc})")
    finally:
        await engine.dispose()
    health = FeedHealth.from_json(value)
    if health.failing:
        return bad(
            f"Change feed: {health.describe()}: RingCentral's changes are not read, so no notes are posted; "
            "fix the RingCentral lines above (or RingCentral's status), the bot catches up by itself."
        )
    return ok(f"Change feed: {health.describe()}")


def _missing_sqlite(path: Path) -> Result | None:
    """A SQLite file that does not exist yet is fine (serve creates it) when its folder exists."""
    if path.is_dir():
        return bad(
            f"Database: {path} is a folder, not a SQLite file: name a file in THREAD_NOTE_DATABASE_URL, "
            f"e.g. sqlite:///{path / 'thread-note-bot.db'}."
        )
    if path.exists():
        return None
    if not path.parent.is_dir():
        return bad(
            f"Database: the folder {path.parent} of the SQLite file does not exist: create it or change "
            "THREAD_NOTE_DATABASE_URL."
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return bad(
            f"Database: this user may not create files in {path.parent}, so serve cannot create the SQLite "
            "file there: give it write access (chown) or change THREAD_NOTE_DATABASE_URL."
        )
    return ok(f"Database: sqlite file {path} does not exist yet; serve creates it and its tables")
