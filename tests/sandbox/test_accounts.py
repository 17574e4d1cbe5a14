"""Several accounts in one emulator: a token of one account sees nothing of another.

The emulator serves the demo account and a copy of it with ids of its own (`rc_sandbox_accounts` = 2): the
same people, queues, site and conversations, so every check below has something to find on both sides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.sandbox.ringcentral.app import create_app
from bot.sandbox.ringcentral.clock import parse_rfc3339
from bot.sandbox.ringcentral.seeds import SeedError, load_seed
from bot.servers import BackgroundServer
from tests.kit.rc import RcAdmin, RcSandbox
from tests.sandbox.helpers import (
    ANA_THREAD,
    MT,
    auth_code,
    bearer,
    error_code,
    exchange_code,
    login,
    pkce,
    receiver,
)

ACCOUNT = "/restapi/v1.0/account/~"
ENTRIES = f"{ACCOUNT}/message-threads/entries/sync"


@pytest.fixture
def rc_sandbox_accounts() -> int:
    return 2


async def _records(http: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> list[Any]:
    answer = await http.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["records"])


async def _bots(http: httpx.AsyncClient, rc: RcSandbox) -> tuple[dict[str, str], dict[str, str]]:
    first, second = rc.accounts
    return (
        bearer(await login(http, first, first.service_user)),
        bearer(await login(http, second, second.service_user)),
    )


async def test_credentials_list_every_account_with_the_default_one_also_at_the_top(
    rc_sandbox: RcSandbox,
) -> None:
    top = {k: v for k, v in rc_sandbox.credentials.items() if k != "accounts"}
    first, second = rc_sandbox.credentials["accounts"]
    assert top == first and first["accountId"] == "400017701"
    assert set(second) == set(first) and second["accountId"] != first["accountId"]
    assert (second["clientId"], second["clientSecret"]) == (
        first["clientId"],
        first["clientSecret"],
    )  # one app

    def extension_ids(account: dict[str, Any]) -> set[str]:
        return {u["extensionId"] for u in account["users"]} | {r["extensionId"] for r in account["resources"]}

    assert extension_ids(first).isdisjoint(extension_ids(second))
    assert {u["jwt"] for u in first["users"]}.isdisjoint(u["jwt"] for u in second["users"])
    assert [r["name"] for r in second["resources"]] == [r["name"] for r in first["resources"]]


@pytest.mark.parametrize("rc_sandbox_accounts", [1])
async def test_one_account_by_default_listed_once(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    top = {k: v for k, v in rc_sandbox.credentials.items() if k != "accounts"}
    assert rc_sandbox.credentials["accounts"] == [top]
    page = (await http.get("/sandbox/login")).text
    assert "<h1>Acme Outdoor Gear — sign in to the RingCentral sandbox</h1>" in page and "<h2>" not in page
    assert {t["accountId"] for t in rc_admin.state()["threads"]} == {rc_sandbox.account_id}


async def test_threads_notes_and_messages_of_one_account_are_unknown_to_the_other(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    first, second = rc_sandbox.accounts
    bot_a, bot_b = await _bots(http, rc_sandbox)
    for path in (MT, f"{MT}/notes", f"{MT}/messages"):
        seen_a = {r["id"] for r in await _records(http, path, bot_a, perPage=1000)}
        seen_b = {r["id"] for r in await _records(http, path, bot_b, perPage=1000)}
        assert seen_a and seen_b and seen_a.isdisjoint(seen_b), path
    threads_b = await _records(http, MT, bot_b)
    assert {t["owner"]["extensionId"] for t in threads_b} <= {
        r["extensionId"] for r in second.credentials["resources"]
    }
    ben_a = bearer(await login(http, first, first.user("Ben")))
    ben_b = bearer(await login(http, second, second.user("Ben")))
    note_a = (
        await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "A only"}, headers=ben_a)
    ).json()
    for answer in (
        await http.get(f"{MT}/{ANA_THREAD}", headers=ben_b),
        await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "from B"}, headers=ben_b),
        await http.post(f"{MT}/{ANA_THREAD}/resolve", headers=ben_b),
        await http.post(f"{MT}/{ANA_THREAD}/assign", json={"assignee": None}, headers=ben_b),
        await http.delete(f"{MT}/{ANA_THREAD}", headers=ben_b),
        await http.patch(f"{MT}/notes/{note_a['id']}", json={"text": "from B"}, headers=ben_b),
        await http.request("DELETE", f"{MT}/notes", json={"ids": [note_a["id"]]}, headers=ben_b),
    ):
        assert answer.status_code == 404 and error_code(answer) == "CMN-102", answer.text
    assert await _records(http, f"{MT}/notes", ben_b, noteIds=note_a["id"]) == []
    kept = (await http.get(f"{MT}/{ANA_THREAD}", headers=ben_a)).json()
    assert kept["status"] == "Open" and kept["availability"] == "Alive"


async def test_sync_shows_each_account_its_own_changes_and_refuses_the_other_accounts_tokens(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    first, _ = rc_sandbox.accounts
    bot_a, bot_b = await _bots(http, rc_sandbox)
    full_a = (await http.get(f"{MT}/entries/sync", params={"scope": "Accessible"}, headers=bot_a)).json()
    full_b = (await http.get(f"{MT}/entries/sync", params={"scope": "Accessible"}, headers=bot_b)).json()
    threads_a = {r["threadId"] for r in full_a["records"]}
    threads_b = {r["threadId"] for r in full_b["records"]}
    assert len(threads_a) == len(threads_b) == 5 and threads_a.isdisjoint(threads_b)  # the demo's open ones
    ben_a = bearer(await login(http, first, first.user("Ben")))
    await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "news in A"}, headers=ben_a)
    later_a = await http.get(
        f"{MT}/entries/sync",
        params={"syncType": "ISync", "syncToken": full_a["syncInfo"]["syncToken"]},
        headers=bot_a,
    )
    later_b = await http.get(
        f"{MT}/entries/sync",
        params={"syncType": "ISync", "syncToken": full_b["syncInfo"]["syncToken"]},
        headers=bot_b,
    )
    assert "news in A" in {r.get("text") for r in later_a.json()["records"]}
    assert later_b.status_code == 200 and later_b.json()["records"] == []
    threads_token_a = (await http.get(f"{MT}/sync", headers=bot_a)).json()["syncInfo"]["syncToken"]
    for path, token in (
        (f"{MT}/entries/sync", full_a["syncInfo"]["syncToken"]),
        (f"{MT}/sync", threads_token_a),
    ):
        foreign = await http.get(path, params={"syncType": "ISync", "syncToken": token}, headers=bot_b)
        assert foreign.status_code == 400 and error_code(foreign) == "CMN-101", path


async def test_extensions_queues_sites_and_numbers_are_the_accounts_own(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    first, second = rc_sandbox.accounts
    bot_a, bot_b = await _bots(http, rc_sandbox)
    me = (await http.get(f"{ACCOUNT}/extension/~", headers=bot_b)).json()
    assert me["account"]["id"] == second.account_id and str(me["id"]) == second.service_user.extension_id
    queues = await _records(http, f"{ACCOUNT}/call-queues", bot_b)
    sites = await _records(http, f"{ACCOUNT}/sites", bot_b)
    assert {q["id"] for q in queues} == {second.resource("Support"), second.resource("Sales")}
    assert {s["id"] for s in sites} == {second.resource("Main Office")}
    numbers = f"{ACCOUNT}/extension/~/phone-number"
    numbers_a = {n["phoneNumber"] for n in await _records(http, numbers, bot_a)}
    numbers_b = {n["phoneNumber"] for n in await _records(http, numbers, bot_b)}
    assert numbers_b and numbers_a.isdisjoint(numbers_b)
    support_a = first.resource("Support")
    for path in (
        f"{ACCOUNT}/extension/{first.service_user.extension_id}",
        f"{ACCOUNT}/extension/{support_a}/sms-recipients",
        f"{ACCOUNT}/call-queues/{support_a}/members",
    ):
        answer = await http.get(path, headers=bot_b)
        assert answer.status_code == 404 and error_code(answer) == "CMN-102", path
    other = await http.get(f"/restapi/v1.0/account/{first.account_id}/message-threads", headers=bot_b)
    assert other.status_code == 404 and other.json()["errors"][0]["parameterName"] == "accountId"
    own = await http.get(f"/restapi/v1.0/account/{second.account_id}/message-threads", headers=bot_b)
    assert own.status_code == 200


async def _deliveries(admin: RcAdmin, count: int) -> list[dict[str, Any]]:
    """The emulator's record of webhook deliveries, once it holds `count` of them (or after 4 s)."""
    deliveries: list[dict[str, Any]] = []
    for _ in range(200):
        deliveries = admin.state()["deliveries"]
        if len(deliveries) >= count:
            break
        await asyncio.sleep(0.02)
    return deliveries


async def test_subscriptions_and_deliveries_stay_in_their_account(
    http: httpx.AsyncClient,
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    serve_app: Callable[[Any], BackgroundServer],
) -> None:
    first, second = rc_sandbox.accounts
    bot_a, bot_b = await _bots(http, rc_sandbox)
    (app_a, got_a), (app_b, got_b) = receiver(), receiver()
    hook_a, hook_b = serve_app(app_a), serve_app(app_b)

    async def subscribe(headers: dict[str, str], url: str, event_filter: str = ENTRIES) -> httpx.Response:
        body = {"eventFilters": [event_filter], "deliveryMode": {"transportType": "WebHook", "address": url}}
        return await http.post("/restapi/v1.0/subscription", json=body, headers=headers)

    sub_a = (await subscribe(bot_a, hook_a.url + "/hook")).json()["id"]
    for answer in (
        await http.get(f"/restapi/v1.0/subscription/{sub_a}", headers=bot_b),
        await http.post(f"/restapi/v1.0/subscription/{sub_a}/renew", headers=bot_b),
        await http.put(
            f"/restapi/v1.0/subscription/{sub_a}", json={"eventFilters": [ENTRIES]}, headers=bot_b
        ),
        await http.delete(f"/restapi/v1.0/subscription/{sub_a}", headers=bot_b),
    ):
        assert answer.status_code == 404 and error_code(answer) == "CMN-102", answer.text
    foreign_filter = f"/restapi/v1.0/account/{first.account_id}/message-threads/entries/sync"
    refused = await subscribe(bot_b, hook_b.url + "/hook", foreign_filter)
    assert refused.status_code == 400 and error_code(refused) == "SUB-508"
    assert (await subscribe(bot_b, hook_b.url + "/hook")).status_code == 200
    assert await _records(http, "/restapi/v1.0/subscription", bot_b) != []
    assert sub_a not in {s["id"] for s in await _records(http, "/restapi/v1.0/subscription", bot_b)}

    rc_admin.new_thread(second.resource("Support"), "+14155550199", "a text to account B")
    rc_admin.new_thread(first.resource("Support"), "+14155550199", "a text to account A")
    deliveries = await _deliveries(rc_admin, 2)
    assert {(d["subscription_id"] == sub_a, d["accountId"]) for d in deliveries} == {
        (True, first.account_id),
        (False, second.account_id),
    }
    for d in deliveries:  # each delivery keeps when it was sent and when the receiver answered
        assert d["answered_ms"] >= parse_rfc3339(d["body"]["timestamp"])
    for got, account in ((got_a, first), (got_b, second)):
        assert [envelope["event"] for _, envelope in got] == [
            f"/restapi/v1.0/account/{account.account_id}/message-threads/entries/sync"
        ]
        assert got[0][1]["ownerId"] == account.service_user.extension_id


async def test_a_person_of_the_second_account_signs_in_to_a_token_of_that_account(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    second = rc_sandbox.accounts[1]
    page = (await http.get("/sandbox/login")).text
    for account in rc_sandbox.accounts:
        assert f"<h2>{account.credentials['accountName']} (account {account.account_id})</h2>" in page
        assert all(f"sandbox_user={u.extension_id}" in page for u in account.users)
    verifier, challenge = pkce()
    ben_b = second.user("Ben").extension_id
    tokens = await exchange_code(http, second, await auth_code(http, second, ben_b, challenge), verifier)
    assert tokens.status_code == 200 and tokens.json()["owner_id"] == ben_b
    me = (await http.get(f"{ACCOUNT}/extension/~", headers=bearer(tokens.json()))).json()
    assert me["account"]["id"] == second.account_id
    answer = await http.get(f"{MT}/{ANA_THREAD}", headers=bearer(tokens.json()))
    assert answer.status_code == 404 and error_code(answer) == "CMN-102"


async def test_rate_limits_faults_and_expiry_apply_to_one_account_only(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    first, second = rc_sandbox.accounts
    bot_a, bot_b = await _bots(http, rc_sandbox)
    rc_admin.config(rateLimits={"Medium": {"limit": 2}})
    statuses_a = [(await http.get(f"{MT}/notes", headers=bot_a)).status_code for _ in range(3)]
    assert statuses_a == [200, 200, 429]
    assert (await http.get(f"{MT}/notes", headers=bot_b)).status_code == 200
    rc_admin.config(rateLimits={"Medium": {"limit": 1000}})
    rc_admin.fault("status", path=f"{ACCOUNT}/extension", status=503, account_id=second.account_id)
    assert (await http.get(f"{ACCOUNT}/extension/~", headers=bot_b)).status_code == 503
    assert (await http.get(f"{ACCOUNT}/extension/~", headers=bot_a)).status_code == 200
    rc_admin.clear_faults()
    rc_admin.fault("expire_tokens", account_id=first.account_id)
    expired = await http.get(f"{ACCOUNT}/extension/~", headers=bot_a)
    assert expired.status_code == 401 and error_code(expired) == "OAU-128"
    assert (await http.get(f"{ACCOUNT}/extension/~", headers=bot_b)).status_code == 200


async def test_state_tags_every_record_with_its_account_and_filters_by_one(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    first, second = rc_sandbox.accounts
    thread = rc_admin.new_thread(second.resource("Sales"), "+14155550100", "hello B")
    every = rc_admin.state()
    only_b = rc_admin.state(second.account_id)
    assert {t["accountId"] for t in every["threads"]} == {first.account_id, second.account_id}
    assert {t["accountId"] for t in only_b["threads"]} == {second.account_id}
    assert thread["id"] in {t["id"] for t in only_b["threads"]}
    assert thread["id"] not in {t["id"] for t in rc_admin.state(first.account_id)["threads"]}
    assert len(every["notes"]) == len(only_b["notes"]) + len(rc_admin.state(first.account_id)["notes"])
    with pytest.raises(AssertionError, match="SBX-404"):
        rc_admin.state("999")


def test_a_seed_lists_its_accounts_and_ids_may_not_cross() -> None:
    def account(account_id: str, person: str, queue: str, number: str) -> dict[str, Any]:
        return {
            "account": {"id": account_id, "name": f"Company {account_id}"},
            "users": [{"id": person, "name": f"Person {person}", "service": True}],
            "resources": [{"id": queue, "name": "Help", "phoneNumbers": [number], "handlers": [person]}],
            "threads": [
                {"resource": queue, "guest": "+15550002222", "messages": [{"text": "hi", "ago": "1h"}]}
            ],
        }

    app = {"clientId": "c1", "clientSecret": "s1"}
    acme = account("1001", "11", "21", "+15550001111")
    seed = {"app": app, "accounts": [acme, account("1002", "12", "22", "+15550001112")]}
    with BackgroundServer(create_app(seed)) as server:
        credentials = httpx.get(server.url + "/sandbox/credentials", timeout=10).json()
        state = httpx.get(server.url + "/sandbox/state", timeout=10).json()
    assert [a["accountId"] for a in credentials["accounts"]] == ["1001", "1002"]
    assert [a["users"][0]["resources"] for a in credentials["accounts"]] == [["21"], ["22"]]
    assert sorted(t["accountId"] for t in state["threads"]) == ["1001", "1002"]
    for second, problem in (
        (account("1002", "11", "22", "+15550001112"), "both use extension id '11'"),
        (account("1002", "12", "22", "+15550001111"), r"both use phone number '\+15550001111'"),
        (account("1001", "12", "22", "+15550001112"), "both use account id '1001'"),
    ):
        with pytest.raises(SeedError, match=problem):
            load_seed({"app": app, "accounts": [acme, second]})
    with pytest.raises(SeedError, match="not both"):
        load_seed({"app": app, "users": [{"id": "1", "name": "A"}], "accounts": [acme]})
    copies = load_seed("demo", accounts=3)
    assert [a.account_id for a in copies.accounts] == ["400017701", "400017702", "400017703"]
