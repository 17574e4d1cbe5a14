"""Connecting each person's RingCentral account (OAuth 2.0 code flow with PKCE) and acting as them.

- `connect_url` makes a fresh single-use `state` bound to the Slack user and workspace, valid for minutes,
  with the PKCE verifier kept encrypted beside it, and the action the person was trying (offered again
  after connecting).
- `complete` consumes the state exactly once, exchanges the code, learns who the person is in RingCentral
  and stores the tokens encrypted.
- `client` hands out a RingCentral client that acts as the person and persists refreshed tokens; a revoked
  or missing link is `NotConnected`, so the Slack layer can offer a one-click reconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.logs import get_logger
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import RingCentralError
from bot.ringcentral.models import Extension, TokenSet
from bot.service.clients import ClientFactory, tokens_for_store
from bot.service.errors import ConnectFailed, NotConnected
from bot.service.types import Actor
from bot.store import NotFoundInStore, StaleLink, Store
from bot.store.errors import StoreError

log = get_logger(__name__)

STATE_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class Connected:
    actor: Actor
    extension: Extension
    pending: dict[str, Any] | None


class Accounts:
    def __init__(
        self,
        store: Store,
        clients: ClientFactory,
        *,
        redirect_uri: str,
        state_ttl: timedelta = STATE_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._store = store
        self._clients = clients
        self._redirect_uri = redirect_uri
        self._state_ttl = state_ttl

    async def connect_url(self, actor: Actor, pending: dict[str, Any] | None = None) -> str:
        verifier, challenge = self._clients.new_pkce_pair()
        state = await self._store.create_oauth_state(
            actor.team_id, actor.user_id, code_verifier=verifier, pending_action=pending, ttl=self._state_ttl
        )
        return self._clients.oauth.authorize_url(self._redirect_uri, state, challenge)

    async def complete(self, code: str | None, state: str | None, error: str | None = None) -> Connected:
        if not state:
            raise ConnectFailed("missing_state")
        try:
            record = await self._store.consume_oauth_state(state)
        except StoreError as exc:
            raise ConnectFailed("bad_state", detail=str(exc)) from None
        actor = Actor(record.team_id, record.user_id)
        if error or not code:
            raise ConnectFailed("denied" if error == "access_denied" else "no_code", actor=actor)
        try:
            tokens = await self._clients.oauth.exchange_code(code, self._redirect_uri, record.code_verifier)
            client = self._clients.for_tokens(tokens)
            try:
                extension = await client.get_extension()
            finally:
                await client.aclose()
        except RingCentralError as exc:
            raise ConnectFailed("exchange_failed", actor=actor, detail=type(exc).__name__) from None
        await self._store.save_link(
            actor.team_id,
            actor.user_id,
            extension_id=extension.id,
            extension_name=extension.name,
            tokens=tokens_for_store(tokens, self._clock()),
        )
        await self._audit(actor, extension.id, "connect")
        log.info("account.connected", team_id=actor.team_id, user_id=actor.user_id, extension_id=extension.id)
        return Connected(actor, extension, record.pending_action)

    async def disconnect(self, actor: Actor) -> bool:
        link = await self._store.get_link(actor.team_id, actor.user_id)
        if link is None:
            return False
        try:
            await self._clients.oauth.revoke(link.tokens.refresh_token or link.tokens.access_token)
        except RingCentralError as exc:  # revoke failures are ignored by design (NOTES §4.4): forget anyway
            log.info("account.revoke_failed", error=type(exc).__name__)
        await self._store.delete_link(actor.team_id, actor.user_id)
        await self._audit(actor, link.extension_id, "disconnect")
        return True

    async def extension_id(self, actor: Actor) -> str:
        link = await self._store.get_link(actor.team_id, actor.user_id)
        if link is None:
            raise NotConnected()
        return link.extension_id

    async def linked(self, actor: Actor) -> tuple[str, str] | None:
        """(extension id, name) of the person's link, or None."""
        link = await self._store.get_link(actor.team_id, actor.user_id)
        return (link.extension_id, link.extension_name or link.extension_id) if link else None

    async def client(self, actor: Actor) -> RingCentralClient:
        """A client acting as the person; refreshed tokens are written back (compare-and-set on version)."""
        link = await self._store.get_link(actor.team_id, actor.user_id)
        if link is None:
            raise NotConnected()
        version = link.version

        async def persist(new_tokens: TokenSet) -> None:
            nonlocal version
            try:
                stored = await self._store.update_link_tokens(
                    actor.team_id,
                    actor.user_id,
                    tokens_for_store(new_tokens, self._clock()),
                    expected_version=version,
                )
                version = stored.version
            except StaleLink:  # another replica refreshed first; its tokens are as good as ours
                log.info("account.refresh_raced", team_id=actor.team_id, user_id=actor.user_id)
            except NotFoundInStore:  # the person disconnected meanwhile; nothing to keep
                pass

        return self._clients.for_link(link, on_refresh=persist)

    async def forget_revoked(self, actor: Actor) -> None:
        """RingCentral refused the person's refresh token: drop the dead link; they are asked to reconnect."""
        if await self._store.delete_link(actor.team_id, actor.user_id):
            log.info("account.revoked", team_id=actor.team_id, user_id=actor.user_id)

    async def _audit(self, actor: Actor, extension_id: str, action: str) -> None:
        await self._store.record_audit(
            team_id=actor.team_id, user_id=actor.user_id, extension_id=extension_id, action=action
        )
