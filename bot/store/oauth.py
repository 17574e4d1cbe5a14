"""One-time OAuth `state` values for `/thread-note connect` (authorization code with PKCE), and the sign-ins
waiting for the person's confirmation (`pending_links`).

Only a SHA-256 hash of the state is stored, so a database reader cannot complete someone's sign-in; the PKCE
verifier is encrypted. Consuming is one conditional UPDATE: it succeeds once, before expiry, on any backend.
A state made `reusable` (the App Home's link) also keeps its own ciphertext, so the next App Home open shows
the same link while it lives instead of adding a row. A pending link is taken (deleted) once, by the
confirming POST's form token, which is stored as a hash too.
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
from bot.store.links import Tokens
from bot.store.schema import oauth_states, pending_links

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


@dataclass(frozen=True)
class PendingLink:
    """A RingCentral sign-in waiting for the person's "Link" on the confirmation page."""

    team_id: str
    user_id: str
    extension_id: str
    extension_name: str | None
    tokens: Tokens
    pending_action: dict[str, Any] | None
    extension_number: str | None = None  # to name the person as the sign-in page did ("(ext. 101)")


class OAuthStates(StoreBase):
    async def create_oauth_state(
        self,
        team_id: str,
        user_id: str,
        *,
        code_verifier: str,
        pending_action: dict[str, Any] | None = None,
        ttl: timedelta = DEFAULT_STATE_TTL,
        reusable: bool = False,
    ) -> str:
        """A fresh unguessable state for the authorize URL; it works once, for `ttl`. A `reusable` one can be
        found again by `live_oauth_state` while it is unused and alive."""
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
                    state_cipher=self._cipher.encrypt(state) if reusable else None,
                )
            )
        return state

    async def live_oauth_state(
        self, team_id: str, user_id: str, *, valid_for: timedelta
    ) -> tuple[str, str] | None:
        """(state, PKCE verifier) of the person's reusable state, unused and alive for `valid_for` more."""
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(oauth_states.c.state_cipher, oauth_states.c.code_verifier)
                    .where(
                        oauth_states.c.team_id == team_id,
                        oauth_states.c.user_id == user_id,
                        oauth_states.c.state_cipher.is_not(None),
                        oauth_states.c.used_at.is_(None),
                        oauth_states.c.expires_at > self._now() + valid_for,
                    )
                    .order_by(oauth_states.c.expires_at.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return self._cipher.decrypt(row.state_cipher), self._cipher.decrypt(row.code_verifier)

    async def create_pending_link(self, link: PendingLink, *, ttl: timedelta = DEFAULT_STATE_TTL) -> str:
        """Keep a sign-in until the person confirms it; returns the one-time form token."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        refresh = link.tokens.refresh_token
        async with self._tx() as conn:
            await conn.execute(
                pending_links.insert().values(
                    token_hash=_hash(token),
                    team_id=link.team_id,
                    user_id=link.user_id,
                    extension_id=link.extension_id,
                    extension_name=link.extension_name,
                    extension_number=link.extension_number,
                    access_token=self._cipher.encrypt(link.tokens.access_token),
                    refresh_token=None if refresh is None else self._cipher.encrypt(refresh),
                    access_expires_at=link.tokens.access_expires_at,
                    refresh_expires_at=link.tokens.refresh_expires_at,
                    pending_action=link.pending_action,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    async def take_pending_link(self, token: str) -> PendingLink:
        """The pending sign-in, removed (it works once, before expiry); `InvalidOAuthState` otherwise."""
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    pending_links.delete()
                    .where(pending_links.c.token_hash == _hash(token))
                    .returning(*pending_links.c)
                )
            ).first()
        if row is None:
            raise InvalidOAuthState("unknown")
        if row.expires_at <= self._now():
            raise InvalidOAuthState("expired")
        refresh = row.refresh_token
        return PendingLink(
            team_id=row.team_id,
            user_id=row.user_id,
            extension_id=row.extension_id,
            extension_name=row.extension_name,
            extension_number=row.extension_number,
            tokens=Tokens(
                access_token=self._cipher.decrypt(row.access_token),
                access_expires_at=row.access_expires_at,
                refresh_token=None if refresh is None else self._cipher.decrypt(refresh),
                refresh_expires_at=row.refresh_expires_at,
            ),
            pending_action=row.pending_action,
        )

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
        """Delete expired states and unconfirmed sign-ins (used states stay until expiry, so a replay says
        "already used"). The notifier runs it periodically."""
        now = self._now()
        async with self._tx() as conn:
            result = await conn.execute(oauth_states.delete().where(oauth_states.c.expires_at <= now))
            pending = await conn.execute(pending_links.delete().where(pending_links.c.expires_at <= now))
        return int(result.rowcount) + int(pending.rowcount)

    def _state(self, row: RowMapping) -> OAuthState:
        return OAuthState(
            team_id=row["team_id"],
            user_id=row["user_id"],
            code_verifier=self._cipher.decrypt(row["code_verifier"]),
            pending_action=row["pending_action"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )
