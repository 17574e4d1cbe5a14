"""The client over `httpx.MockTransport`: request shapes, error mapping, safe retries, paging, sync."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from bot.ringcentral import (
    AuthError,
    Forbidden,
    InvalidInput,
    NotFound,
    RingCentralClient,
    RingCentralError,
    ThreadResolved,
    Unavailable,
)
from tests.ringcentral.fakes import (
    MT,
    NOTE_ID,
    THREAD_ID,
    FakeClock,
    FakeRingCentral,
    error_json,
    json_of,
    make_client,
    note_json,
    thread_json,
    token_json,
    user_auth,
)


def respond(status: int, body: Any = None, **headers: str) -> FakeRingCentral:
    return FakeRingCentral(lambda request: httpx.Response(status, json=body, headers=headers))


# --- requests as the spec wants them ------------------------------------------------------------------


async def test_create_note_posts_thread_id_and_text_and_parses_the_note() -> None:
    clock = FakeClock()
    fake = respond(201, note_json(text="handoff"))
    client = make_client(fake, clock)
    note = await client.create_note(THREAD_ID, "handoff")
    assert note.id == NOTE_ID and note.text == "handoff" and note.author and note.author.extension_id == "101"
    request = fake.requests[0]
    assert (request.method, request.url.path) == ("POST", f"{MT}/notes")
    assert json_of(request) == {"threadId": THREAD_ID, "text": "handoff"}
    await client.aclose()


async def test_array_filters_repeat_the_query_key() -> None:
    clock = FakeClock()
    fake = respond(200, {"records": [], "paging": {"perPage": 50}})
    client = make_client(fake, clock)
    await client.list_notes(
        thread_ids=["a", "b"],
        owner_extension_ids=["9"],
        availability=["Alive", "Deleted"],
        per_page=50,
        page=2,
    )
    query = fake.requests[0].url.params
    assert query.get_list("threadIds") == ["a", "b"]
    assert query.get_list("availability") == ["Alive", "Deleted"]
    assert query.get_list("ownerExtensionIds") == ["9"]
    assert (query["page"], query["perPage"]) == ("2", "50")
    await client.aclose()


async def test_delete_notes_sends_a_json_body_on_delete() -> None:
    clock = FakeClock()
    fake = respond(204)
    client = make_client(fake, clock)
    await client.delete_notes([NOTE_ID])
    request = fake.requests[0]
    assert request.method == "DELETE" and json_of(request) == {"ids": [NOTE_ID]}
    assert request.headers["Content-Type"] == "application/json"
    await client.aclose()


async def test_thread_filters_and_assign_and_unassign_bodies() -> None:
    clock = FakeClock()
    fake = FakeRingCentral(
        lambda r: httpx.Response(
            200,
            json={"records": [thread_json()], "paging": {"perPage": 100}}
            if r.method == "GET"
            else thread_json(),
        )
    )
    client = make_client(fake, clock)
    await client.list_threads(
        status="Open",
        guest_phone_number="+15550100",
        creation_time_from=datetime(2026, 11, 1, tzinfo=UTC),
        creation_time_to=datetime(2026, 11, 2, tzinfo=UTC),
    )
    query = fake.requests[0].url.params
    assert query["threadStatus"] == "Open" and query["guestPhoneNumber"] == "+15550100"
    assert query["creationTimeFrom"] == "2026-11-01T00:00:00Z"
    await client.assign_thread(THREAD_ID, "101")
    await client.assign_thread(THREAD_ID, None)
    assert json_of(fake.requests[1]) == {"assignee": {"extensionId": "101"}}
    assert json_of(fake.requests[2]) == {"assignee": None}
    assert fake.requests[1].url.path == f"{MT}/{THREAD_ID}/assign"
    await client.aclose()


# --- local validation: nothing is sent ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda c: c.create_note(THREAD_ID, ""), "text"),
        (lambda c: c.create_note(THREAD_ID, "x" * 1001), "text"),
        (lambda c: c.update_note(NOTE_ID, "x" * 1001), "text"),
        (lambda c: c.list_notes(thread_ids=[str(i) for i in range(11)]), "threadIds"),
        (lambda c: c.list_notes(note_ids=[str(i) for i in range(11)]), "noteIds"),
        (lambda c: c.list_threads(owner_extension_ids=[str(i) for i in range(11)]), "ownerExtensionIds"),
        (lambda c: c.delete_notes([]), "ids"),
        (lambda c: c.delete_notes([NOTE_ID] * 101), "ids"),
        (lambda c: c.delete_notes(["not-a-uuid"]), "ids"),
        (lambda c: c.list_notes(per_page=1001), "perPage"),
        (lambda c: c.list_threads(creation_time_from="2026-11-01T00:00:00Z"), "creationTimeTo"),
    ],
)
async def test_invalid_input_is_refused_before_sending(call: Any, parameter: str) -> None:
    clock = FakeClock()
    fake = respond(200, {})
    client = make_client(fake, clock)
    with pytest.raises(InvalidInput) as info:
        await call(client)
    assert info.value.parameter == parameter
    assert fake.requests == [] and fake.token_requests == []
    await client.aclose()


async def test_text_of_exactly_1000_characters_is_accepted() -> None:
    clock = FakeClock()
    client = make_client(respond(201, note_json(text="x" * 1000)), clock)
    assert (await client.create_note(THREAD_ID, "x" * 1000)).text == "x" * 1000
    await client.aclose()


# --- error translation ----------------------------------------------------------------------------------


async def test_400_names_the_parameter_from_the_first_error() -> None:
    clock = FakeClock()
    body = error_json("CMN-101", "Parameter [text] value is invalid", parameterName="text")
    client = make_client(respond(400, body), clock)
    with pytest.raises(InvalidInput) as info:
        await client.update_note(NOTE_ID, "fine")
    assert (info.value.parameter, info.value.error_code, info.value.status) == ("text", "CMN-101", 400)
    await client.aclose()


async def test_error_code_falls_back_to_the_top_level_field() -> None:
    clock = FakeClock()
    client = make_client(respond(404, {"errorCode": "CMN-102", "message": "gone"}), clock)
    with pytest.raises(NotFound) as info:
        await client.get_thread(THREAD_ID)
    assert info.value.error_code == "CMN-102"
    await client.aclose()


async def test_403_on_a_note_write_to_a_resolved_thread_is_thread_resolved() -> None:
    clock = FakeClock()

    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == f"{MT}/{THREAD_ID}":
            return httpx.Response(200, json=thread_json(status="Resolved"))
        if request.method == "GET":  # list notes, to find the note's thread
            return httpx.Response(200, json={"records": [note_json()], "paging": {"perPage": 1000}})
        return httpx.Response(403, json=error_json("CMN-999", "whatever the real code is"))

    client = make_client(FakeRingCentral(api), clock)
    with pytest.raises(ThreadResolved) as info:
        await client.create_note(THREAD_ID, "late")
    assert info.value.thread_id == THREAD_ID and info.value.status == 403
    with pytest.raises(ThreadResolved):
        await client.update_note(NOTE_ID, "edit")
    with pytest.raises(ThreadResolved):
        await client.delete_notes([NOTE_ID])
    await client.aclose()


async def test_403_on_an_open_thread_stays_forbidden() -> None:
    clock = FakeClock()

    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=thread_json(status="Open"))
        return httpx.Response(403, json=error_json("CMN-408"))

    client = make_client(FakeRingCentral(api), clock)
    with pytest.raises(Forbidden) as info:
        await client.create_note(THREAD_ID, "hi")
    assert type(info.value) is Forbidden and info.value.error_code == "CMN-408"
    await client.aclose()


async def test_401_maps_to_auth_error() -> None:
    clock = FakeClock()
    client = make_client(respond(401, error_json("OAU-129")), clock)
    with pytest.raises(AuthError):
        await client.get_extension()
    await client.aclose()


# --- retries ----------------------------------------------------------------------------------------------


def flaky(failures: list[Any], final: httpx.Response) -> FakeRingCentral:
    """Fail with each item (a status, or an exception to raise) in turn, then answer `final`."""
    script = list(failures)

    def api(request: httpx.Request) -> httpx.Response:
        if script:
            failure = script.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return httpx.Response(failure, json=error_json("CMN-211"), headers={"Retry-After": "3"})
        return final

    return FakeRingCentral(api)


async def test_reads_are_retried_on_503_honouring_retry_after() -> None:
    clock = FakeClock()
    fake = flaky([503, 503], httpx.Response(200, json=thread_json()))
    client = make_client(fake, clock)
    assert (await client.get_thread(THREAD_ID)).id == THREAD_ID
    assert len(fake.requests) == 3
    assert clock.sleeps.count(3.0) == 2
    await client.aclose()


async def test_reads_are_retried_on_timeouts_then_give_up_as_unavailable() -> None:
    clock = FakeClock()
    fake = flaky([httpx.ReadTimeout("slow")] * 10, httpx.Response(200, json=thread_json()))
    client = make_client(fake, clock)
    with pytest.raises(Unavailable) as info:
        await client.get_thread(THREAD_ID)
    assert not info.value.maybe_created
    assert len(fake.requests) == 4  # max_attempts
    await client.aclose()


async def test_update_and_delete_and_assign_are_retried_on_5xx() -> None:
    clock = FakeClock()
    calls: list[tuple[Callable[[RingCentralClient], Awaitable[object]], httpx.Response]] = [
        (lambda c: c.update_note(NOTE_ID, "same text"), httpx.Response(200, json=note_json())),
        (lambda c: c.delete_notes([NOTE_ID]), httpx.Response(204)),
        (lambda c: c.assign_thread(THREAD_ID, "101"), httpx.Response(200, json=thread_json())),
        (lambda c: c.resolve_thread(THREAD_ID), httpx.Response(200, json=thread_json(status="Resolved"))),
    ]
    for call, final in calls:
        fake = flaky([500, httpx.RemoteProtocolError("dropped")], final)
        client = make_client(fake, clock)
        await call(client)
        assert len(fake.requests) == 3
        await client.aclose()


@pytest.mark.parametrize(
    "failure", [500, 503, httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")]
)
async def test_a_create_that_may_have_reached_the_server_is_not_resent(failure: Any) -> None:
    clock = FakeClock()
    fake = flaky([failure], httpx.Response(201, json=note_json()))
    client = make_client(fake, clock)
    with pytest.raises(Unavailable) as info:
        await client.create_note(THREAD_ID, "hello")
    assert info.value.maybe_created is True
    assert len(fake.requests) == 1
    await client.aclose()


async def test_a_create_that_never_connected_is_retried() -> None:
    clock = FakeClock()
    fake = flaky([httpx.ConnectError("refused")], httpx.Response(201, json=note_json()))
    client = make_client(fake, clock)
    assert (await client.create_note(THREAD_ID, "hello")).id == NOTE_ID
    assert len(fake.requests) == 2
    await client.aclose()


async def test_a_create_refused_with_429_is_retried_after_the_penalty() -> None:
    clock = FakeClock()
    fake = flaky([429], httpx.Response(201, json=note_json()))
    client = make_client(fake, clock)
    start = clock()
    await client.create_note(THREAD_ID, "hello")
    assert len(fake.requests) == 2 and clock() >= start + 3.0
    await client.aclose()


async def test_find_recent_note_tells_whether_a_timed_out_create_landed() -> None:
    clock = FakeClock()
    notes = [
        note_json(note_id="n1", text="other"),
        note_json(note_id="n2", text="hello", author="101"),
        note_json(note_id="n3", text="hello", author="202"),
    ]
    fake = respond(200, {"records": notes, "paging": {"perPage": 1000, "totalPages": 1}})
    client = make_client(fake, clock)
    since = datetime(2026, 11, 27, 9, 59, tzinfo=UTC)
    found = await client.find_recent_note(THREAD_ID, "hello", "101", since)
    assert found is not None and found.id == "n2"
    assert await client.find_recent_note(THREAD_ID, "hello", "303", since) is None
    assert (
        await client.find_recent_note(THREAD_ID, "hello", "101", datetime(2026, 11, 28, tzinfo=UTC)) is None
    )
    assert fake.requests[0].url.params.get_list("threadIds") == [THREAD_ID]
    await client.aclose()


# --- paging -----------------------------------------------------------------------------------------------


async def test_iter_notes_follows_pages_until_a_short_page() -> None:
    clock = FakeClock()
    total = 250

    def api(request: httpx.Request) -> httpx.Response:
        page, per_page = int(request.url.params["page"]), int(request.url.params["perPage"])
        start = (page - 1) * per_page
        records = [
            note_json(note_id=f"n{i}", text=str(i)) for i in range(start, min(total, start + per_page))
        ]
        return httpx.Response(200, json={"records": records, "paging": {"page": page, "perPage": per_page}})

    fake = FakeRingCentral(api)
    client = make_client(fake, clock)
    texts = [note.text async for note in client.iter_notes(thread_ids=[THREAD_ID])]
    assert texts == [str(i) for i in range(total)]
    assert [r.url.params["page"] for r in fake.requests] == ["1", "2", "3"]
    await client.aclose()


async def test_iter_threads_stops_at_total_pages() -> None:
    clock = FakeClock()

    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(
            200,
            json={
                "records": [thread_json(thread_id=f"t{page}")],
                "paging": {"page": page, "perPage": 1, "totalPages": 2},
            },
        )

    fake = FakeRingCentral(api)
    client = make_client(fake, clock)
    assert [t.id async for t in client.iter_threads(per_page=1)] == ["t1", "t2"]
    await client.aclose()


# --- sync -------------------------------------------------------------------------------------------------


def sync_body(sync_type: str, token: str, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "records": records or [],
        "syncInfo": {"syncType": sync_type, "syncToken": token, "syncTime": "2026-11-27T10:00:00Z"},
    }


async def test_sync_without_a_token_is_a_full_sync_of_accessible_threads() -> None:
    clock = FakeClock()
    fake = respond(200, sync_body("FSync", "tok-1", [{**note_json(), "recordType": "AliveNote"}]))
    client = make_client(fake, clock)
    result = await client.sync_entries()
    assert result.sync_info.sync_token == "tok-1" and not result.full_resync
    assert dict(fake.requests[0].url.params) == {
        "syncType": "FSync",
        "scope": "Accessible",
        "recordCount": "250",
    }
    await client.aclose()


async def test_sync_with_a_token_is_incremental() -> None:
    clock = FakeClock()
    deleted = {
        "recordType": "DeletedNote",
        "id": NOTE_ID,
        "threadId": THREAD_ID,
        "availability": "Deleted",
        "lastModifiedTime": "2026-11-27T10:05:00Z",
    }
    fake = respond(200, sync_body("ISync", "tok-2", [deleted]))
    client = make_client(fake, clock)
    result = await client.sync_entries("tok-1")
    assert dict(fake.requests[0].url.params) == {"syncType": "ISync", "syncToken": "tok-1"}
    assert result.records[0].record_type == "DeletedNote"
    await client.aclose()


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "MSG-411"), (400, "CMN-101"), (400, "MSG-333"), (400, "CMN-999")]
    + [(status, "XYZ-123") for status in (403, 404, 409, 410, 422)],
)
async def test_a_sync_token_refused_with_any_4xx_leads_to_a_full_sync(status: int, code: str) -> None:
    clock = FakeClock()

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.params["syncType"] == "ISync":
            return httpx.Response(status, json=error_json(code, "Full synchronization is required"))
        return httpx.Response(200, json=sync_body("FSync", "fresh"))

    fake = FakeRingCentral(api)
    client = make_client(fake, clock)
    result = await client.sync_entries("stale")
    assert result.full_resync is True and result.sync_info.sync_token == "fresh"
    assert [r.url.params["syncType"] for r in fake.requests] == ["ISync", "FSync"]
    assert fake.requests[1].url.params["scope"] == "Accessible"
    await client.aclose()


async def test_a_rate_limited_incremental_sync_keeps_its_token() -> None:
    clock = FakeClock()
    fake = FakeRingCentral(
        lambda request: httpx.Response(429, json=error_json("CMN-301"), headers={"Retry-After": "600"})
    )
    client = make_client(fake, clock)
    with pytest.raises(RingCentralError):
        await client.sync_entries("still-good")
    assert {r.url.params["syncType"] for r in fake.requests} == {"ISync"}
    await client.aclose()


async def test_unknown_sync_records_system_entries_and_unknown_fields_are_skipped_and_counted() -> None:
    clock = FakeClock()
    records = [
        {**note_json(), "recordType": "AliveNote", "reactions": [{"emoji": "+1"}]},
        {"recordType": "ThreadUnassignedHint", "id": "h1", "threadId": THREAD_ID},
        {
            "id": "s1",
            "threadId": THREAD_ID,
            "action": "ThreadLabelChanged",
            "lastModifiedTime": "2026-11-27T10:00:00Z",
        },
        {"recordType": "AliveNote", "id": "broken"},
        "not even an object",
    ]
    client = make_client(respond(200, sync_body("ISync", "tok-2", records)), clock)
    result = await client.sync_entries("tok-1")
    assert [r.id for r in result.records] == [NOTE_ID]
    assert result.received == 5
    assert result.skipped == {"unknown_type": 1, "system_entry": 1, "malformed": 2}
    await client.aclose()


async def test_a_get_on_a_keep_alive_connection_closed_while_idle_is_retried_quietly_at_once() -> None:
    for failure in (httpx.ReadError("reset"), httpx.RemoteProtocolError("Server disconnected")):
        clock = FakeClock()
        fake = flaky([failure], httpx.Response(200, json=thread_json()))
        client = make_client(fake, clock)
        with capture_logs() as logs:
            assert (await client.get_thread(THREAD_ID)).id == THREAD_ID
        assert len(fake.requests) == 2
        assert clock.sleeps == [], "resent at once, without the backoff"
        assert not [e for e in logs if e["log_level"] in ("warning", "error")], logs
        assert any(e["event"] == "ringcentral.stale_connection_retried" for e in logs)
        await client.aclose()


async def test_a_get_failing_twice_on_dropped_connections_is_a_warning() -> None:
    clock = FakeClock()
    fake = flaky([httpx.ReadError("reset")] * 2, httpx.Response(200, json=thread_json()))
    client = make_client(fake, clock)
    with capture_logs() as logs:
        assert (await client.get_thread(THREAD_ID)).id == THREAD_ID
    assert any(e["event"] == "ringcentral.request_failed" and e["log_level"] == "warning" for e in logs)
    await client.aclose()


async def test_only_a_get_is_resent_quietly_after_a_dropped_connection() -> None:
    clock = FakeClock()
    fake = flaky([httpx.RemoteProtocolError("Server disconnected")], httpx.Response(201, json=note_json()))
    client = make_client(fake, clock)
    with capture_logs() as logs, pytest.raises(Unavailable) as info:
        await client.create_note(THREAD_ID, "hello")
    assert info.value.maybe_created and len(fake.requests) == 1
    assert not any(e["event"] == "ringcentral.stale_connection_retried" for e in logs)
    await client.aclose()


# --- account ------------------------------------------------------------------------------------------------


async def test_account_endpoints_coerce_numeric_ids_to_strings() -> None:
    clock = FakeClock()
    bodies = {
        "/restapi/v1.0/account/~/extension/~": {"id": 101, "name": "Ann", "extensionNumber": "101"},
        "/restapi/v1.0/account/~/call-queues": {
            "records": [{"id": "900", "name": "Support"}],
            "paging": {"perPage": 100},
        },
        "/restapi/v1.0/account/~/call-queues/900/members": {
            "records": [{"id": 101, "extensionNumber": "101"}],
            "paging": {"perPage": 100},
        },
        "/restapi/v1.0/account/~/extension/~/phone-number": {
            "records": [
                {"id": 5, "phoneNumber": "+15550001", "usageType": "DirectNumber", "features": ["SmsSender"]}
            ],
            "paging": {"perPage": 100},
        },
    }
    client = make_client(FakeRingCentral(lambda r: httpx.Response(200, json=bodies[r.url.path])), clock)
    assert (await client.get_extension()).id == "101"
    assert [q.id for q in await client.list_call_queues()] == ["900"]
    assert [m.id for m in await client.list_call_queue_members("900")] == ["101"]
    assert (await client.list_phone_numbers())[0].phone_number == "+15550001"
    await client.aclose()


async def test_subscriptions_create_renew_delete() -> None:
    clock = FakeClock()
    sub = {
        "id": "s1",
        "status": "Active",
        "eventFilters": ["/restapi/v1.0/account/~/message-threads/entries/sync"],
        "expiresIn": 600,
    }
    fake = FakeRingCentral(
        lambda r: httpx.Response(204) if r.method == "DELETE" else httpx.Response(200, json=sub)
    )
    client = make_client(fake, clock)
    created = await client.create_subscription(
        "https://bot.test/ringcentral/webhook",
        "vt",
        ["/restapi/v1.0/account/~/message-threads/entries/sync"],
        600,
    )
    assert created.id == "s1"
    assert json_of(fake.requests[0])["deliveryMode"] == {
        "transportType": "WebHook",
        "address": "https://bot.test/ringcentral/webhook",
        "verificationToken": "vt",
    }
    await client.renew_subscription("s1")
    await client.delete_subscription("s1")
    assert [(r.method, r.url.path) for r in fake.requests[1:]] == [
        ("POST", "/restapi/v1.0/subscription/s1/renew"),
        ("DELETE", "/restapi/v1.0/subscription/s1"),
    ]
    await client.aclose()


# --- logging ------------------------------------------------------------------------------------------------


async def test_requests_are_logged_with_route_status_and_duration_but_never_tokens() -> None:
    clock = FakeClock()
    client = make_client(respond(200, thread_json()), clock)
    with capture_logs() as logs:
        await client.get_thread(THREAD_ID)
    entry = next(e for e in logs if e["event"] == "ringcentral.request")
    assert entry["method"] == "GET" and entry["status"] == 200 and "duration_ms" in entry
    assert entry["route"] == "/restapi/v1.0/account/{accountId}/message-threads/{threadId}"
    assert "access-0" not in repr(logs) and "refresh-0" not in repr(logs)
    await client.aclose()


def test_every_error_is_a_ringcentral_error() -> None:
    assert issubclass(ThreadResolved, Forbidden) and issubclass(Unavailable, RingCentralError)


async def test_an_unexpected_response_shape_is_a_ringcentral_error_not_a_pydantic_one() -> None:
    clock = FakeClock()
    client = make_client(respond(200, {"id": THREAD_ID}), clock)
    with pytest.raises(RingCentralError) as info:
        await client.get_thread(THREAD_ID)
    assert type(info.value) is RingCentralError and "Thread" in info.value.message
    await client.aclose()


async def test_a_failing_token_endpoint_is_retried_before_the_request_is_sent() -> None:
    clock = FakeClock()
    answers = [httpx.Response(503, json=error_json("CMN-201")), httpx.Response(200, json=token_json())]
    fake = FakeRingCentral(lambda r: httpx.Response(201, json=note_json()), token=lambda r: answers.pop(0))
    client = make_client(fake, clock, auth=user_auth(clock, issued_ago=4000))
    assert (await client.create_note(THREAD_ID, "hello")).id == NOTE_ID
    assert len(fake.token_requests) == 2 and len(fake.requests) == 1
    await client.aclose()
