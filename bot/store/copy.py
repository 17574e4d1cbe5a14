"""`thread-note-bot copy-db --from URL --to URL [--force]`: move the bot's data to another database.

The way from one SQLite file to PostgreSQL (to run replicas) without losing anything people set up: links
(people stay connected), subscriptions, the Slack thread of each conversation (a new note on a conversation
goes into its existing thread, never a second one), the outbox, leases, audit log, installations.

How: both databases are migrated to head first (the source as `serve` would do it; the target so it has every
table); then every table of `schema.metadata` is copied in dependency order (parents before children), in
batches, inside ONE transaction on the target that first checks the target is empty (or, with `--force`,
empties it), then compares the row count of every table with the source's before committing. Any difference
or error rolls everything back: the target is either a complete copy or unchanged. PostgreSQL sequences of
integer ids are moved past the copied ids, so new rows do not collide. Values go through the same SQLAlchemy
types as the store (aware UTC datetimes, JSON), and ciphertexts are copied as they are: the target needs the
same THREAD_NOTE_SECRET_KEY.

Stop the bot (every replica) while copying: rows written to the source meanwhile would not be copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.util.exc import CommandError
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.engine import check_reachable, make_engine
from bot.store.errors import SETTING, StoreError, translated
from bot.store.migrate import upgrade_to_head
from bot.store.schema import metadata
from bot.store.urls import async_url, describe, is_memory, is_sqlite

BATCH = 500


class CopyRefused(StoreError):
    """The copy cannot start or did not verify; nothing was written (one line saying what to do)."""


@dataclass(frozen=True)
class Copied:
    """What was copied: rows per table, in the order copied."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


Progress = Callable[[str], None]


def _url(raw: str, option: str) -> URL:
    try:
        url = async_url(raw)
    except StoreError as exc:
        raise CopyRefused(_for_option(exc, option)) from None
    if is_memory(url):
        raise CopyRefused(f"{option}: an in-memory SQLite database keeps nothing; give a file")
    if option == "--from" and is_sqlite(url) and url.database and not Path(url.database).is_file():
        # SQLite would create an empty file and "copy" nothing: a typo must not look like a finished move
        raise CopyRefused(f"--from: there is no SQLite file {url.database}; check the path")
    return url


async def copy_database(
    source: str, target: str, *, force: bool = False, progress: Progress = lambda _: None
) -> Copied:
    """Copy every table from `source` to `target` (plain URLs as THREAD_NOTE_DATABASE_URL takes them)."""
    src_url, dst_url = _url(source, "--from"), _url(target, "--to")
    if describe(src_url) == describe(dst_url) and src_url.get_backend_name() == dst_url.get_backend_name():
        raise CopyRefused("--from and --to name the same database: nothing to do")
    engines: list[AsyncEngine] = []
    try:
        for url, option in ((src_url, "--from"), (dst_url, "--to")):
            engines.append(await _open(url, option))
            progress(f"{option} {describe(url)}: migrated to head")
        src, dst = engines
        async with translated(describe(src_url)), src.connect() as reading:
            await reading.begin()  # one snapshot of the source for the whole copy
            async with translated(describe(dst_url)), dst.begin() as writing:
                return await _copy_tables(reading, writing, force=force, progress=progress)
    finally:
        for engine in engines:
            await engine.dispose()


async def _open(url: URL, option: str) -> AsyncEngine:
    """An engine on `url`, migrated to head; every failure is one line naming the option."""
    where = describe(url)
    try:
        check_reachable(url)
    except StoreError as exc:
        raise CopyRefused(f"{option}: {_for_option(exc, option)}") from None
    engine = make_engine(url)
    try:
        async with translated(where):
            await upgrade_to_head(engine)
    except CommandError as exc:
        await engine.dispose()
        problem = f"{option} {where}: cannot migrate it ({exc})"
        raise CopyRefused(f"{problem}; is this bot older than that database?") from None
    except StoreError as exc:
        await engine.dispose()
        raise CopyRefused(f"{option}: {_for_option(exc, option)}") from None
    return engine


def _for_option(exc: StoreError, option: str) -> str:
    """The store's messages name THREAD_NOTE_DATABASE_URL; here the URL came from `option`."""
    return str(exc).replace(SETTING, option)


async def _count(conn: AsyncConnection, table: sa.Table) -> int:
    return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def _copy_tables(
    reading: AsyncConnection, writing: AsyncConnection, *, force: bool, progress: Progress
) -> Copied:
    tables = list(metadata.sorted_tables)  # parents before children (foreign keys)
    present = {t.name: n for t in tables if (n := await _count(writing, t))}
    if present and not force:
        listed = ", ".join(f"{name} ({n})" for name, n in present.items())
        raise CopyRefused(
            f"--to already holds data ({listed}): point --to at an empty database, or add --force to "
            "replace everything in it"
        )
    for table in reversed(tables):  # children before parents
        if table.name in present:
            await writing.execute(table.delete())
    if present:
        progress(f"--force: emptied {len(present)} table(s) of the target")
    copied: dict[str, int] = {}
    for table in tables:
        copied[table.name] = await _copy_table(reading, writing, table, progress)
    await _reset_sequences(writing, tables)
    for table in tables:  # verify before committing: the same number of rows on both sides
        expected, found = await _count(reading, table), await _count(writing, table)
        if expected != found:
            raise CopyRefused(
                f"{table.name}: {expected} rows in --from but {found} in --to after copying; nothing was "
                "kept. Is a bot still writing to --from? Stop every replica and run copy-db again."
            )
    progress(f"verified: every table has as many rows in --to as in --from ({sum(copied.values())} rows)")
    return Copied(copied)


async def _copy_table(
    reading: AsyncConnection, writing: AsyncConnection, table: sa.Table, progress: Progress
) -> int:
    """Copy one table in batches of BATCH rows, ordered by its primary key."""
    total = await _count(reading, table)
    order = list(table.primary_key.columns) or list(table.columns)
    done = 0
    while done < total:
        rows = (await reading.execute(sa.select(table).order_by(*order).offset(done).limit(BATCH))).all()
        if not rows:
            break
        await writing.execute(table.insert(), [dict(row._mapping) for row in rows])
        done += len(rows)
        if total > BATCH:
            progress(f"  {table.name}: {done} of {total}")
    progress(f"copied {table.name}: {done} row(s)")
    return done


async def _reset_sequences(writing: AsyncConnection, tables: list[sa.Table]) -> None:
    """PostgreSQL: move each serial id's sequence past the copied ids (inserted ids don't advance it)."""
    if writing.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if not (column.autoincrement is True and isinstance(column.type, sa.Integer)):
                continue
            await writing.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'
                ),
                {"table": table.name, "column": column.name},
            )
