"""Small fakes for the client's unit tests: a fake clock whose sleep advances time, and a scripted RingCentral
behind `httpx.MockTransport` (the client's real request building, auth, pacing and error mapping all run)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx

from bot.ringcentral import JwtAuth, RateLimiter, RingCentralClient, TokenSet, UserTokenAuth

SERVER = "https://rc.test"
MT = "/restapi/v1.0/account/~/message-threads"
THREAD_ID = "7d0f2b8e-4d4c-4f4e-9a55-0a0d5e1f3c11"
NOTE_ID = "c21e5807-a143-4bb2-b275-1e9f9695bd9a"


class FakeClock:
    """Monotonic and wall clock in one; `sleep` advances it (and lets other tasks run)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def note_json(
    note_id: str = NOTE_ID, thread_id: str = THREAD_ID, text: str = "hello", author: str = "101", **extra: Any
) -> dict[str, Any]:
    return {
        "id": note_id,
        "threadId": thread_id,
        "availability": "Alive",
        "creationTime": "2026-11-27T10:00:00Z",
        "lastModifiedTime": "2026-11-27T10:00:00Z",
        "text": text,
        "author": {"extensionId": author, "name": "Ann"},
        **extra,
    }


def thread_json(thread_id: str = THREAD_ID, status: str = "Open") -> dict[str, Any]:
    return {
        "id": thread_id,
        "status": status,
        "availability": "Alive",
        "owner": {"extensionId": "900", "name": "Support", "extensionType": "Department"},
        "creationTime": "2026-11-27T09:00:00Z",
        "lastModifiedTime": "2026-11-27T09:30:00Z",
        "guestParty": {"phoneNumber": "+15550100"},
    }


def token_json(
    access: str = "access-1", refresh: str | None = "refresh-1", expires_in: int = 3600
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": expires_in,
        "scope": "SMS",
        "session_id": "s1",
        "owner_id": "101",
    }
    if refresh:
        body["refresh_token"] = refresh
        body["refresh_token_expires_in"] = 604800
    return body


def error_json(code: str, message: str = "nope", **extra: Any) -> dict[str, Any]:
    return {"errors": [{"errorCode": code, "message": message, **extra}]}


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def json_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


Handler = Callable[[httpx.Request], httpx.Response]


class FakeRingCentral:
    """Routes API calls to `api(request)`, answers token requests, records everything."""

    def __init__(self, api: Handler, *, token: Handler | None = None) -> None:
        self.api = api
        self.token = token or (lambda request: httpx.Response(200, json=token_json()))
        self.requests: list[httpx.Request] = []
        self.token_requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/restapi/oauth/token":
            self.token_requests.append(request)
            return self.token(request)
        self.requests.append(request)
        return self.api(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def user_tokens(expires_in: int = 3600) -> TokenSet:
    """A person's tokens; the refresh token is unique, as real ones are (refreshes are shared by it)."""
    return TokenSet.model_validate(token_json("access-0", f"refresh-{uuid.uuid4()}", expires_in))


def user_auth(
    clock: FakeClock,
    *,
    expires_in: int = 3600,
    issued_ago: float = 0.0,
    tokens: TokenSet | None = None,
    **kw: Any,
) -> UserTokenAuth:
    tokens = tokens or user_tokens(expires_in)
    return UserTokenAuth(tokens, issued_at=clock() - issued_ago, clock=clock, **kw)


def make_client(
    fake: FakeRingCentral,
    clock: FakeClock,
    *,
    auth: JwtAuth | UserTokenAuth | None = None,
    limiter: RateLimiter | None = None,
    **kw: Any,
) -> RingCentralClient:
    return RingCentralClient(
        SERVER,
        "client-id",
        "client-secret",
        auth=auth or user_auth(clock),
        transport=fake.transport,
        clock=clock,
        sleep=clock.sleep,
        limiter=limiter,
        **kw,
    )
