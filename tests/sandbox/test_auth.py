"""OAuth: JWT grant, authorize page + code + PKCE, single-use refresh, revoke, bearer checks."""

from __future__ import annotations

import httpx

from tests.kit.rc import RcAdmin, RcSandbox
from tests.sandbox.helpers import (
    CALLBACK,
    JWT_GRANT,
    MT,
    auth_code,
    bearer,
    error_code,
    exchange_code,
    login,
    pkce,
)


async def test_jwt_grant_gives_tokens_for_the_jwt_owner(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    tokens = await login(http, rc_sandbox, rc_sandbox.service_user)
    assert tokens["owner_id"] == rc_sandbox.service_user.extension_id
    assert tokens["expires_in"] == 60 and tokens["refresh_token"]
    me = await http.get("/restapi/v1.0/account/~/extension/~", headers=bearer(tokens))
    assert me.json()["name"] == "Thread Note Bot"


async def test_token_endpoint_refuses_wrong_client_secret(
    raw: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    answer = await raw.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": "x"},
        auth=(rc_sandbox.client_id, "wrong"),
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client" and error_code(answer).startswith("OAU-")


async def test_forged_jwt_is_an_invalid_grant(http: httpx.AsyncClient, rc_sandbox: RcSandbox) -> None:
    forged = rc_sandbox.service_user.jwt[:-4] + "AAAA"
    answer = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": forged},
        auth=(rc_sandbox.client_id, rc_sandbox.client_secret),
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


async def test_authorize_without_user_redirects_to_a_page_listing_seeded_users(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    answer = await http.get(
        "/restapi/oauth/authorize",
        params={
            "client_id": rc_sandbox.client_id,
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "state": "xyz",
        },
    )
    assert answer.status_code == 302
    page = await http.get(answer.headers["location"])
    assert "Ana Alvarez" in page.text and "sandbox_user=62001001" in page.text


async def test_pkce_code_exchange_signs_in_the_picked_user_once(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    verifier, challenge = pkce()
    code = await auth_code(http, rc_sandbox, "62001002", challenge)
    first = await exchange_code(http, rc_sandbox, code, verifier)
    assert first.status_code == 200 and first.json()["owner_id"] == "62001002"
    again = await exchange_code(http, rc_sandbox, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_plain_pkce_is_accepted(http: httpx.AsyncClient, rc_sandbox: RcSandbox) -> None:
    code = await auth_code(http, rc_sandbox, "62001002", "plain-verifier-" + "x" * 40, method="plain")
    assert (await exchange_code(http, rc_sandbox, code, "plain-verifier-" + "x" * 40)).status_code == 200


async def test_code_with_wrong_verifier_or_redirect_uri_is_refused(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    verifier, challenge = pkce()
    code = await auth_code(http, rc_sandbox, "62001002", challenge)
    assert (await exchange_code(http, rc_sandbox, code, verifier + "x")).json()["error"] == "invalid_grant"
    code = await auth_code(http, rc_sandbox, "62001002", challenge)
    other = await http.post(
        "/restapi/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "code_verifier": verifier,
        },
        auth=(rc_sandbox.client_id, rc_sandbox.client_secret),
    )
    assert other.status_code == 400 and "redirect_uri" in other.json()["error_description"]


async def test_code_expires_after_sixty_seconds(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    verifier, challenge = pkce()
    code = await auth_code(http, rc_sandbox, "62001002", challenge)
    rc_admin.advance(61)
    assert (await exchange_code(http, rc_sandbox, code, verifier)).status_code == 400


async def test_unregistered_redirect_uri_is_refused(
    raw: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    rc_admin.config(redirectUris=[CALLBACK])
    answer = await raw.get(
        "/restapi/oauth/authorize",
        params={
            "client_id": rc_sandbox.client_id,
            "response_type": "code",
            "redirect_uri": "http://evil.example/cb",
            "sandbox_user": "62001001",
        },
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


async def test_refresh_token_is_single_use_and_kills_the_old_access_token(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    tokens = await login(http, rc_sandbox, rc_sandbox.user("Ana"))
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    auth = (rc_sandbox.client_id, rc_sandbox.client_secret)
    renewed = await http.post("/restapi/oauth/token", data=refresh, auth=auth)
    assert renewed.status_code == 200
    reused = await http.post("/restapi/oauth/token", data=refresh, auth=auth)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    old = await http.get(f"{MT}/notes", headers=bearer(tokens))
    assert old.status_code == 401 and error_code(old) == "OAU-129"
    assert (await http.get(f"{MT}/notes", headers=bearer(renewed.json()))).status_code == 200


async def test_revoke_kills_the_whole_session(http: httpx.AsyncClient, rc_sandbox: RcSandbox) -> None:
    tokens = await login(http, rc_sandbox, rc_sandbox.user("Ana"))
    answer = await http.post(
        "/restapi/oauth/revoke",
        data={"token": tokens["access_token"]},
        auth=(rc_sandbox.client_id, rc_sandbox.client_secret),
    )
    assert answer.status_code == 200
    assert (await http.get(f"{MT}/notes", headers=bearer(tokens))).status_code == 401
    refresh = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rc_sandbox.client_id, rc_sandbox.client_secret),
    )
    assert refresh.status_code == 400


async def test_access_token_expires_on_the_sandbox_clock(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    tokens = await login(http, rc_sandbox, rc_sandbox.user("Ana"))
    rc_admin.advance(61)
    answer = await http.get(f"{MT}/notes", headers=bearer(tokens))
    assert answer.status_code == 401 and error_code(answer) == "OAU-128"


async def test_missing_bearer_token_is_401(raw: httpx.AsyncClient) -> None:
    answer = await raw.get(f"{MT}/notes")
    assert answer.status_code == 401 and answer.json()["errors"][0]["errorCode"] == "AGW-401"


async def test_admin_revoke_ends_every_session_of_a_user(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    tokens = await login(http, rc_sandbox, rc_sandbox.user("Ana"))
    assert rc_admin.revoke("62001001") == 1
    assert (await http.get(f"{MT}/notes", headers=bearer(tokens))).status_code == 401
