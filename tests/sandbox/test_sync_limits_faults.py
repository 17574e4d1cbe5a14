"""Entries sync, rate limits, faults."""

from __future__ import annotations

import asyncio

import httpx

from tests.kit.rc import RcAdmin, RcSandbox
from tests.sandbox.helpers import ANA_THREAD, MT, bearer, error_code, login


async def test_fsync_defaults_to_assigned_to_me_and_accessible_sees_all_open(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    mine = (await http.get(f"{MT}/entries/sync", headers=ana)).json()
    assert {r["threadId"] for r in mine["records"]} == {ANA_THREAD}
    assert mine["syncInfo"]["syncType"] == "FSync"
    bot = bearer(await login(http, rc_sandbox, rc_sandbox.service_user))
    full = (await http.get(f"{MT}/entries/sync", params={"scope": "Accessible"}, headers=bot)).json()[
        "records"
    ]
    assert len({r["threadId"] for r in full}) == 5  # open threads only: Support 2, Sales 1, Main Office 2
    times = [r["lastModifiedTime"] for r in full]
    assert times == sorted(times, reverse=True)


async def test_isync_returns_created_edited_deleted_notes_and_hints(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    bot = bearer(await login(http, rc_sandbox, rc_sandbox.service_user))
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    token = (await http.get(f"{MT}/entries/sync", params={"scope": "Accessible"}, headers=bot)).json()[
        "syncInfo"
    ]
    kept = (await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "v1"}, headers=ben)).json()
    await http.patch(f"{MT}/notes/{kept['id']}", json={"text": "v2"}, headers=ben)
    gone = (await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "oops"}, headers=ben)).json()
    await http.request("DELETE", f"{MT}/notes", json={"ids": [gone["id"]]}, headers=ben)
    await http.post(f"{MT}/{ANA_THREAD}/assign", json={"assignee": {"extensionId": "62001002"}}, headers=ben)
    answer = await http.get(
        f"{MT}/entries/sync", params={"syncType": "ISync", "syncToken": token["syncToken"]}, headers=bot
    )
    records = answer.json()["records"]
    by_id = {r["id"]: r for r in records}
    assert by_id[kept["id"]]["recordType"] == "AliveNote" and by_id[kept["id"]]["text"] == "v2"
    assert by_id[gone["id"]] == {
        "recordType": "DeletedNote",
        "id": gone["id"],
        "threadId": ANA_THREAD,
        "availability": "Deleted",
        "lastModifiedTime": by_id[gone["id"]]["lastModifiedTime"],
    }
    assert "ThreadAssignedHint" in {r["recordType"] for r in records}
    assert answer.json()["syncInfo"]["syncToken"] != token["syncToken"]


async def test_expired_sync_token_asks_for_full_sync(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    bot = bearer(await login(http, rc_sandbox, rc_sandbox.service_user))
    token = (await http.get(f"{MT}/entries/sync", params={"scope": "Accessible"}, headers=bot)).json()[
        "syncInfo"
    ]
    rc_admin.expire_sync_tokens()
    answer = await http.get(
        f"{MT}/entries/sync", params={"syncType": "ISync", "syncToken": token["syncToken"]}, headers=bot
    )
    assert answer.status_code == 400 and error_code(answer) == "MSG-333"


async def test_rate_limit_headers_429_and_penalty_restart(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    rc_admin.config(rateLimits={"Medium": {"limit": 3, "window": 60, "penalty": 30}})
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    seen = [await http.get(f"{MT}/notes", headers=ana) for _ in range(4)]
    assert [r.headers["X-Rate-Limit-Remaining"] for r in seen[:3]] == ["2", "1", "0"]
    assert (
        seen[0].headers["X-Rate-Limit-Group"] == "medium" and seen[0].headers["X-Rate-Limit-Window"] == "60"
    )
    assert (
        seen[3].status_code == 429
        and seen[3].headers["Retry-After"] == "30"
        and error_code(seen[3]) == "CMN-301"
    )
    rc_admin.advance(20)
    assert (await http.get(f"{MT}/notes", headers=ana)).status_code == 429  # restarts the penalty
    rc_admin.advance(20)
    assert (await http.get(f"{MT}/notes", headers=ana)).status_code == 429
    rc_admin.advance(61)
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    assert (await http.get(f"{MT}/notes", headers=ana)).status_code == 200


async def test_auth_group_limits_logins_per_user(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    rc_admin.config(rateLimits={"Auth": {"limit": 5, "window": 60, "penalty": 60}})
    user = rc_sandbox.user("Chen")
    for _ in range(5):
        await login(http, rc_sandbox, user)
    sixth = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": user.jwt},
        auth=(rc_sandbox.client_id, rc_sandbox.client_secret),
    )
    assert sixth.status_code == 429 and sixth.headers["X-Rate-Limit-Group"] == "auth"


async def test_status_and_rate_limit_faults_hit_the_next_matching_requests(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    rc_admin.fault("status", path=f"{MT}/notes", method="GET", count=1, status=503, retry_after=2)
    rc_admin.fault("rate_limit", path="/restapi/v1.0/account/{accountId}/message-threads/{threadId}", count=1)
    down = await http.get(f"{MT}/notes", headers=ana)
    assert down.status_code == 503 and down.headers["Retry-After"] == "2" and error_code(down) == "CMN-201"
    assert (await http.get(f"{MT}/notes", headers=ana)).status_code == 200
    limited = await http.get(f"{MT}/{ANA_THREAD}", headers=ana)
    assert limited.status_code == 429 and "Retry-After" not in limited.headers


async def test_hold_fault_blocks_until_released(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    fault = rc_admin.fault("hold", path=f"{MT}/notes", method="POST", count=1)
    pending = asyncio.create_task(
        http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "held"}, headers=ana)
    )
    await asyncio.sleep(0.2)
    assert not pending.done()
    await asyncio.to_thread(rc_admin.release, fault)
    assert (await asyncio.wait_for(pending, 5)).status_code == 201


async def test_expire_tokens_fault_makes_current_tokens_expired(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    rc_admin.fault("expire_tokens", extension_id="62001001")
    answer = await http.get(f"{MT}/notes", headers=ana)
    assert answer.status_code == 401 and error_code(answer) == "OAU-128"


async def test_request_log_counts_by_route_template_and_user(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    rc_admin.reset_requests()
    await http.get(f"{MT}/{ANA_THREAD}", headers=ana)
    log = rc_admin.requests()
    assert log == {
        "total": 1,
        "byRoute": {"GET /restapi/v1.0/account/{accountId}/message-threads/{threadId}": 1},
        "byUser": {"62001001": 1},
        "byRouteAndUser": {
            "GET /restapi/v1.0/account/{accountId}/message-threads/{threadId}": {"62001001": 1}
        },
        "byStatus": {"200": 1},
        "byRouteAndStatus": {"GET /restapi/v1.0/account/{accountId}/message-threads/{threadId}": {"200": 1}},
    }


async def test_request_log_timeline_gives_each_request_its_times_and_is_cleared_with_the_log(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    rc_admin.reset_requests()
    assert "timeline" not in rc_admin.requests(), "only when asked for"
    await http.get(f"{MT}/{ANA_THREAD}", headers=ana)
    await http.get(f"{MT}/no-such-thread", headers=ana)
    timeline = rc_admin.http.get("/sandbox/requests", params={"timeline": 1}).json()["timeline"]
    route = "GET /restapi/v1.0/account/{accountId}/message-threads/{threadId}"
    assert [(r[2], r[3], r[4]) for r in timeline] == [(route, "62001001", 200), (route, "62001001", 404)]
    (a_in, a_out), (b_in, b_out) = [(r[0], r[1]) for r in timeline]
    assert a_in <= a_out <= b_in <= b_out, "arrived and answered, in the order they came"
    rc_admin.reset_requests()
    assert rc_admin.http.get("/sandbox/requests", params={"timeline": 1}).json()["timeline"] == []
