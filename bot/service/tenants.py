"""Which RingCentral account serves a Slack workspace (issue 16).

An **account key** names it: "" is the deployment's account (RINGCENTRAL_JWT), any other value the id of the
RingCentral account a workspace admin linked (`/thread-note setup`, `bot/store/tenant_accounts.py`).
"""

from __future__ import annotations

from bot.store.protocols import TenantAccountStore

DEPLOYMENT = ""  # the account key of the deployment's own account


async def account_key_for_team(store: TenantAccountStore, team_id: str) -> str:
    """The workspace's account id when it linked one (whatever its status), else "" (the deployment's)."""
    account = await store.tenant_account(team_id)
    return DEPLOYMENT if account is None else account.account_id
