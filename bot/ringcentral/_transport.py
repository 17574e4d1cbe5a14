"""The transport wrapper every RingCentral request goes through, token requests included.

It sits between httpx and the real (or test-injected) transport, so pacing and logging see exactly what goes
on the wire — the resend after a 401 and the refresh made inside the auth flow too.

A GET whose connection turns out to be dead (`ReadError`, `RemoteProtocolError`: the server or a proxy closed
a keep-alive connection while it sat idle between polls, and the pool handed it out anyway) is sent once more
at once, on a fresh connection, and logged at info: it is routine, not a warning. Only a GET: it changes
nothing, so sending it twice is harmless; every other method goes by the client's retry policy, which never
resends a create that may have landed. A second failure is a warning, and the client's policy takes over.
"""

from __future__ import annotations

import time

import httpx

from bot.logs import get_logger
from bot.ringcentral import _routes
from bot.ringcentral._errors import retry_after
from bot.ringcentral.ratelimit import RateLimiter

log = get_logger(__name__)

# What a keep-alive connection closed while idle looks like when it is used again.
STALE_CONNECTION = (httpx.ReadError, httpx.RemoteProtocolError)


class GovernedTransport(httpx.AsyncBaseTransport):
    """Waits for the rate limiter, sends, learns from the rate-limit headers, logs (never headers/bodies)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: RateLimiter | None) -> None:
        self._inner = inner
        self.limiter = limiter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        route, default_group = _routes.match(request.method, request.url.path)
        limiter = self.limiter
        group = limiter.group_for(route, default_group) if limiter else default_group
        if limiter is not None:
            await limiter.acquire(group)
            sent_at = limiter.now()
        started = time.perf_counter()
        try:
            response = await self._send(request, route, group)
        except Exception as exc:
            log.warning(
                "ringcentral.request_failed",
                method=request.method,
                route=route,
                error=type(exc).__name__,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            raise
        if limiter is not None:
            group = limiter.observe(route, default_group, response.headers, sent_at=sent_at)
            if response.status_code == 429:
                limiter.penalize(group, retry_after(response))
        log.info(
            "ringcentral.request",
            method=request.method,
            route=route,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            group=group,
        )
        return response

    async def _send(self, request: httpx.Request, route: str, group: str) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except STALE_CONNECTION as exc:
            if request.method != "GET":
                raise
            log.info("ringcentral.stale_connection_retried", route=route, error=type(exc).__name__)
        if self.limiter is not None:
            await self.limiter.acquire(group)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
