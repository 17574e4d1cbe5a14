"""Small helpers for the emulator's own tests: sign in with plain httpx, call the API, receive webhooks."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.kit.rc import RcSandbox, SandboxUser

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MT = "/restapi/v1.0/account/~/message-threads"
ANA_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"  # Support, assigned to Ana
OPEN_UNASSIGNED = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c02"  # Support, unassigned
SALES_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c03"  # Sales, assigned to Dana
RESOLVED_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c04"  # Support, resolved


async def login(http: httpx.AsyncClient, rc: RcSandbox, user: SandboxUser) -> dict[str, Any]:
    answer = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": user.jwt},
        auth=(rc.client_id, rc.client_secret),
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def error_code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["errorCode"])


CALLBACK = "http://127.0.0.1:3000/ringcentral/oauth/callback"


async def auth_code(
    http: httpx.AsyncClient, rc: RcSandbox, user: str, challenge: str, method: str = "S256"
) -> str:
    """An authorization code for `user`, picked on the sign-in page, bound to a PKCE `challenge`."""
    answer = await http.get(
        "/restapi/oauth/authorize",
        params={
            "client_id": rc.client_id,
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "state": "s-1",
            "code_challenge": challenge,
            "code_challenge_method": method,
            "sandbox_user": user,
        },
    )
    assert answer.status_code == 302, answer.text
    location = urlparse(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


async def exchange_code(http: httpx.AsyncClient, rc: RcSandbox, code: str, verifier: str) -> httpx.Response:
    return await http.post(
        "/restapi/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(rc.client_id, rc.client_secret),
    )


def receiver(echo: bool = True) -> tuple[Starlette, list[tuple[dict[str, str], Any]]]:
    """A webhook address that passes the handshake (unless `echo` is False) and keeps every delivery."""
    got: list[tuple[dict[str, str], Any]] = []

    async def hook(request: Request) -> Response:
        token = request.headers.get("validation-token")
        if token is not None:
            return Response(
                status_code=200,
                headers={"Validation-Token": token} if echo else {},
                media_type="application/json",
            )
        got.append((dict(request.headers), await request.json()))
        return Response(status_code=200)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])]), got
