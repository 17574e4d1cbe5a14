"""Slack installations of the app (one per workspace, plus one per installing user) and the one-time `state`
values of the install flow (revision 0003).

The store knows nothing of slack-sdk: it keeps JSON objects, encrypted whole (tokens included), under the ids
lookups need; `bot/slack/install.py` turns them into slack-sdk's `Installation` and `Bot`. "" stands for
"none" in the key columns. States are kept as a SHA-256 hash and consumed atomically (at most once).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bot.store._base import StoreBase, upsert
from bot.store.schema import slack_bots, slack_installations, slack_oauth_states


def _key(value: str | None) -> str:
    return value or ""


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class SlackInstalls(StoreBase):
    async def save_slack_installation(
        self,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str,
        installation: dict[str, Any],
        bot: dict[str, Any] | None,
    ) -> None:
        """Keep the installation (and the workspace's bot, when it has a bot token) in one transaction."""
        now = self._now()
        ent, team = _key(enterprise_id), _key(team_id)
        async with self._tx() as conn:
            stmt = upsert(conn, slack_installations).values(
                enterprise_id=ent,
                team_id=team,
                user_id=user_id,
                data=self._cipher.encrypt(json.dumps(installation)),
                installed_at=now,
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=list(slack_installations.primary_key.columns),
                    set_={"data": stmt.excluded.data, "installed_at": stmt.excluded.installed_at},
                )
            )
            if bot is not None:
                await self._save_bot(conn, ent, team, bot, now)

    async def save_slack_bot(
        self, enterprise_id: str | None, team_id: str | None, bot: dict[str, Any]
    ) -> None:
        async with self._tx() as conn:
            await self._save_bot(conn, _key(enterprise_id), _key(team_id), bot, self._now())

    async def _save_bot(self, conn: Any, ent: str, team: str, bot: dict[str, Any], now: Any) -> None:
        stmt = upsert(conn, slack_bots).values(
            enterprise_id=ent, team_id=team, data=self._cipher.encrypt(json.dumps(bot)), installed_at=now
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=list(slack_bots.primary_key.columns),
                set_={"data": stmt.excluded.data, "installed_at": stmt.excluded.installed_at},
            )
        )

    async def find_slack_bot(self, enterprise_id: str | None, team_id: str | None) -> dict[str, Any] | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(slack_bots.c.data).where(
                        slack_bots.c.enterprise_id == _key(enterprise_id),
                        slack_bots.c.team_id == _key(team_id),
                    )
                )
            ).first()
        return None if row is None else dict(json.loads(self._cipher.decrypt(row.data)))

    async def find_slack_installation(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> dict[str, Any] | None:
        """The installing user's installation, or (no user) the workspace's latest one."""
        query = sa.select(slack_installations.c.data).where(
            slack_installations.c.enterprise_id == _key(enterprise_id),
            slack_installations.c.team_id == _key(team_id),
        )
        if user_id is not None:
            query = query.where(slack_installations.c.user_id == user_id)
        query = query.order_by(slack_installations.c.installed_at.desc()).limit(1)
        async with self._tx() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else dict(json.loads(self._cipher.decrypt(row.data)))

    async def delete_slack_bot(self, enterprise_id: str | None, team_id: str | None) -> int:
        async with self._tx() as conn:
            result = await conn.execute(
                slack_bots.delete().where(
                    slack_bots.c.enterprise_id == _key(enterprise_id), slack_bots.c.team_id == _key(team_id)
                )
            )
        return int(result.rowcount)

    async def delete_slack_installations(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> int:
        """Forget the workspace's installations (one user's only, when `user_id` is given)."""
        where = [
            slack_installations.c.enterprise_id == _key(enterprise_id),
            slack_installations.c.team_id == _key(team_id),
        ]
        if user_id is not None:
            where.append(slack_installations.c.user_id == user_id)
        async with self._tx() as conn:
            result = await conn.execute(slack_installations.delete().where(*where))
        return int(result.rowcount)

    # --- one-time states of the install flow ------------------------------------------------------------

    async def issue_slack_state(self, state: str, ttl: timedelta) -> None:
        now = self._now()
        async with self._tx() as conn:
            await conn.execute(
                slack_oauth_states.insert().values(
                    state_hash=_hash(state), created_at=now, expires_at=now + ttl, used_at=None
                )
            )
            # housekeeping: states are short-lived, drop the long-expired ones
            await conn.execute(slack_oauth_states.delete().where(slack_oauth_states.c.expires_at < now - ttl))

    async def consume_slack_state(self, state: str) -> bool:
        """True exactly once for a state issued here and not expired; False otherwise."""
        now = self._now()
        async with self._tx() as conn:
            result = await conn.execute(
                slack_oauth_states.update()
                .where(
                    slack_oauth_states.c.state_hash == _hash(state),
                    slack_oauth_states.c.used_at.is_(None),
                    slack_oauth_states.c.expires_at > now,
                )
                .values(used_at=now)
            )
        return bool(result.rowcount)
