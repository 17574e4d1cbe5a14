"""The kit itself: the emulator starts with the demo seed and the validating transport sees real traffic."""

from __future__ import annotations

import httpx

from tests.kit.openapi import SpecTransport
from tests.kit.rc import RcAdmin, RcSandbox


async def test_service_user_signs_in_with_its_jwt_and_lists_threads(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    bot = rc_sandbox.service_user
    async with httpx.AsyncClient(base_url=rc_sandbox.url, transport=spec_transport) as http:
        token = await http.post(
            "/restapi/oauth/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": bot.jwt},
            auth=(rc_sandbox.client_id, rc_sandbox.client_secret),
        )
        assert token.status_code == 200
        threads = await http.get(
            "/restapi/v1.0/account/~/message-threads",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
    assert threads.status_code == 200
    assert len(threads.json()["records"]) == 6  # Support 3, Sales 1, the Main Office site 2
    assert rc_admin.requests()["byRoute"]["GET /restapi/v1.0/account/{accountId}/message-threads"] == 1
    assert spec_transport.exchanges == 2
