"""One-time OAuth `state` values for `/thread-note connect` (authorization code with PKCE).

Only a SHA-256 hash of the state is stored, so a database reader cannot complete someone's sign-in; the PKCE
verifier is encrypted. Consuming is one conditional UPDATE: it succeeds once, before expiry, on any backend.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping

from bot.store._base import StoreBase
from bot.store.errors import InvalidOAuthState
from bot.store.schema import oauth_states

DEFAULT_STATE_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class OAuthState:
    """A consumed state: who started the sign-in, the PKCE verifier, and what they were trying to do."""

    team_id: str
    user_id: str
    code_verifier: str = field(repr=False)
    pending_action: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class OAuthStates(StoreBase):
    async def create_oauth_state(
        self,
        team_id: str,
        user_id: str,
        *,
        code_verifier: str,
        pending_action: dict[str, Any] | None = None,
        ttl: timedelta = DEFAULT_STATE_TTL,
    ) -> str:
        """A fresh unguessable state for the authorize URL; it works once, for `ttl`."""
        state = secrets.token_urlsafe(32)
        now = self._now()
        async with self._tx() as conn:
            await conn.execute(
                oauth_states.insert().values(
                    state_hash=_hash(state),
                    team_id=team_id,
                    user_id=user_id,
                    code_verifier=self._cipher.encrypt(code_verifier),
                    pending_action=pending_action,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return state

    async def consume_oauth_state(self, state: str) -> OAuthState:
        """Use the state up. `InvalidOAuthState` (reason `unknown`, `expired` or `used`) otherwise."""
        now = self._now()
        key = oauth_states.c.state_hash == _hash(state)
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    oauth_states.update()
                    .where(key, oauth_states.c.used_at.is_(None), oauth_states.c.expires_at > now)
                    .values(used_at=now)
                    .returning(*oauth_states.c)
                )
            ).first()
            if row is None:
                seen = (await conn.execute(sa.select(oauth_states.c.used_at).where(key))).first()
                if seen is None:
                    raise InvalidOAuthState("unknown")
                raise InvalidOAuthState("used" if seen.used_at is not None else "expired")
        return self._state(row._mapping)

    async def prune_oauth_states(self) -> int:
        """Delete expired states (used ones stay until expiry, so a replay says "already used")."""
        async with self._tx() as conn:
            result = await conn.execute(oauth_states.delete().where(oauth_states.c.expires_at <= self._now()))
        return int(result.rowcount)

    def _state(self, row: RowMapping) -> OAuthState:
        return OAuthState(
            team_id=row["team_id"],
            user_id=row["user_id"],
            code_verifier=self._cipher.decrypt(row["code_verifier"]),
            pending_action=row["pending_action"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )
