"""RingCentral authentication as `httpx.Auth` flows, plus the OAuth app (authorize URL, PKCE, code exchange).

* `JwtAuth(jwt)` — the service identity (JWT bearer grant); renews with its refresh token when it has one and
  falls back to presenting the JWT again.
* `UserTokenAuth(tokens, on_refresh=..., on_revoked=...)` — a person's tokens from the authorization-code
  flow; `on_revoked()` is told once when RingCentral refuses the session for good.

Refresh tokens are single-use (NOTES.md §4.4): two concurrent refreshes would burn the session. So a refresh
runs under an `asyncio.Lock`; requests that find the token expiring queue on the lock and, once inside,
re-check and reuse the token the first one obtained. Tokens are refreshed proactively `refresh_margin`
seconds before expiry (wall clock, injectable, because `issued_at` is persisted across restarts), and once
more after a 401 (then the request is resent once). A refused refresh raises `AuthRevoked` and stays refused.

Token requests are yielded from the flow, so they travel through the client's transport: they are paced in
the Auth rate-limit group and logged like any other request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.logs import get_logger
from bot.ringcentral import _errors
from bot.ringcentral._transport import GovernedTransport
from bot.ringcentral.errors import AuthError, AuthRevoked, RingCentralError
from bot.ringcentral.models import TokenSet

log = get_logger(__name__)

Clock = Callable[[], float]
OnRefresh = Callable[[TokenSet], Awaitable[None]]
OnRevoked = Callable[[], Awaitable[None]]

TOKEN_PATH = "/restapi/oauth/token"
REVOKE_PATH = "/restapi/oauth/revoke"
AUTHORIZE_PATH = "/restapi/oauth/authorize"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# OAuth errors on a 400 from the token endpoint that mean "this grant is dead, sign in again".
_REVOKED = frozenset({"invalid_grant", "expired_token", "access_denied"})


class TokenEndpoint:
    """Builds token-endpoint requests (client_secret_basic) and reads their answers."""

    def __init__(self, server_url: str, client_id: str, client_secret: str, *, timeout: float = 10.0) -> None:
        self.server_url = server_url.rstrip("/")
        self.client_id = client_id
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._authorization = f"Basic {basic}"
        self._timeout = timeout

    def request(self, form: dict[str, str], path: str = TOKEN_PATH) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.server_url + path,
            content=urlencode(form).encode(),
            headers={
                "Authorization": self._authorization,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            extensions={"timeout": httpx.Timeout(self._timeout).as_dict()},
        )

    @staticmethod
    def parse(response: httpx.Response, issued_at: float) -> TokenSet:
        """A `TokenSet` from a 200; otherwise the matching error (`AuthRevoked` for a refused grant)."""
        if response.status_code == 200:
            data = response.json()
            return TokenSet.model_validate({**data, "issued_at": issued_at})
        raise token_error(response)


def token_error(response: httpx.Response) -> RingCentralError:
    body = _errors.body_of(response)
    oauth_error = body.get("error") if isinstance(body, dict) else None
    detail = f"token endpoint: {oauth_error or _errors.error_message(body, response)}"
    common: dict[str, Any] = {
        "status": response.status_code,
        "error_code": _errors.error_code(body) or oauth_error,
        "body": body,
    }
    if response.status_code == 400:
        if oauth_error in _REVOKED or oauth_error is None:
            return AuthRevoked(detail, **common)
        return AuthError(detail, **common)
    if response.status_code in (401, 403):
        return AuthError(detail, **common)
    return _errors.error_for(response, group="Auth")


class _SharedRefreshes:
    """Per process: one refresh per refresh token, whichever auth object holds it.

    Refresh tokens are single-use, and callers may build a short-lived client (and auth) per request from the
    same stored tokens. Two such auths must not both present the token: the second would be refused and the
    person told to reconnect. So the refresh runs under a lock per refresh token, and its result is kept for
    a while so that the other holders adopt it instead of refreshing again. (Across processes, the callers'
    store has to serialise refreshes; this covers one process.)
    """

    def __init__(self, keep_for: float = 600.0, max_entries: int = 10_000) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._results: dict[str, tuple[float, TokenSet]] = {}
        self._keep_for = keep_for
        self._max = max_entries

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    def remember(self, key: str, tokens: TokenSet) -> None:
        now = time.monotonic()
        if len(self._results) >= self._max:
            self._results = {k: v for k, v in self._results.items() if now - v[0] < self._keep_for}
        self._results[key] = (now, tokens)

    def result(self, key: str) -> TokenSet | None:
        found = self._results.get(key)
        if found is None or time.monotonic() - found[0] >= self._keep_for:
            return None
        return found[1]


_SHARED = _SharedRefreshes()


class _RefreshingAuth(httpx.Auth):
    """Shared flow: attach the bearer token, refresh under a lock, retry once after a 401."""

    # Not `requires_response_body`: that flag is honoured by httpx's default `async_auth_flow`, which we
    # override; token responses are read explicitly in `_accept`, API responses are left to the client.

    def __init__(self, *, clock: Clock = time.time, refresh_margin: float = 60.0) -> None:
        self._clock = clock
        self._margin = refresh_margin
        self._tokens: TokenSet | None = None
        self._lock = asyncio.Lock()
        self._endpoint: TokenEndpoint | None = None
        self._dead: AuthRevoked | None = None
        # Before the first sign-in there is no refresh token to share by: a key of this object's own. Not
        # `id(self)`: a dropped auth's address comes back, and with it the tokens it got (another account's).
        self._own_key = "auth:" + secrets.token_hex(8)
        # Token requests sent so far: a caller with a request budget (the feed's poll) counts them in it.
        self.renewals = 0

    def bind(self, endpoint: TokenEndpoint) -> None:
        """Called by the client that uses this auth: where and as which app to renew tokens."""
        self._endpoint = endpoint

    @property
    def tokens(self) -> TokenSet | None:
        return self._tokens

    def _fresh_token(self) -> str | None:
        tokens = self._tokens
        if tokens is None:
            return None
        expires_at = tokens.expires_at
        if expires_at is not None and self._clock() >= expires_at - min(self._margin, tokens.expires_in / 2):
            return None
        return tokens.access_token

    def _grant_forms(self) -> list[dict[str, str]]:
        """Token requests to try in order until one succeeds (subclasses)."""
        raise NotImplementedError

    async def _stored(self, tokens: TokenSet) -> None:
        self._tokens = tokens

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("the RingCentral auth flows are async-only")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self._fresh_token()
        if token is None:
            async with self._lock:
                token = self._fresh_token()
                if token is None:
                    async with _SHARED.lock(self._refresh_key()):
                        if not self._adopt_shared():
                            for refresh in await self._refresh_requests():
                                self.renewals += 1
                                response = yield refresh
                                if await self._accept(
                                    response, last=refresh.extensions.get("rc_last", False)
                                ):
                                    break
                    token = self._require_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()  # a small error body: its code tells expired (OAU-128) from revoked (OAU-129)
        log.info(
            "ringcentral.access_refused",
            error_code=_errors.error_code(_errors.body_of(response)),
            owner_id=self._tokens.owner_id if self._tokens is not None else None,
        )
        async with self._lock:
            if self._tokens is None or self._tokens.access_token == token:  # nobody renewed it meanwhile
                async with _SHARED.lock(self._refresh_key()):
                    if not self._adopt_shared():
                        for refresh in await self._refresh_requests():
                            self.renewals += 1
                            response = yield refresh
                            if await self._accept(response, last=refresh.extensions.get("rc_last", False)):
                                break
            token = self._require_token()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _refresh_key(self) -> str:
        """Refreshes are shared by refresh token; without one (first JWT sign-in) this auth is on its own."""
        if self._tokens is not None and self._tokens.refresh_token:
            return self._tokens.refresh_token
        return self._own_key

    def _adopt_shared(self) -> bool:
        """Another auth object of this process already spent our refresh token: take its result."""
        renewed = _SHARED.result(self._refresh_key())
        if renewed is None:
            return False
        self._tokens = renewed  # its owner has persisted it already (on_refresh)
        return True

    async def _refresh_requests(self) -> list[httpx.Request]:
        if self._dead is not None:
            raise self._dead
        if self._endpoint is None:
            raise AuthError("auth flow used before a client bound it to a token endpoint")
        forms = self._grant_forms()
        if not forms:
            dead = AuthRevoked("the access token expired and there is no refresh token")
            await self._revoked(dead)
            raise dead
        requests = [self._endpoint.request(form) for form in forms]
        requests[-1].extensions["rc_last"] = True
        return requests

    async def _accept(self, response: httpx.Response, *, last: bool) -> bool:
        """True when `response` gave us tokens; False to try the next grant; raises on the last refusal."""
        await response.aread()  # overriding async_auth_flow means reading token responses ourselves
        try:
            tokens = TokenEndpoint.parse(response, issued_at=self._clock())
        except AuthRevoked as exc:
            if not last:
                return False
            await self._revoked(exc)
            raise
        log.info("ringcentral.token_renewed", owner_id=tokens.owner_id, expires_in=tokens.expires_in)
        _SHARED.remember(self._refresh_key(), tokens)
        await self._stored(tokens)
        return True

    async def _revoked(self, exc: AuthRevoked) -> None:
        """The session is gone for good: later requests fail at once with `exc` (subclasses also tell)."""
        self._dead = exc

    def _require_token(self) -> str:
        if self._tokens is None:  # pragma: no cover - _accept raised already
            raise AuthError("no access token")
        return self._tokens.access_token


class JwtAuth(_RefreshingAuth):
    """The service identity: JWT bearer grant; renews with the refresh token, else presents the JWT again."""

    def __init__(self, jwt: str, *, clock: Clock = time.time, refresh_margin: float = 60.0) -> None:
        super().__init__(clock=clock, refresh_margin=refresh_margin)
        self._jwt = jwt

    def _grant_forms(self) -> list[dict[str, str]]:
        forms: list[dict[str, str]] = []
        if self._tokens is not None and self._tokens.refresh_token:
            forms.append({"grant_type": "refresh_token", "refresh_token": self._tokens.refresh_token})
        forms.append({"grant_type": JWT_GRANT, "assertion": self._jwt})
        return forms

    def __repr__(self) -> str:
        return "JwtAuth(...)"


class UserTokenAuth(_RefreshingAuth):
    """A person's session. `on_refresh(new_tokens)` persists every renewed `TokenSet` (it has `issued_at`);
    `on_revoked()` is awaited once when the session is refused for good (the owner drops the dead link)."""

    def __init__(
        self,
        tokens: TokenSet,
        on_refresh: OnRefresh | None = None,
        *,
        on_revoked: OnRevoked | None = None,
        issued_at: float | None = None,
        clock: Clock = time.time,
        refresh_margin: float = 60.0,
    ) -> None:
        super().__init__(clock=clock, refresh_margin=refresh_margin)
        if issued_at is not None or tokens.issued_at is None:
            tokens = tokens.model_copy(update={"issued_at": issued_at if issued_at is not None else clock()})
        self._tokens = tokens
        self._on_refresh = on_refresh
        self._on_revoked = on_revoked

    def _grant_forms(self) -> list[dict[str, str]]:
        if self._tokens is None or not self._tokens.refresh_token:
            return []
        return [{"grant_type": "refresh_token", "refresh_token": self._tokens.refresh_token}]

    async def _stored(self, tokens: TokenSet) -> None:
        self._tokens = tokens
        if self._on_refresh is not None:
            try:
                await self._on_refresh(tokens)
            except Exception:  # the old refresh token is spent already: keep going with the new one
                log.exception("ringcentral.on_refresh_failed", owner_id=tokens.owner_id)

    async def _revoked(self, exc: AuthRevoked) -> None:
        first = self._dead is None
        await super()._revoked(exc)
        if first and self._on_revoked is not None:
            try:
                await self._on_revoked()
            except Exception:  # the request still fails with AuthRevoked, which asks the person to reconnect
                log.exception("ringcentral.on_revoked_failed")

    def __repr__(self) -> str:
        return f"UserTokenAuth(owner_id={self._tokens.owner_id if self._tokens else None!r})"


def new_pkce_pair() -> tuple[str, str]:
    """`(code_verifier, code_challenge)` for PKCE with S256."""
    verifier = secrets.token_urlsafe(64)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    """The S256 `code_challenge` of a PKCE verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthApp:
    """The app's side of the authorization-code flow with PKCE (S256)."""

    def __init__(
        self,
        server_url: str,
        client_id: str,
        client_secret: str,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 10.0,
        clock: Clock = time.time,
    ) -> None:
        self._endpoint = TokenEndpoint(server_url, client_id, client_secret, timeout=timeout)
        self._clock = clock
        # No pacing here: a code exchange happens before we know whose Auth bucket it counts against.
        self._http = httpx.AsyncClient(
            transport=GovernedTransport(transport or httpx.AsyncHTTPTransport(), limiter=None),
            timeout=httpx.Timeout(timeout),
        )

    def authorize_url(self, redirect_uri: str, state: str, code_challenge: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._endpoint.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self._endpoint.server_url}{AUTHORIZE_PATH}?{query}"

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        response = await self._send(self._endpoint.request(form))
        return TokenEndpoint.parse(response, issued_at=self._clock())

    async def jwt_grant(self, jwt: str) -> TokenSet:
        """One sign-in with a JWT credential (a workspace admin's, checked before it is kept)."""
        response = await self._send(self._endpoint.request({"grant_type": JWT_GRANT, "assertion": jwt}))
        return TokenEndpoint.parse(response, issued_at=self._clock())

    async def revoke(self, token: str) -> None:
        """Ends the whole session of `token`. Failures are logged and ignored (NOTES.md §4.4: don't retry)."""
        try:
            response = await self._send(self._endpoint.request({"token": token}, path=REVOKE_PATH))
        except RingCentralError as exc:
            log.warning("ringcentral.revoke_failed", error=type(exc).__name__)
            return
        if response.status_code >= 400:
            log.warning("ringcentral.revoke_failed", status=response.status_code)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise _errors.transport_error(exc) from exc
        await response.aread()
        return response

    async def aclose(self) -> None:
        await self._http.aclose()
