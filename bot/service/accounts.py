"""Connecting each person's RingCentral account (OAuth 2.0 code flow with PKCE) and acting as them.

- `connect_url` makes a fresh single-use `state` bound to the Slack user and workspace, valid for minutes,
  with the PKCE verifier kept encrypted beside it, and the action the person was trying (offered again
  after connecting).
- `complete` consumes the state exactly once, exchanges the code and learns who signed in to RingCentral.
  It refuses an extension of another RingCentral account than the workspace's own: the account a workspace
  admin linked (`bot/service/tenant_link.py`), else the deployment's (the service identity's),
  and one whose email differs from the Slack person's (when Slack shares it: `users:read.email`). Nothing is
  linked yet: the sign-in waits (encrypted) for the person to confirm, on a page that names the Slack person
  and workspace and the RingCentral identity, so a forwarded connect link cannot link someone else quietly.
- `confirm` takes the waiting sign-in once (one-time form token) and stores the link; it returns the other
  Slack users already linked to that extension, who are told.
- `client` hands out a RingCentral client that acts as the person and persists refreshed tokens; a session
  RingCentral refuses for good drops the link (`forget_revoked`), and a missing link is `NotConnected`, so
  the Slack layer can offer a one-click reconnect.

A state started by a workspace admin's "Sign in with RingCentral" (`TenantLinks.sign_in_url`) comes back
through the same callback: `complete` exchanges its code and hands the session back as `TenantSignIn`,
for `TenantLinks.complete_sign_in` to check and keep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.logs import get_logger
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import RingCentralError
from bot.ringcentral.models import Extension, TokenSet
from bot.service.clients import ClientFactory, tokens_for_store
from bot.service.errors import ConnectFailed, NotConnected
from bot.service.tenant_link import is_tenant_link
from bot.service.types import Actor
from bot.store import NotFoundInStore, StaleLink
from bot.store.errors import StoreError
from bot.store.oauth import PendingLink
from bot.store.protocols import AccountStore

log = get_logger(__name__)

STATE_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class Connected:
    actor: Actor
    extension: Extension
    pending: dict[str, Any] | None
    others: tuple[Actor, ...] = ()  # other Slack users already linked to this extension


@dataclass(frozen=True)
class SlackPerson:
    """The Slack side of a link, as Slack describes it (`email` only with the `users:read.email` scope)."""

    name: str
    team_name: str
    email: str | None = None
    external: bool = False  # a person of another organisation (in a Slack Connect channel)


@dataclass(frozen=True)
class ToConfirm:
    """A sign-in waiting for "Link" on the callback page; `form_token` works once."""

    actor: Actor
    extension: Extension
    person: SlackPerson
    form_token: str


@dataclass(frozen=True)
class TenantSignIn:
    """A workspace admin signed in as the service user of the workspace's own account (not yet checked)."""

    actor: Actor
    tokens: TokenSet


WhoIs = Callable[[Actor], Awaitable[SlackPerson]]


class Accounts:
    def __init__(
        self,
        store: AccountStore,
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
        self._account_id: str | None = None

    async def connect_url(
        self, actor: Actor, pending: dict[str, Any] | None = None, *, reuse: bool = False
    ) -> str:
        """A sign-in link. With `reuse` (App Home, opened again and again) the person's live link is shown
        again while it has a few minutes left, instead of a new state per open."""
        if reuse and pending is None:
            live = await self._store.live_oauth_state(
                actor.team_id, actor.user_id, valid_for=self._state_ttl / 4
            )
            if live is not None:
                state, verifier = live
                challenge = self._clients.pkce_challenge(verifier)
                return self._clients.oauth.authorize_url(self._redirect_uri, state, challenge)
        verifier, challenge = self._clients.new_pkce_pair()
        state = await self._store.create_oauth_state(
            actor.team_id, actor.user_id, code_verifier=verifier, pending_action=pending, ttl=self._state_ttl,
            reusable=reuse and pending is None,
        )  # fmt: skip
        return self._clients.oauth.authorize_url(self._redirect_uri, state, challenge)

    async def complete(
        self, code: str | None, state: str | None, error: str | None = None, *, who: WhoIs
    ) -> ToConfirm | TenantSignIn:
        """Check the sign-in and keep it for the person's confirmation; `ConnectFailed` says why not. A
        workspace link's sign-in is handed back as it is (`TenantSignIn`)."""
        if not state:
            raise ConnectFailed("missing_state")
        try:
            record = await self._store.consume_oauth_state(state)
        except StoreError as exc:
            raise ConnectFailed("bad_state", detail=str(exc)) from None
        actor = Actor(record.team_id, record.user_id)
        if error or not code:
            raise ConnectFailed("denied" if error == "access_denied" else "no_code", actor=actor)
        if is_tenant_link(record.pending_action):
            try:
                tokens = await self._clients.oauth.exchange_code(
                    code, self._redirect_uri, record.code_verifier
                )
            except RingCentralError as exc:
                raise ConnectFailed("exchange_failed", actor=actor, detail=type(exc).__name__) from None
            return TenantSignIn(actor, tokens)
        try:
            tokens = await self._clients.oauth.exchange_code(code, self._redirect_uri, record.code_verifier)
            client = self._clients.for_tokens(tokens)
            try:
                extension = await client.get_extension()
            finally:
                await client.aclose()
            ours = await self._workspace_account(actor.team_id)
        except RingCentralError as exc:
            raise ConnectFailed("exchange_failed", actor=actor, detail=type(exc).__name__) from None
        stored = tokens_for_store(tokens, self._clock())
        if extension.account_id != ours:
            await self._revoke(stored)
            raise ConnectFailed("other_account", actor=actor)
        person = await who(actor)
        if person.external:
            await self._revoke(stored)
            raise ConnectFailed("external_user", actor=actor)
        if person.email and extension.email and person.email.casefold() != extension.email.casefold():
            await self._revoke(stored)
            log.info("account.email_mismatch", team_id=actor.team_id, user_id=actor.user_id)
            raise ConnectFailed("email_mismatch", actor=actor, extension_name=extension.name or extension.id)
        pending = PendingLink(
            actor.team_id,
            actor.user_id,
            extension.id,
            extension.name,
            stored,
            record.pending_action,
            extension_number=extension.extension_number,
        )
        token = await self._store.create_pending_link(pending, ttl=self._state_ttl)
        return ToConfirm(actor, extension, person, token)

    async def confirm(self, form_token: str | None, *, accept: bool) -> Connected | None:
        """The person's answer on the callback page: link (returns the link made) or cancel (None)."""
        if not form_token:
            raise ConnectFailed("missing_state")
        try:
            pending = await self._store.take_pending_link(form_token)
        except StoreError as exc:
            raise ConnectFailed("bad_state", detail=str(exc)) from None
        actor = Actor(pending.team_id, pending.user_id)
        if not accept:
            await self._revoke(pending.tokens)
            log.info("account.link_cancelled", team_id=actor.team_id, user_id=actor.user_id)
            return None
        others = tuple(
            Actor(team_id, user_id)
            for team_id, user_id in await self._store.users_linked_to(pending.extension_id)
            if (team_id, user_id) != (actor.team_id, actor.user_id)
        )
        await self._store.save_link(
            actor.team_id,
            actor.user_id,
            extension_id=pending.extension_id,
            extension_name=pending.extension_name,
            tokens=pending.tokens,
        )
        await self._audit(actor, pending.extension_id, "connect")
        log.info(
            "account.connected",
            team_id=actor.team_id,
            user_id=actor.user_id,
            extension_id=pending.extension_id,
        )
        extension = Extension(
            id=pending.extension_id, name=pending.extension_name, extension_number=pending.extension_number
        )
        return Connected(actor, extension, pending.pending_action, others)

    async def _workspace_account(self, team_id: str) -> str | None:
        """The RingCentral account the workspace's people connect to: the one its admin linked, if any, else
        the deployment's."""
        tenant = await self._store.tenant_account(team_id)
        return tenant.account_id if tenant is not None else await self._deployment_account()

    async def _deployment_account(self) -> str | None:
        """The RingCentral account id of the service identity: the account this deployment serves."""
        if self._account_id is None:
            client = self._clients.service()
            self._account_id = (await client.get_extension()).account_id
        return self._account_id

    async def _revoke(self, tokens: Any) -> None:
        try:
            await self._clients.oauth.revoke(tokens.refresh_token or tokens.access_token)
        except RingCentralError as exc:  # revoke failures are ignored by design (NOTES §4.4)
            log.info("account.revoke_failed", error=type(exc).__name__)

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

        async def revoked() -> None:
            await self.forget_revoked(actor, version=version)

        return self._clients.for_link(link, on_refresh=persist, on_revoked=revoked)

    async def forget_revoked(self, actor: Actor, *, version: int) -> None:
        """RingCentral refused the person's session (refresh token revoked, expired or spent): drop the dead
        link, so that Slack no longer shows them connected; they are asked to reconnect. Only the link at
        `version`, the one refused: refresh tokens are single-use, so a refusal may only mean that another
        replica refreshed first, and the link it stored is alive."""
        if await self._store.delete_link(actor.team_id, actor.user_id, expected_version=version):
            log.info("account.revoked", team_id=actor.team_id, user_id=actor.user_id)

    async def _audit(self, actor: Actor, extension_id: str, action: str) -> None:
        await self._store.record_audit(
            team_id=actor.team_id, user_id=actor.user_id, extension_id=extension_id, action=action
        )
