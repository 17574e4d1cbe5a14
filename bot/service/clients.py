"""Hands out RingCentral clients: the service identity's (one, long-lived) and a person's (per use).

Each identity gets one `RateLimiter`, shared by every client acting as it, so pacing and a 429 penalty hold
across concurrent requests. A person's client is built from their stored link and writes refreshed tokens
back with compare-and-set, so two replicas refreshing at once cannot lose the winner's tokens.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from cachetools import LRUCache

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
from bot.store import Link, Tokens

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
        await self._pool.aclose()
