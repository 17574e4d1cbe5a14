"""The one request path of `RingCentralClient`: the HTTP client (pacing and auth in its transport), the retry
policy of `client.py`'s docstring, and the translation of every failure into `bot.ringcentral.errors`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from bot.ringcentral import _errors, _routes
from bot.ringcentral._transport import GovernedTransport
from bot.ringcentral.auth import JwtAuth, TokenEndpoint, UserTokenAuth
from bot.ringcentral.errors import RateLimited, RingCentralError, Unavailable
from bot.ringcentral.ratelimit import RateLimiter


class _Retry(Exception):
    """Internal: `error` may be retried after `delay` seconds (None: exponential backoff)."""

    def __init__(self, error: RingCentralError, delay: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.delay = delay


class ClientBase:
    """Sends requests as one identity: pacing (its `RateLimiter`), auth, retries, errors."""

    def __init__(
        self,
        server_url: str,
        client_id: str,
        client_secret: str,
        *,
        auth: JwtAuth | UserTokenAuth,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_attempts: int = 4,
        max_rate_limit_wait: float = 90.0,
    ) -> None:
        # Waiting longer than `max_rate_limit_wait` for a slot raises RateLimited instead (a shared limiter
        # brings its own setting).
        self.limiter = limiter or RateLimiter(clock=clock, sleep=sleep, max_wait=max_rate_limit_wait)
        self.auth = auth
        auth.bind(TokenEndpoint(server_url, client_id, client_secret, timeout=timeout))
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_rate_limit_wait = max_rate_limit_wait
        self._backoff = wait_random_exponential(multiplier=0.5, max=8.0)  # "full jitter"
        self._timeout = httpx.Timeout(timeout)
        self._http = httpx.AsyncClient(
            base_url=server_url.rstrip("/"),
            auth=auth,
            transport=GovernedTransport(transport or httpx.AsyncHTTPTransport(), self.limiter),
            timeout=self._timeout,
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with the retry policy of the module docstring; a 2xx response or a `RingCentralError`."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(method, path, params=params, json=json, idempotent=idempotent)
        except _Retry as last:
            raise last.error from last.error.__cause__
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.delay is not None:
            return exc.delay
        return float(self._backoff(state))

    async def _attempt(
        self, method: str, path: str, *, params: dict[str, Any] | None, json: Any, idempotent: bool
    ) -> httpx.Response:
        request = self._http.build_request(method, path, params=params, json=json, timeout=self._timeout)
        try:
            response = await self._http.send(request)
        except RateLimited as exc:  # the token endpoint answered 429 inside the auth flow
            raise self._rate_limited(exc) from exc
        except Unavailable as exc:  # the token endpoint failed: the API request itself was not processed
            raise _Retry(exc, delay=exc.retry_after) from exc
        except httpx.TransportError as exc:
            if not idempotent and _errors.reached_server(exc):
                raise _errors.transport_error(exc, maybe_created=True) from exc
            raise _Retry(_errors.transport_error(exc)) from exc
        if response.is_success:
            return response
        route, default_group = _routes.match(method, request.url.path)
        error = _errors.error_for(response, group=self.limiter.group_for(route, default_group))
        if isinstance(error, RateLimited):
            raise self._rate_limited(error)
        if isinstance(error, Unavailable):
            if not idempotent:
                error.maybe_created = True
                raise error
            raise _Retry(error, delay=error.retry_after)
        raise error

    def _rate_limited(self, error: RateLimited) -> BaseException:
        """Retry a 429 after the limiter's penalty (the limiter does the waiting), unless it is too long."""
        if error.group is not None:  # the limiter knows the real wait (a whole window without Retry-After)
            error.retry_after = max(error.retry_after, self.limiter.penalty_left(error.group))
        if error.retry_after > self._max_rate_limit_wait:
            return error
        return _Retry(error, delay=0.0)
