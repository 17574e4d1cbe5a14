"""Which RingCentral account each Slack workspace reads, as channel notifications see it (issue 16).

An **account key** names the account: "" is the deployment's own (RINGCENTRAL_JWT), any other value the id of
the account a workspace admin linked (`tenant_accounts`, `bot/store/tenant_accounts.py`). A workspace with a
row reads its account whatever the row's status: a paused account's workspaces get nothing, never the
deployment's notes. A workspace without one reads the deployment's, exactly as before workspaces had
accounts.

`linked` (team → account) is what routing asks on every poll of every feed: one small query without the
credentials, re-read at most every `ttl` seconds and shared by the replica's feeds (so a workspace linked or
relinked a moment ago is routed by its new account within a second). `active` (the accounts whose feeds run,
each with a workspace's row to build its client from, credential included) is read when the feeds are
claimed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from bot.logs import get_logger
from bot.store.feed_state import DEPLOYMENT
from bot.store.protocols import TenancyStore
from bot.store.tenant_accounts import ACTIVE, PAUSED, TenantAccount

log = get_logger(__name__)


class Tenancy:
    def __init__(
        self, store: TenancyStore, *, ttl: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self.ttl = ttl
        self._monotonic = monotonic
        self._linked: dict[str, str] = {}
        self._read_at = float("-inf")

    async def linked(self) -> Mapping[str, str]:
        """team id → account id of every workspace that linked an account (whatever its status)."""
        if self._monotonic() - self._read_at >= self.ttl:
            rows = await self._store.linked_accounts()
            linked = {team: account for team, (account, _) in rows.items()}
            if linked != self._linked:  # the same object while nothing changes: the feeds' routing keeps
                self._linked = linked
            self._read_at = self._monotonic()
        return self._linked

    async def account_of(self, team_id: str) -> str:
        """The account key of `team_id`'s workspace."""
        return (await self.linked()).get(team_id, DEPLOYMENT)

    async def active(self) -> dict[str, TenantAccount]:
        """account id → the row (of its first workspace by team id) of every account with an active link."""
        found: dict[str, TenantAccount] = {}
        for row in await self._store.tenant_accounts():
            if row.status == ACTIVE:
                found.setdefault(row.account_id, row)
        return found

    async def pause(self, account: str, reason: str) -> list[str]:
        """Pause every workspace's active link to `account` (its feed stops until an admin links it again);
        returns the workspaces paused now (none when all already were: a second pause tells nobody again)."""
        rows = await self._store.linked_accounts()
        teams = sorted(team for team, (acct, status) in rows.items() if acct == account and status == ACTIVE)
        for team in teams:
            await self._store.set_tenant_status(team, PAUSED, reason)
        self._read_at = float("-inf")
        log.warning("tenancy.account_paused", account=account, teams=len(teams), reason=reason)
        return teams
