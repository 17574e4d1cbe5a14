"""Hands out RingCentral clients: the service identity's (one, long-lived), a workspace's own account's
service user (`service_for`, one per account, long-lived) and a person's (per use).

Each identity gets one `RateLimiter`, shared by every client acting as it, so pacing and a 429 penalty hold
across concurrent requests. A person's client is built from their stored link and writes refreshed tokens
back with compare-and-set, so two replicas refreshing at once cannot lose the winner's tokens; so does a
workspace's service user signed in through OAuth (its `TokenSet` as JSON in `tenant_accounts`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from cachetools import LRUCache

from bot.logs import get_logger
from bot.ringcentral import (
    JwtAuth,
    OAuthApp,
    RateLimiter,
    RingCentralClient,
    UserTokenAuth,
    new_pkce_pair,
    pkce_challenge,
)
from bot.ringcentral.models import TokenSet
from bot.store import Link, TenantAccount, Tokens
from bot.store.protocols import TenantAccountStore
from bot.store.tenant_accounts import JWT

log = get_logger(__name__)
Clock = Callable[[], datetime]
MAX_RATE_LIMIT_WAIT = 90.0  # RingCentralClient's default max_rate_limit_wait


def tokens_for_store(tokens: TokenSet, now: datetime) -> Tokens:
    return Tokens.from_lifetimes(
        now=now,
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_token_expires_in=tokens.refresh_token_expires_in,
    )


def tokenset_from_link(link: Link, now: datetime) -> TokenSet:
    left = max(0, int((link.tokens.access_expires_at - now).total_seconds()))
    refresh_left = (
        int((link.tokens.refresh_expires_at - now).total_seconds())
        if link.tokens.refresh_expires_at
        else None
    )
    return TokenSet(
        access_token=link.tokens.access_token,
        expires_in=left,
        refresh_token=link.tokens.refresh_token,
        refresh_token_expires_in=refresh_left,
        owner_id=link.extension_id,
        issued_at=now.timestamp(),
    )


@dataclass
class _TenantClient:
    """A workspace account's cached client, and the row version its credential is at (moves on with each
    refresh it writes back; a higher version read from the store means the credential was replaced)."""

    team_id: str
    version: int
    client: RingCentralClient


class _Lent(httpx.AsyncBaseTransport):
    """The factory's one connection pool, lent to short-lived clients: closing a client must not close it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """The factory closes the pool once, at shutdown."""


class ClientFactory:
    def __init__(
        self,
        server_url: str,
        client_id: str,
        client_secret: str,
        *,
        jwt: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        clock: Clock = lambda: datetime.now(UTC),
        tenants: TenantAccountStore | None = None,
    ) -> None:
        self._server_url = server_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._jwt = jwt
        self._pool = transport or httpx.AsyncHTTPTransport()
        self._transport = _Lent(self._pool)
        self._timeout = timeout
        self._clock = clock
        self._limiters: LRUCache[str, RateLimiter] = LRUCache(maxsize=10_000)
        self.oauth = OAuthApp(
            server_url,
            client_id,
            client_secret,
            transport=self._transport,
            timeout=timeout,
            clock=lambda: self._clock().timestamp(),
        )
        self._service: RingCentralClient | None = None
        self._tenants = tenants  # where an OAuth-linked account's refreshed tokens are written back
        self._tenant_clients: dict[tuple[str, str], _TenantClient] = {}  # by (account id, team id)
        self._closing: list[RingCentralClient] = []  # replaced clients, closed at shutdown (may be in use)

    new_pkce_pair = staticmethod(new_pkce_pair)
    pkce_challenge = staticmethod(pkce_challenge)

    def _limiter(self, identity: str) -> RateLimiter:
        limiter: RateLimiter | None = self._limiters.get(identity)
        if limiter is None:
            # max_wait as the clients' own: a later caller in a long penalty is refused at once, not parked
            limiter = RateLimiter(clock=time.monotonic, max_wait=MAX_RATE_LIMIT_WAIT)
            self._limiters[identity] = limiter
        return limiter

    def _client(self, auth: JwtAuth | UserTokenAuth, identity: str) -> RingCentralClient:
        return RingCentralClient(
            self._server_url,
            self._client_id,
            self._client_secret,
            auth=auth,
            transport=self._transport,
            timeout=self._timeout,
            limiter=self._limiter(identity),
        )

    def service(self) -> RingCentralClient:
        """The service identity (JWT): reads for notifications, never writes on anyone's behalf."""
        if self._jwt is None:
            raise RuntimeError("RINGCENTRAL_JWT is not configured")
        if self._service is None:
            self._service = self._client(
                JwtAuth(self._jwt, clock=lambda: self._clock().timestamp()), "service"
            )
        return self._service

    def service_for(self, account: TenantAccount | None) -> RingCentralClient:
        """The service user of a workspace's own account (None: the deployment's, `service()`): one client
        per account id, paced by its own limiter. A replaced credential (higher version) builds a new one."""
        if account is None:
            return self.service()
        key = (account.account_id, account.team_id)
        cached = self._tenant_clients.get(key)
        if cached is not None and cached.version >= account.version:
            return cached.client
        if cached is not None:
            self._closing.append(cached.client)
        entry = _TenantClient(account.team_id, account.version, self._service_client(account))
        self._tenant_clients[key] = entry
        return entry.client

    def forget_service(self, account_id: str) -> None:
        """Drop the cached clients of an account whose link was replaced or removed (closed at shutdown)."""
        for key in [k for k in self._tenant_clients if k[0] == account_id]:
            self._closing.append(self._tenant_clients.pop(key).client)

    def _service_client(self, account: TenantAccount) -> RingCentralClient:
        timestamp = lambda: self._clock().timestamp()  # noqa: E731  # the auths' clock, in epoch seconds
        identity = f"service:{account.account_id}"
        if account.kind == JWT:
            return self._client(JwtAuth(account.credential, clock=timestamp), identity)
        tokens = TokenSet.model_validate_json(account.credential)
        auth = UserTokenAuth(tokens, self._tenant_refreshed(account), clock=timestamp)
        return self._client(auth, identity)

    def _tenant_refreshed(self, account: TenantAccount) -> Callable[[TokenSet], Awaitable[None]]:
        async def persist(tokens: TokenSet) -> None:
            cached = self._tenant_clients.get((account.account_id, account.team_id))
            if self._tenants is None or cached is None:
                return
            written = await self._tenants.update_tenant_credential(
                account.team_id, tokens.model_dump_json(), version=cached.version
            )
            if written:
                cached.version += 1
            else:  # replaced, removed, or another replica refreshed first: the next read rebuilds the client
                log.info(
                    "service.tenant_refresh_raced", team_id=account.team_id, account_id=account.account_id
                )

        return persist

    def for_tokens(self, tokens: TokenSet) -> RingCentralClient:
        """A client on freshly issued tokens (right after the code exchange)."""
        auth = UserTokenAuth(tokens, clock=lambda: self._clock().timestamp())
        return self._client(auth, f"ext:{tokens.owner_id}")

    def for_link(
        self,
        link: Link,
        on_refresh: Callable[[TokenSet], Awaitable[None]],
        on_revoked: Callable[[], Awaitable[None]] | None = None,
    ) -> RingCentralClient:
        now = self._clock()
        auth = UserTokenAuth(
            tokenset_from_link(link, now),
            on_refresh,
            on_revoked=on_revoked,
            clock=lambda: self._clock().timestamp(),
        )
        return self._client(auth, f"ext:{link.extension_id}")

    async def aclose(self) -> None:
        await self.oauth.aclose()
        if self._service is not None:
            await self._service.aclose()
        for client in [*self._closing, *(c.client for c in self._tenant_clients.values())]:
            await client.aclose()
        await self._pool.aclose()
