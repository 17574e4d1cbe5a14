"""Small helpers for the emulator's own tests: sign in with plain httpx and call the API."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

import httpx

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
