"""Auth flows: one refresh under concurrency, proactive refresh, one retry after 401, revocation, PKCE."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.ringcentral import (
    AuthError,
    AuthRevoked,
    JwtAuth,
    OAuthApp,
    RingCentralError,
    TokenSet,
    new_pkce_pair,
)
from tests.ringcentral.fakes import (
    SERVER,
    FakeClock,
    FakeRingCentral,
    form_of,
    make_client,
    thread_json,
    token_json,
    user_auth,
    user_tokens,
)


def ok_thread(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=thread_json())


async def test_concurrent_requests_with_an_expiring_token_share_one_refresh() -> None:
    clock = FakeClock()
    persisted: list[TokenSet] = []

    async def on_refresh(tokens: TokenSet) -> None:
        await asyncio.sleep(0)  # let the other requests pile up on the lock
        persisted.append(tokens)

    fake = FakeRingCentral(
        ok_thread, token=lambda r: httpx.Response(200, json=token_json("access-1", "refresh-1"))
    )
    auth = user_auth(clock, expires_in=3600, issued_ago=3590, on_refresh=on_refresh)  # 10 s left < margin
    refresh_token = auth.tokens.refresh_token if auth.tokens else None
    client = make_client(fake, clock, auth=auth)
    start = clock()
    await asyncio.gather(*(client.get_thread("t1") for _ in range(10)))
    assert len(fake.token_requests) == 1
    assert form_of(fake.token_requests[0]) == {"grant_type": "refresh_token", "refresh_token": refresh_token}
    assert [t.access_token for t in persisted] == ["access-1"]
    assert persisted[0].issued_at is not None and start <= persisted[0].issued_at <= clock()
    assert {r.headers["Authorization"] for r in fake.requests} == {"Bearer access-1"}
    await client.aclose()


async def test_token_is_not_refreshed_while_comfortably_valid() -> None:
    clock = FakeClock()
    fake = FakeRingCentral(ok_thread)
    client = make_client(fake, clock, auth=user_auth(clock, issued_ago=100))
    await client.get_thread("t1")
    assert fake.token_requests == []
    assert fake.requests[0].headers["Authorization"] == "Bearer access-0"
    await client.aclose()


async def test_a_401_costs_one_refresh_and_one_resend_shared_by_concurrent_requests() -> None:
    clock = FakeClock()
    seen: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])  # the request object is reused for the resend
        if request.headers["Authorization"] == "Bearer access-0":
            return httpx.Response(401, json={"errors": [{"errorCode": "OAU-128", "message": "expired"}]})
        return ok_thread(request)

    fake = FakeRingCentral(api, token=lambda r: httpx.Response(200, json=token_json("access-1", "refresh-1")))
    client = make_client(fake, clock, auth=user_auth(clock))
    threads = await asyncio.gather(*(client.get_thread("t1") for _ in range(5)))
    assert len(threads) == 5
    assert len(fake.token_requests) == 1
    refused = [token for token in seen if token == "Bearer access-0"]
    assert refused and len(seen) == 5 + len(refused)  # every refused request was resent exactly once
    await client.aclose()


async def test_a_second_401_after_the_refresh_is_an_auth_error_not_a_loop() -> None:
    clock = FakeClock()
    fake = FakeRingCentral(lambda r: httpx.Response(401, json={"errors": [{"errorCode": "OAU-129"}]}))
    client = make_client(fake, clock, auth=user_auth(clock))
    with pytest.raises(AuthError) as info:
        await client.get_thread("t1")
    assert not isinstance(info.value, AuthRevoked)
    assert len(fake.requests) == 2 and len(fake.token_requests) == 1
    await client.aclose()


async def test_a_refused_refresh_is_auth_revoked_and_stays_refused() -> None:
    clock = FakeClock()
    refused = httpx.Response(400, json={"error": "invalid_grant", "errors": [{"errorCode": "OAU-211"}]})
    fake = FakeRingCentral(ok_thread, token=lambda r: refused)
    told: list[str] = []

    async def on_revoked() -> None:
        told.append("revoked")

    client = make_client(fake, clock, auth=user_auth(clock, issued_ago=4000, on_revoked=on_revoked))
    with pytest.raises(AuthRevoked):
        await client.get_thread("t1")
    with pytest.raises(AuthRevoked):
        await client.get_thread("t1")
    assert len(fake.token_requests) == 1  # a dead refresh token is not presented again
    assert fake.requests == []
    assert told == ["revoked"], "the owner is told once, so it can drop the dead link"
    await client.aclose()


async def test_a_refresh_that_fails_for_a_while_is_not_a_revocation() -> None:
    clock = FakeClock()
    down = httpx.Response(503, json={"errorCode": "CMN-211", "message": "Service Temporary Unavailable"})
    fake = FakeRingCentral(ok_thread, token=lambda r: down)
    told: list[str] = []

    async def on_revoked() -> None:
        told.append("revoked")

    client = make_client(fake, clock, auth=user_auth(clock, issued_ago=4000, on_revoked=on_revoked))
    with pytest.raises(RingCentralError) as info:
        await client.get_thread("t1")
    assert not isinstance(info.value, AuthRevoked)
    assert told == [], "a link is dropped only when RingCentral refuses the session, not when it is down"
    await client.aclose()


async def test_jwt_auth_signs_in_with_the_jwt_grant_and_basic_client_auth() -> None:
    clock = FakeClock()
    fake = FakeRingCentral(ok_thread)
    client = make_client(fake, clock, auth=JwtAuth("header.payload.sig", clock=clock))
    await client.get_thread("t1")
    token_request = fake.token_requests[0]
    assert form_of(token_request) == {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": "header.payload.sig",
    }
    basic = base64.b64encode(b"client-id:client-secret").decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    await client.aclose()


async def test_jwt_auth_renews_with_its_refresh_token_and_falls_back_to_the_jwt() -> None:
    clock = FakeClock()
    grants: list[str] = []

    def token(request: httpx.Request) -> httpx.Response:
        grant = form_of(request)["grant_type"]
        grants.append(grant)
        if grant == "refresh_token":
            return httpx.Response(400, json={"error": "invalid_grant", "errors": [{"errorCode": "OAU-211"}]})
        return httpx.Response(200, json=token_json(f"access-{len(grants)}", "refresh-x"))

    fake = FakeRingCentral(ok_thread, token=token)
    client = make_client(fake, clock, auth=JwtAuth("jwt", clock=clock))
    await client.get_thread("t1")
    clock.now += 3600  # expired
    await client.get_thread("t1")
    assert grants == [
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ]
    assert fake.requests[-1].headers["Authorization"] == "Bearer access-3"
    await client.aclose()


async def test_token_requests_are_paced_in_the_auth_group() -> None:
    clock = FakeClock()
    fake = FakeRingCentral(ok_thread)
    client = make_client(fake, clock, auth=JwtAuth("jwt", clock=clock))
    await client.get_thread("t1")
    assert client.limiter.group_for("/restapi/oauth/token", "?") == "Auth"
    await client.aclose()


def test_pkce_pair_is_s256() -> None:
    verifier, challenge = new_pkce_pair()
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert new_pkce_pair()[0] != verifier


async def test_oauth_app_builds_the_authorize_url_and_exchanges_the_code() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/restapi/oauth/revoke":
            return httpx.Response(500)
        return httpx.Response(200, json=token_json("user-access", "user-refresh"))

    clock = FakeClock()
    app = OAuthApp(SERVER, "client-id", "client-secret", transport=httpx.MockTransport(handler), clock=clock)
    url = urlsplit(app.authorize_url("https://bot.test/cb", "state-1", "challenge-1"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{SERVER}/restapi/oauth/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {
        "response_type": "code",
        "client_id": "client-id",
        "redirect_uri": "https://bot.test/cb",
        "state": "state-1",
        "code_challenge": "challenge-1",
        "code_challenge_method": "S256",
    }
    tokens = await app.exchange_code("code-1", "https://bot.test/cb", "verifier-1")
    assert tokens.access_token == "user-access" and tokens.issued_at == clock()
    assert form_of(seen[0]) == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "https://bot.test/cb",
        "code_verifier": "verifier-1",
    }
    await app.revoke("user-refresh")  # a failing revoke is logged and ignored
    assert form_of(seen[1]) == {"token": "user-refresh"}
    await app.aclose()


async def test_a_refused_code_exchange_is_auth_revoked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_grant", "errors": [{"errorCode": "OAU-109"}]})

    app = OAuthApp(SERVER, "id", "secret", transport=httpx.MockTransport(handler))
    with pytest.raises(AuthRevoked):
        await app.exchange_code("bad", "https://bot.test/cb", "v")
    await app.aclose()


def test_token_set_repr_never_shows_tokens() -> None:
    tokens = TokenSet.model_validate(token_json("secret-access", "secret-refresh"))
    assert "secret" not in repr(tokens) and "secret" not in str(tokens)


async def test_two_clients_built_from_the_same_stored_tokens_share_one_refresh() -> None:
    """Callers build a short-lived client per request from stored tokens: the single-use refresh token must
    still be presented once, and the second client adopts the first one's result."""
    clock = FakeClock()
    persisted: list[TokenSet] = []

    async def on_refresh(tokens: TokenSet) -> None:
        persisted.append(tokens)

    fake = FakeRingCentral(
        ok_thread, token=lambda r: httpx.Response(200, json=token_json("access-1", "refresh-1"))
    )
    stored = user_tokens()
    clients = [
        make_client(fake, clock, auth=user_auth(clock, tokens=stored, issued_ago=3590, on_refresh=on_refresh))
        for _ in range(2)
    ]
    await asyncio.gather(*(client.get_thread("t1") for client in clients for _ in range(3)))
    assert len(fake.token_requests) == 1
    assert len(persisted) == 1
    assert {r.headers["Authorization"] for r in fake.requests} == {"Bearer access-1"}
    for client in clients:
        await client.aclose()
