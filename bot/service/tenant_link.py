"""Linking a Slack workspace to its own RingCentral account (issue 16), by a workspace admin.

Two ways, both checked at once, before anything is kept (`check`): the credential signs in, names its
extension and account, may read message threads (the app's SMS permission), and its user is an SMS recipient
of at least one call queue or site (which ones is shown to the admin):

- `link_jwt`: a JWT credential pasted into a modal. One sign-in checks it and is signed out again; the JWT is
  kept (encrypted) and the workspace's feed signs in with it (`ClientFactory.service_for`).
- `sign_in_url` / `complete_sign_in`: the admin signs in to RingCentral as the service user (code + PKCE),
  through the same callback and one-time `state` as a person's connect (`Accounts`), the state marked with
  `pending_action` {"purpose": "tenant_link"}. The tokens are kept (encrypted, as JSON) and refreshed.

`remove` revokes an OAuth session (a JWT has no session to revoke: the admin revokes the credential itself in
RingCentral) and deletes the link; the workspace goes back to the deployment's account (RINGCENTRAL_JWT).
Linking and removing are audited by the store, with the admin's user id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.logs import get_logger
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import AuthError, Forbidden, RateLimited, RingCentralError
from bot.ringcentral.models import Extension, TokenSet
from bot.service.clients import ClientFactory
from bot.service.errors import LinkRefused
from bot.service.types import Actor
from bot.store.protocols import OAuthStore, TenantAccountStore
from bot.store.tenant_accounts import JWT, OAUTH, TenantAccount

log = get_logger(__name__)

PURPOSE = "tenant_link"  # `pending_action` of an OAuth state that links a workspace, not a person
STATE_TTL = timedelta(minutes=10)
MAX_RESOURCES = 25  # SMS recipients asked of at most this many queues and sites while the admin waits


def is_tenant_link(pending: dict[str, Any] | None) -> bool:
    """An OAuth state started by `sign_in_url` (a workspace's link) rather than a person's connect."""
    return bool(pending) and pending.get("purpose") == PURPOSE  # type: ignore[union-attr]


@dataclass(frozen=True)
class Checked:
    """What a credential was found to be: its user and account, and the queues and sites it handles (None
    where RingCentral does not let the app read SMS recipients, but its threads are readable)."""

    extension: Extension
    account_id: str
    resources: tuple[str, ...] | None


@dataclass(frozen=True)
class Linked:
    account: TenantAccount
    resources: tuple[str, ...] | None


class TenantLinkStore(TenantAccountStore, OAuthStore, Protocol):
    """What linking needs: the workspace's account, OAuth states for the sign-in way, and its people's links
    (forgotten when the account changes)."""

    async def delete_team_links(self, team_id: str) -> int: ...


class TenantLinks:
    def __init__(
        self,
        store: TenantLinkStore,
        clients: ClientFactory,
        *,
        redirect_uri: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_unlinked: Callable[[TenantAccount], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._clients = clients
        self._redirect_uri = redirect_uri
        self._clock = clock
        # A workspace stopped reading an account (removed, or replaced by another): called while the old
        # link's credential still works (channel notifications delete that account's webhook subscription).
        self._on_unlinked = on_unlinked

    async def account(self, team_id: str) -> TenantAccount | None:
        return await self._store.tenant_account(team_id)

    async def link_jwt(self, admin: Actor, jwt: str) -> Linked:
        """Check the JWT (one sign-in, signed out again) and keep it as the workspace's credential."""
        jwt = "".join(jwt.split())
        if jwt.count(".") != 2:
            raise LinkRefused(
                "not_a_jwt",
                "This is not a JWT credential: paste the whole JWT from the RingCentral Developer Console "
                "(Credentials → JWT), three parts separated by dots.",
            )
        try:
            tokens = await self._clients.oauth.jwt_grant(jwt)
        except AuthError:
            raise LinkRefused(
                "jwt_refused",
                "RingCentral refused this JWT: check that it is for this app's RingCentral server, not "
                "expired or revoked, and that the app allows the JWT auth flow.",
            ) from None
        except RingCentralError as exc:
            raise _unavailable(exc) from None
        try:
            checked = await self._check_tokens(tokens)
        finally:
            await self._clients.oauth.revoke(tokens.refresh_token or tokens.access_token)
        return await self._keep(admin, checked, JWT, jwt)

    async def sign_in_url(self, admin: Actor) -> str:
        """The RingCentral sign-in for the service user, bound to this admin and workspace (10 minutes)."""
        verifier, challenge = self._clients.new_pkce_pair()
        state = await self._store.create_oauth_state(
            admin.team_id,
            admin.user_id,
            code_verifier=verifier,
            pending_action={"purpose": PURPOSE},
            ttl=STATE_TTL,
        )
        return self._clients.oauth.authorize_url(self._redirect_uri, state, challenge)

    async def complete_sign_in(self, admin: Actor, tokens: TokenSet) -> Linked:
        """The callback of `sign_in_url`: check the session and keep its tokens; a refused one is revoked."""
        try:
            checked = await self._check_tokens(tokens)
        except LinkRefused:
            await self._clients.oauth.revoke(tokens.refresh_token or tokens.access_token)
            raise
        return await self._keep(admin, checked, OAUTH, tokens.model_dump_json())

    async def remove(self, admin: Actor) -> TenantAccount | None:
        """Unlink the workspace's account (revoking an OAuth session first); None when none was linked."""
        account = await self._store.tenant_account(admin.team_id)
        if account is None:
            return None
        if self._on_unlinked is not None:
            await self._on_unlinked(account)
        if account.kind == OAUTH:
            tokens = TokenSet.model_validate_json(account.credential)
            await self._clients.oauth.revoke(tokens.refresh_token or tokens.access_token)
        await self._store.remove_tenant_account(admin.team_id, by=admin.user_id)
        await self._forget_people(admin.team_id)
        self._clients.forget_service(account.account_id)
        log.info("tenant.unlinked", team_id=admin.team_id, account_id=account.account_id, by=admin.user_id)
        return account

    async def _keep(self, admin: Actor, checked: Checked, kind: str, credential: str) -> Linked:
        before = await self._store.tenant_account(admin.team_id)
        ext = checked.extension
        account = TenantAccount(
            admin.team_id, checked.account_id, kind, credential, ext.id, ext.name, version=0
        )
        await self._store.save_tenant_account(account, by=admin.user_id)
        if before is None or before.account_id != account.account_id:  # another account than people used
            await self._forget_people(admin.team_id)
            if before is not None and self._on_unlinked is not None:
                await self._on_unlinked(before)
        if before is not None and before.kind == OAUTH:  # replaced: its RingCentral session ends too
            old = TokenSet.model_validate_json(before.credential)
            await self._clients.oauth.revoke(old.refresh_token or old.access_token)
        if before is not None:  # replaced: the old account's client signs in no more
            self._clients.forget_service(before.account_id)
        self._clients.forget_service(checked.account_id)
        stored = await self._store.tenant_account(admin.team_id)
        assert stored is not None
        log.info("tenant.linked", team_id=admin.team_id, account_id=checked.account_id, kind=kind)
        return Linked(stored, checked.resources)

    async def _forget_people(self, team_id: str) -> None:
        """The workspace uses another account now: its people's links are to extensions of the one before,
        and would go on reading and writing there from this workspace. They connect again (to this one)."""
        dropped = await self._store.delete_team_links(team_id)
        log.info("tenant.people_disconnected", team_id=team_id, links=dropped)

    async def _check_tokens(self, tokens: TokenSet) -> Checked:
        client = self._clients.for_tokens(tokens)
        try:
            return await check(client)
        except RateLimited as exc:
            raise LinkRefused(
                "rate_limited",
                f"RingCentral asks us to slow down: try again in {max(1, round(exc.retry_after))} seconds.",
            ) from None
        except RingCentralError as exc:
            raise _unavailable(exc) from None
        finally:
            await client.aclose()


async def check(client: RingCentralClient) -> Checked:
    """Who the credential is, whether it may read message threads, and what it handles; `LinkRefused` says
    what is missing."""
    ext = await client.get_extension()
    who = f"{ext.name or 'This user'} (ext. {ext.extension_number or ext.id})"
    if not ext.account_id:
        raise LinkRefused("no_account", "RingCentral did not say which account this user belongs to.")
    try:
        seen = len((await client.list_threads(per_page=1)).records)
    except Forbidden as exc:
        if exc.error_code == "CMN-401":
            raise LinkRefused(
                "no_sms_permission",
                "The RingCentral app lacks the SMS permission, so it cannot read message threads: add SMS "
                "in the app's settings in the Developer Console, then link again.",
            ) from None
        raise LinkRefused(
            "threads_refused",
            f"RingCentral does not let {who} read message threads ({exc.error_code or 403}): give this "
            "user the Business SMS Booster licence, then link again.",
        ) from None
    handled = await _handled(client, ext)
    if handled == () or (handled is None and not seen):
        raise LinkRefused(
            "handles_nothing",
            f"{who} is no SMS recipient of any call queue or site, so no conversation would reach Slack: "
            "add this user to the SMS recipients of the queues and sites to follow (Admin Portal), then link "
            "again.",
        )
    return Checked(ext, str(ext.account_id), handled)


async def _handled(client: RingCentralClient, ext: Extension) -> tuple[str, ...] | None:
    """The names of the queues and sites whose SMS recipients include `ext`; None where RingCentral does not
    let this app read SMS recipients (a Limited API)."""
    resources = [(q.id, q.name) for q in await client.list_call_queues()]
    resources += [(s.id, s.name) for s in await client.list_sites()]
    names: list[str] = []
    try:
        for resource_id, name in resources[:MAX_RESOURCES]:
            if any(str(r.id) == str(ext.id) for r in await client.list_sms_recipients(resource_id)):
                names.append(name or resource_id)
    except Forbidden:
        return None
    return tuple(names)


def _unavailable(exc: RingCentralError) -> LinkRefused:
    log.info("tenant.check_failed", error=type(exc).__name__, status=exc.status)
    return LinkRefused(
        "unavailable",
        f"RingCentral did not answer as expected ({type(exc).__name__}): nothing was linked; try again in "
        "a minute.",
    )
