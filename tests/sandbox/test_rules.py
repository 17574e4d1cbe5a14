"""Notes and threads: who may do what, input limits, paging, TTL auto-resolve."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.kit.rc import RcAdmin, RcSandbox
from tests.sandbox.helpers import (
    ANA_THREAD,
    MT,
    OPEN_UNASSIGNED,
    RESOLVED_THREAD,
    SALES_THREAD,
    bearer,
    error_code,
    login,
)


async def test_handler_adds_note_and_notes_list_oldest_first(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    created = await http.post(
        f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "I'll take it"}, headers=ben
    )
    assert created.status_code == 201 and created.json()["author"]["extensionId"] == "62001002"
    listed = (await http.get(f"{MT}/notes", params={"threadIds": ANA_THREAD}, headers=ben)).json()["records"]
    assert [n["text"] for n in listed][-1] == "I'll take it"
    assert [n["creationTime"] for n in listed] == sorted(n["creationTime"] for n in listed)


async def test_non_handler_cannot_see_or_write_threads(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    dana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Dana")))  # Sales only
    assert (await http.get(f"{MT}/{ANA_THREAD}", headers=dana)).status_code == 403
    note = await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "hi"}, headers=dana)
    assert note.status_code == 403 and error_code(note) == "MTH-103"
    listed = (await http.get(f"{MT}/notes", headers=dana)).json()["records"]
    assert {n["threadId"] for n in listed} == {SALES_THREAD}


async def test_no_note_writes_on_a_resolved_thread(http: httpx.AsyncClient, rc_sandbox: RcSandbox) -> None:
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    answer = await http.post(f"{MT}/notes", json={"threadId": RESOLVED_THREAD, "text": "late"}, headers=ben)
    assert answer.status_code == 403 and error_code(answer) == "MTH-101"
    old = (await http.get(f"{MT}/notes", params={"threadIds": RESOLVED_THREAD}, headers=ben)).json()[
        "records"
    ][0]
    edit = await http.patch(f"{MT}/notes/{old['id']}", json={"text": "edit"}, headers=ben)
    assert edit.status_code == 403


async def test_only_the_author_edits_or_deletes(http: httpx.AsyncClient, rc_sandbox: RcSandbox) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    note = (await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "mine"}, headers=ana)).json()
    edit = await http.patch(f"{MT}/notes/{note['id']}", json={"text": "theirs"}, headers=ben)
    assert edit.status_code == 403 and error_code(edit) == "MTH-102"
    delete = await http.request("DELETE", f"{MT}/notes", json={"ids": [note["id"]]}, headers=ben)
    assert delete.status_code == 403
    edited = await http.patch(f"{MT}/notes/{note['id']}", json={"text": "mine, edited"}, headers=ana)
    assert edited.json()["lastModifiedTime"] > note["lastModifiedTime"]
    assert (
        await http.request("DELETE", f"{MT}/notes", json={"ids": [note["id"]]}, headers=ana)
    ).status_code == 204


async def test_input_limits_are_400_naming_the_parameter(
    raw: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    ana = bearer(await login(raw, rc_sandbox, rc_sandbox.user("Ana")))
    for text in ("", "x" * 1001):
        answer = await raw.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": text}, headers=ana)
        assert answer.status_code == 400 and answer.json()["errors"][0]["parameterName"] == "text"
    many = await raw.get(
        f"{MT}/notes", params={"threadIds": [str(uuid.uuid4()) for _ in range(11)]}, headers=ana
    )
    assert many.status_code == 400 and many.json()["errors"][0]["parameterName"] == "threadIds"
    for ids in ([], ["not-a-uuid"], [str(uuid.uuid4()) for _ in range(101)]):
        answer = await raw.request("DELETE", f"{MT}/notes", json={"ids": ids}, headers=ana)
        assert answer.status_code == 400 and answer.json()["errors"][0]["parameterName"] == "ids"


async def test_unknown_ids_are_404_cmn_102(http: httpx.AsyncClient, rc_sandbox: RcSandbox) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    missing = str(uuid.uuid4())
    for answer in (
        await http.get(f"{MT}/{missing}", headers=ana),
        await http.post(f"{MT}/notes", json={"threadId": missing, "text": "x"}, headers=ana),
        await http.patch(f"{MT}/notes/{missing}", json={"text": "x"}, headers=ana),
        await http.request("DELETE", f"{MT}/notes", json={"ids": [missing]}, headers=ana),
    ):
        assert answer.status_code == 404 and error_code(answer) == "CMN-102"


async def test_per_page_is_clamped_and_pages_follow(http: httpx.AsyncClient, rc_sandbox: RcSandbox) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    clamped = await http.get(f"{MT}/notes", params={"perPage": 1000}, headers=ana)
    assert clamped.json()["paging"]["perPage"] == 1000
    first = (await http.get(f"{MT}/notes", params={"perPage": 2}, headers=ana)).json()
    second = (await http.get(f"{MT}/notes", params={"perPage": 2, "page": 2}, headers=ana)).json()
    assert first["paging"] == {"page": 1, "perPage": 2, "pageStart": 0, "pageEnd": 1}
    assert {n["id"] for n in first["records"]}.isdisjoint(n["id"] for n in second["records"])


async def test_resolve_clears_assignee_and_assignee_must_be_a_handler(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    bad = await http.post(
        f"{MT}/{OPEN_UNASSIGNED}/assign", json={"assignee": {"extensionId": "62001004"}}, headers=ben
    )
    assert bad.status_code == 400 and error_code(bad) == "MTH-104"
    taken = await http.post(
        f"{MT}/{OPEN_UNASSIGNED}/assign", json={"assignee": {"extensionId": "62001002"}}, headers=ben
    )
    assert taken.json()["assignee"]["extensionId"] == "62001002"
    resolved = (await http.post(f"{MT}/{OPEN_UNASSIGNED}/resolve", headers=ben)).json()
    assert (
        resolved["status"] == "Resolved"
        and "assignee" not in resolved
        and resolved["statusReason"] == "Manual"
    )
    assert (await http.post(f"{MT}/{OPEN_UNASSIGNED}/resolve", headers=ben)).status_code == 403


async def test_idle_threads_auto_resolve_after_the_ttl(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    thread = rc_admin.new_thread(rc_sandbox.resource("Sales"), "+14155550100", "Any discounts?")
    rc_admin.advance(72 * 3600 - 60)
    dana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Dana")))
    assert (await http.get(f"{MT}/{thread['id']}", headers=dana)).json()["status"] == "Open"
    rc_admin.advance(61)
    dana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Dana")))
    after = (await http.get(f"{MT}/{thread['id']}", headers=dana)).json()
    assert after["status"] == "Resolved" and after["statusReason"] == "ThreadExpired"


async def test_new_inbound_text_from_same_customer_joins_the_open_thread(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    first = rc_admin.new_thread(rc_sandbox.resource("Sales"), "+14155550100", "hello")
    second = rc_admin.new_thread(rc_sandbox.resource("Sales"), "+14155550100", "anyone?")
    assert first["id"] == second["id"] and second["label"] == "anyone?"


async def test_call_queues_phone_numbers_and_members(http: httpx.AsyncClient, rc_sandbox: RcSandbox) -> None:
    bot = bearer(await login(http, rc_sandbox, rc_sandbox.service_user))
    queues = (await http.get("/restapi/v1.0/account/~/call-queues", headers=bot)).json()["records"]
    assert {q["name"] for q in queues} == {"Support", "Sales"}
    members = await http.get(f"/restapi/v1.0/account/~/call-queues/{queues[0]['id']}/members", headers=bot)
    assert int(rc_sandbox.service_user.extension_id) in {m["id"] for m in members.json()["records"]}
    numbers = (await http.get("/restapi/v1.0/account/~/extension/~/phone-number", headers=bot)).json()[
        "records"
    ]
    assert {"+16505550123", "+16505550188"} <= {n["phoneNumber"] for n in numbers}
    by_id = await http.get(f"/restapi/v1.0/account/{rc_sandbox.account_id}/message-threads", headers=bot)
    assert by_id.status_code == 200


@pytest.mark.parametrize(
    ("sandbox_profile", "refused"), [("default", False), ("utf16-length", True)], indirect=["sandbox_profile"]
)
async def test_text_length_counts_code_points_or_utf16_units_as_the_profile_reads_it(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, refused: bool
) -> None:
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    emoji = "\U0001f600" * 600  # 600 code points, 1,200 UTF-16 code units
    answer = await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": emoji}, headers=ben)
    assert (answer.status_code == 400) is refused, answer.text
    if refused:
        assert error_code(answer) == "CMN-101" and "got 1200" in answer.text
