"""Issue 16, item 2: `thread-note-bot forget-workspace T…` leaves nothing of that workspace in any table.

Two workspaces fill every table through the store's API (the rows the bot writes while people connect,
subscribe, post, reply, hold quiet hours and get digests; driving all of that through Slack for two workspaces
would take minutes and prove nothing more about the delete). Then the command forgets one of them, and every
table of the database is *reflected* (not taken from schema.py) and read whole: no row mentions the forgotten
team, in any column or through a foreign key to a row that does, except the audit entry recording the forget;
every other row is exactly as it was. A table added later fails the first assertion until the test fills it
(with rows of both teams, or listed in SHARED with the reason), and then the forget must cover it.

Ciphertext cannot be searched (installations, tokens); those rows carry the team in a plain column beside it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, Table

from bot.store import AuditAction, Store, TenantAccount, Tokens
from bot.store.oauth import PendingLink
from bot.store.outbox import OutboxEntry
from bot.store.slack_messages import NoteMessage, SlackThread
from bot.store.subscriptions import NewSubscription
from tests.kit.db import FakeClock
from tests.store.helpers import on_sync_connection

FORGOTTEN, KEPT = "T0GONE4711", "T0STAYS815"
# Tables that hold no workspace's rows, and why (bot/store/tenants.py): the RingCentral side of one account
# shared by the deployment, hashes that name no team, Alembic's own.
SHARED = {"rc_threads", "feed_resources", "slack_oauth_states", "seen_signatures", "alembic_version"}
# The one row a forget rewrites: the subscriptions' change mark (bot/store/subscriptions.py), a random value,
# so that every replica's feed reads the subscriptions again instead of routing to the deleted ones.
MARK = ("kv_state", "subscriptions:changed")
THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"
RESOURCE = "62000601"

Row = tuple[Any, ...]


async def _fill(store: Store, team: str, clock: FakeClock) -> None:
    """What the bot keeps of one workspace: a link and a sign-in under way, a subscription whose outbox has
    a posted, a pending and a held row, the Slack thread and message posted, a two-way reply, a digest, a
    channel lease, the installation with its bot, its own RingCentral account, and an audit entry."""
    now = clock()
    tokens = Tokens.from_lifetimes(now=now, access_token=f"at-{team}", expires_in=3600, refresh_token="rt")
    await store.save_link(team, "U1", extension_id="62001001", extension_name="Ana", tokens=tokens)
    await store.create_oauth_state(team, "U2", code_verifier="v" * 43)
    await store.create_pending_link(PendingLink(team, "U2", "62001002", "Ben", tokens, None))
    new = NewSubscription(
        team_id=team, channel_id="C1", channel_name="handoffs", channel_private=True, resource_id=RESOURCE,
        resource_name="Support", filters={}, broadcast=False, deleted_mode="strike", created_by="U1",
        start_at=now, options={"digest": "09:00"},
    )  # fmt: skip
    sub, _ = await store.save_subscription(new)
    entries = [OutboxEntry(sub.id, f"n{i}", "1", "note", THREAD, {"text": f"note {i}"}) for i in range(3)]
    await store.enqueue(entries, threads=[(THREAD, RESOURCE, {"id": THREAD})])
    posted, _pending, held = await store.outbox_rows(sub.id)
    await store.hold_outbox(held.id)
    thread = SlackThread(team, "C1", THREAD, "1700000000.000100", "n0", muted=False)
    message = NoteMessage(team, "C1", "n0", THREAD, "1700000000.000100", "1", True, {"text": "note 0"}, False)
    await store.record_delivery(posted.id, sub.id, message=message, thread=thread)
    await store.claim_slack_note(team, "C1", "1700000001.000200", THREAD, "U1")
    await store.claim_digest(sub.id, "2026-03-02")
    await store.try_acquire_lease(f"notify:channel:{team}:C1", "replica-a", timedelta(minutes=1))
    await store.set_state(f"example:{team}:cursor", {"at": 1})
    await store.save_slack_installation(None, team, "U1", {"team_id": team, "bot_token": "xoxb-1"}, {"t": 1})
    await store.record_audit(
        team_id=team, user_id="U1", action=AuditAction.ADD, thread_id=THREAD, note_ids=["n0"]
    )
    account = TenantAccount(team, f"acct-{team}", "jwt", f"jwt-{team}", "62009001", "Acme")
    await store.save_tenant_account(account, by="U1")


async def _fill_both(database_url: str, secret_key: str, clock: FakeClock) -> None:
    async with await Store.open(database_url, [secret_key], clock=clock) as store:
        for team in (FORGOTTEN, KEPT):
            await _fill(store, team, clock)
        # what belongs to no workspace
        await store.set_state("notify:sync_token", {"token": "abc"})
        await store.feed_resources_ok([RESOURCE], account="")
        await store.issue_slack_state("install-state", timedelta(minutes=10))
        await store.claim_signature("v0=" + "ab" * 32, timedelta(minutes=6))


def _everything(database_url: str) -> tuple[dict[str, list[Row]], MetaData]:
    """Every row of every table the database holds, found by reflection."""

    def read(conn: Connection) -> tuple[dict[str, list[Row]], MetaData]:
        reflected = MetaData()
        reflected.reflect(conn)
        rows = {name: [tuple(r) for r in conn.execute(t.select())] for name, t in reflected.tables.items()}
        return rows, reflected

    return asyncio.run(on_sync_connection(database_url, read))


def _mentioning(team: str, rows: dict[str, list[Row]], schema: MetaData) -> dict[str, list[Row]]:
    """The rows that name `team` in any column, or point (foreign key) at a row that does."""
    found: dict[str, list[Row]] = {}
    for table in schema.sorted_tables:  # parents before children
        keys = list(_referenced(table, found, schema))
        found[table.name] = [
            row
            for row in rows[table.name]
            if any(value is not None and team in str(value) for value in row)
            or any(row[i] in values for i, values in keys)
        ]
    return {name: hits for name, hits in found.items() if hits}


def _referenced(
    table: Table, found: dict[str, list[Row]], schema: MetaData
) -> Iterable[tuple[int, set[Any]]]:
    """For each foreign key of `table`: its column's position, and the values it takes in the rows found."""
    names = list(table.columns.keys())
    for fk in table.foreign_keys:
        parent = schema.tables[fk.column.table.name]
        at = list(parent.columns.keys()).index(fk.column.name)
        yield names.index(fk.parent.name), {row[at] for row in found.get(parent.name, [])}


def _sorted(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=repr)


def _cli(env_file: Path, *args: str, answer: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "--env-file", str(env_file), "--log-level", "WARNING", *args],
        input=answer, capture_output=True, text=True, cwd=env_file.parent, timeout=120,
    )  # fmt: skip


@pytest.fixture
def env_file(tmp_path: Path, database_url: str, secret_key: str) -> Path:
    path = tmp_path / "forget.env"
    path.write_text(f"THREAD_NOTE_DATABASE_URL={database_url}\nTHREAD_NOTE_SECRET_KEY={secret_key}\n")
    return path


def test_forget_workspace_leaves_no_row_of_the_team_in_any_table_and_every_other_row_as_it_was(
    database_url: str, secret_key: str, clock: FakeClock, env_file: Path
) -> None:
    asyncio.run(_fill_both(database_url, secret_key, clock))
    before, schema = _everything(database_url)
    gone, stays = _mentioning(FORGOTTEN, before, schema), _mentioning(KEPT, before, schema)
    assert set(before) - SHARED == set(gone) == set(stays), "fill every table with both teams, or list it"

    done = _cli(env_file, "forget-workspace", FORGOTTEN, "--yes")
    assert done.returncode == 0, done.stderr
    assert f"Deleted {sum(map(len, gone.values()))} rows of {FORGOTTEN}:" in done.stdout
    assert "  outbox: 3" in done.stdout and "  slack_installations: 1" in done.stdout

    after, schema = _everything(database_url)
    left = _mentioning(FORGOTTEN, after, schema)
    assert list(left) == ["audit_log"] and len(left["audit_log"]) == 1, left
    record = dict(zip(schema.tables["audit_log"].columns.keys(), left["audit_log"][0], strict=True))
    assert record["action"] == "forget_workspace" and record["user_id"].startswith("cli")
    assert record["extension_id"] is None and record["thread_id"] is None
    marks = [[r for r in rows["kv_state"] if r[0] == MARK[1]] for rows in (before, after)]
    assert len(marks[1]) == 1 and marks[0] != marks[1], "the subscriptions' change mark was not rewritten"
    for name, rows in before.items():
        expected = [r for r in rows if r not in gone.get(name, []) and (name, r[0]) != MARK]
        now = [r for r in after[name] if r not in left.get(name, []) and (name, r[0]) != MARK]
        assert _sorted(now) == _sorted(expected), f"{name} changed beyond the forgotten team's rows"


def test_forget_workspace_asks_first_and_says_when_there_is_nothing_to_forget(
    database_url: str, secret_key: str, clock: FakeClock, env_file: Path
) -> None:
    asyncio.run(_fill_both(database_url, secret_key, clock))
    before, _ = _everything(database_url)

    declined = _cli(env_file, "forget-workspace", FORGOTTEN, answer="yes\n")
    assert declined.returncode == 1
    assert f"Stored for {FORGOTTEN}:" in declined.stdout and "  rc_links: 1" in declined.stdout
    assert "Nothing was deleted." in declined.stdout
    no_input = _cli(env_file, "forget-workspace", FORGOTTEN)  # a script without --yes
    assert no_input.returncode == 1 and "Nothing was deleted." in no_input.stdout
    assert _everything(database_url)[0] == before

    confirmed = _cli(env_file, "forget-workspace", FORGOTTEN, answer=f"{FORGOTTEN}\n")
    assert confirmed.returncode == 0, confirmed.stderr
    again = _cli(env_file, "forget-workspace", FORGOTTEN, "--yes")
    assert again.returncode == 1
    assert f"nothing is stored for {FORGOTTEN} (forgotten " in again.stderr and "by cli" in again.stderr


def test_forget_workspace_with_an_enterprise_org_id_removes_the_org_wide_installation(
    database_url: str, secret_key: str, clock: FakeClock, env_file: Path
) -> None:
    async def install(store: Store) -> None:
        for org in ("E0GONE4711", "E0STAYS815"):  # org-wide: kept under the org's id, team ""
            await store.save_slack_installation(org, None, "U1", {"is_enterprise_install": True}, {"t": 1})

    async def found(store: Store, org: str) -> tuple[bool, bool]:
        return await store.find_slack_installation(org, None) is not None, await store.find_slack_bot(
            org, None
        ) is not None

    asyncio.run(_with_store(database_url, secret_key, clock, install))
    done = _cli(env_file, "forget-workspace", "E0GONE4711", "--yes")
    assert done.returncode == 0, done.stderr
    assert "  slack_installations: 1" in done.stdout and "  slack_bots: 1" in done.stdout
    assert asyncio.run(_with_store(database_url, secret_key, clock, lambda s: found(s, "E0GONE4711"))) == (
        False,
        False,
    )
    assert asyncio.run(_with_store(database_url, secret_key, clock, lambda s: found(s, "E0STAYS815"))) == (
        True,
        True,
    )


async def _with_store(database_url: str, secret_key: str, clock: FakeClock, fn: Any) -> Any:
    async with await Store.open(database_url, [secret_key], clock=clock) as store:
        return await fn(store)


@pytest.mark.parametrize("team_id", ["t0lower", "C0CHANNEL1", "T0 SPACE", "T"])
def test_forget_workspace_refuses_what_is_no_team_id(team_id: str, tmp_path: Path) -> None:
    env = tmp_path / "x.env"
    env.write_text("")
    refused = _cli(env, "forget-workspace", team_id, "--yes")
    assert refused.returncode == 2
    assert "is not a Slack team id (T…) or Enterprise org id (E…)" in refused.stderr
