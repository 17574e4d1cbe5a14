"""Tenants: forgetting a Slack workspace (`thread-note-bot forget-workspace T…`), every row of it, in one
transaction.

A tenant is a Slack workspace (its team id, `T…`), or an Enterprise org (`E…`) where the app is installed
org-wide: its installation and bot are kept under `enterprise_id` with `team_id` "" (`slack_installs.py`),
while what its people do is kept under each workspace's own team id, so an org's workspaces are forgotten one
by one (each `T…`) and the org's id removes the org-wide installation (and anything kept under that id).

What goes, table by table (`_team_rows`): the installation and bot (tokens); links and the sign-ins under way
(`rc_links`, `pending_links`, `oauth_states`); subscriptions with their outbox rows (quiet hours' held and
summary rows are outbox rows) and digest runs; its own RingCentral account's link and credential
(`tenant_accounts`); the Slack threads, note messages and two-way replies posted
or read in its channels; named state and leases whose name carries the team id as one `:`-separated part
(the channel leases `notify:channel:<team>:<channel>`); and its audit entries.

What stays, because it is not the tenant's: the RingCentral side (`rc_threads`, `feed_resources`: one
RingCentral account serves the deployment today, so the cached threads and each resource's poll health are
shared; once workspaces bring their own accounts, the account's rows go with the workspace that owns it),
the hashed one-time states of Slack's install flow (`slack_oauth_states`: a hash names no team), and the
hashed signatures of the replay guard (`seen_signatures`, gone within minutes). `tests/store/test_tenants.py`
reflects every table of the schema, so a table added later with the team in it fails until it is listed here.

The audit log keeps one entry: the record that the workspace was forgotten (its team id, when, by whom, how
many rows of which table), action `forget_workspace`. An operator must be able to show that an erasure was
asked for and carried out, and when — long after the rows and the log lines are gone — and the entry holds
no person's data: no user or extension id, no thread, note or text, only the id of the company's workspace.
Every other audit entry of the team goes (they name its people, threads and notes). Forgetting again adds
another record and deletes none.

Not built yet (issue 16, item 2): the admin action in Slack. It is to call `forget_workspace` through the
`TenantStore` protocol with `by` naming the Slack admin (their user id), once the listeners' restructuring has
landed; `thread-note-bot forget-workspace` (bot/cli.py) is the operators' way meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from bot.logs import get_logger
from bot.store._base import StoreBase
from bot.store.audit import OK, AuditAction
from bot.store.schema import (
    audit_log,
    digest_runs,
    kv_state,
    leases,
    note_messages,
    oauth_states,
    outbox,
    pending_links,
    rc_links,
    slack_bots,
    slack_installations,
    slack_notes,
    slack_threads,
    subscriptions,
    tenant_accounts,
)
from bot.store.subscriptions import subscriptions_changed

log = get_logger(__name__)

FORGET = AuditAction.FORGET_WORKSPACE


@dataclass(frozen=True)
class ForgottenWorkspace:
    """What `forget_workspace` deleted: rows per table (in the order deleted; tables with none left out)."""

    team_id: str
    rows: dict[str, int]
    at: datetime

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _names_part(column: sa.Column[str], team_id: str) -> ColumnElement[bool]:
    """A name with `team_id` as one of its `:`-separated parts (`notify:channel:T1:C1`, never `T12`)."""
    return sa.or_(
        column == team_id,
        column.startswith(f"{team_id}:", autoescape=True),
        column.endswith(f":{team_id}", autoescape=True),
        column.contains(f":{team_id}:", autoescape=True),
    )


def _team_rows(team_id: str) -> list[tuple[sa.Table, ColumnElement[bool]]]:
    """Every table holding rows of the team, with the condition that selects them; children first."""
    subs = sa.select(subscriptions.c.id).where(subscriptions.c.team_id == team_id).scalar_subquery()
    installed = {
        t: sa.or_(t.c.team_id == team_id, t.c.enterprise_id == team_id)
        for t in (slack_installations, slack_bots)
    }
    return [
        (outbox, outbox.c.subscription_id.in_(subs)),
        (digest_runs, digest_runs.c.subscription_id.in_(subs)),
        (subscriptions, subscriptions.c.team_id == team_id),
        (note_messages, note_messages.c.team_id == team_id),
        (slack_threads, slack_threads.c.team_id == team_id),
        (slack_notes, slack_notes.c.team_id == team_id),
        (rc_links, rc_links.c.team_id == team_id),
        (pending_links, pending_links.c.team_id == team_id),
        (oauth_states, oauth_states.c.team_id == team_id),
        (tenant_accounts, tenant_accounts.c.team_id == team_id),
        (slack_installations, installed[slack_installations]),
        (slack_bots, installed[slack_bots]),
        (leases, _names_part(leases.c.name, team_id)),
        (kv_state, _names_part(kv_state.c.name, team_id)),
        (audit_log, sa.and_(audit_log.c.team_id == team_id, audit_log.c.action != FORGET.value)),
    ]


class Tenants(StoreBase):
    async def workspace_rows(self, team_id: str) -> dict[str, int]:
        """How many rows of the team each table holds (tables with none left out): what `forget_workspace`
        would delete now. The records of earlier forgets are not counted (they stay)."""
        counts: dict[str, int] = {}
        async with self._tx() as conn:
            for table, where in _team_rows(team_id):
                n = await conn.execute(sa.select(sa.func.count()).select_from(table).where(where))
                counts[table.name] = int(n.scalar_one())
        return {name: n for name, n in counts.items() if n}

    async def forget_workspace(self, team_id: str, *, by: str) -> ForgottenWorkspace:
        """Delete every row of the team (module docstring), in one transaction, and record that it was done:
        one audit entry (`by`: who asked, e.g. `cli:<os user>`) and one log line."""
        now = self._now()
        rows: dict[str, int] = {}
        async with self._tx() as conn:
            for table, where in _team_rows(team_id):
                deleted = int((await conn.execute(table.delete().where(where))).rowcount)
                if deleted:
                    rows[table.name] = deleted
            if rows.get(subscriptions.name):  # the feed's snapshot of them is read again
                await subscriptions_changed(conn, now)
            tables = ", ".join(f"{name} {n}" for name, n in rows.items()) or "nothing was stored"
            record = {
                "at": now,
                "team_id": team_id,
                "user_id": by[:32],
                "action": FORGET.value,
                "note_ids": [],
                "outcome": OK,
                "detail": f"deleted {sum(rows.values())} rows: {tables}",
            }
            await conn.execute(audit_log.insert().values(record))
        log.info("store.workspace_forgotten", team_id=team_id, by=by, rows=sum(rows.values()), tables=rows)
        return ForgottenWorkspace(team_id, rows, now)
