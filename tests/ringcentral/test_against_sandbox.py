"""The client over real loopback HTTP against the RingCentral emulator, every exchange checked on the spec.

The client never looks at the emulator's internals: it gets a server URL, app credentials and a user's JWT,
and its traffic goes through `spec_transport`, which fails the test on any request or response off the spec.
Counting happens at the sandbox (`rc_admin.requests()`) and, for statuses, in a thin recording transport.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.ringcentral import (
    Forbidden,
    InvalidInput,
    JwtAuth,
    NotFound,
    OAuthApp,
    RingCentralClient,
    ThreadResolved,
    TokenSet,
    Unavailable,
    UserTokenAuth,
    new_pkce_pair,
)
from tests.kit.rc import RcAdmin, RcSandbox, SandboxUser, SpecTransport

SUPPORT_OPEN = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c02"  # Support, unassigned, Open
SUPPORT_RESOLVED = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c04"
NOTES_ROUTE = "GET /restapi/v1.0/account/{accountId}/message-threads/notes"
TOKEN_ROUTE = "POST /restapi/oauth/token"
CREATE_ROUTE = "POST /restapi/v1.0/account/{accountId}/message-threads/notes"


class Recording(httpx.AsyncBaseTransport):
    """Counts the statuses the client received (the sandbox's request log has no statuses)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.statuses: Counter[int] = Counter()
        self.sent: list[tuple[float, str]] = []
        self.got_429 = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((time.monotonic(), f"{request.method} {request.url.path}"))
        response = await self.inner.handle_async_request(request)
        self.statuses[response.status_code] += 1
        if response.status_code == 429:
            self.got_429.set()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def client_for(
    sandbox: RcSandbox, user: SandboxUser, transport: httpx.AsyncBaseTransport | None, **kw: Any
) -> RingCentralClient:
    return RingCentralClient(
        sandbox.url,
        sandbox.client_id,
        sandbox.client_secret,
        auth=JwtAuth(user.jwt),
        transport=transport,
        **kw,
    )


async def test_user_signs_in_with_jwt_and_creates_lists_updates_deletes_a_note(
    rc_sandbox: RcSandbox, spec_transport: SpecTransport
) -> None:
    ana = rc_sandbox.user("Ana")
    async with client_for(rc_sandbox, ana, spec_transport) as client:
        me = await client.get_extension()
        assert me.id == ana.extension_id
        note = await client.create_note(SUPPORT_OPEN, "Handoff: customer waits for a Canada shipping quote.")
        assert note.author is not None and note.author.extension_id == ana.extension_id
        listed = [n.id async for n in client.iter_notes(thread_ids=[SUPPORT_OPEN])]
        assert note.id in listed
        edited = await client.update_note(note.id, "Handoff: quote sent, waiting for the customer.")
        assert (
            edited.text == "Handoff: quote sent, waiting for the customer." and edited.version >= note.version
        )
        await client.delete_notes([note.id])
        assert note.id not in [n.id async for n in client.iter_notes(thread_ids=[SUPPORT_OPEN])]
        deleted = await client.list_notes(note_ids=[note.id], availability=["Deleted"])
        assert [n.availability for n in deleted.records] in ([], ["Deleted"])
    assert spec_transport.exchanges >= 6


async def test_every_notes_rule_surfaces_as_its_typed_error(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    ana, ben, dana = rc_sandbox.user("Ana"), rc_sandbox.user("Ben"), rc_sandbox.user("Dana")
    async with (
        client_for(rc_sandbox, ana, spec_transport) as as_ana,
        client_for(rc_sandbox, ben, spec_transport) as as_ben,
        client_for(rc_sandbox, dana, spec_transport) as as_dana,
    ):
        note = await as_ana.create_note(SUPPORT_OPEN, "mine")

        with pytest.raises(ThreadResolved) as resolved:
            await as_ana.create_note(SUPPORT_RESOLVED, "too late")
        assert resolved.value.thread_id == SUPPORT_RESOLVED

        with pytest.raises(Forbidden) as not_author:  # Ben handles Support but did not write it
            await as_ben.update_note(note.id, "not yours")
        assert not isinstance(not_author.value, ThreadResolved)
        with pytest.raises(Forbidden) as not_author_delete:
            await as_ben.delete_notes([note.id])
        assert not isinstance(not_author_delete.value, ThreadResolved)

        with pytest.raises(Forbidden) as not_handler:  # Dana handles Sales only
            await as_dana.create_note(SUPPORT_OPEN, "not my queue")
        assert not isinstance(not_handler.value, ThreadResolved)

        rc_admin.reset_requests()
        with pytest.raises(InvalidInput) as too_long:
            await as_ana.create_note(SUPPORT_OPEN, "x" * 1001)
        assert too_long.value.parameter == "text"
        with pytest.raises(InvalidInput) as too_many:
            await as_ana.list_notes(thread_ids=[f"t{i}" for i in range(11)])
        assert too_many.value.parameter == "threadIds"
        with pytest.raises(InvalidInput) as too_many_deletes:
            await as_ana.delete_notes([note.id] * 101)
        assert too_many_deletes.value.parameter == "ids"
        assert rc_admin.requests()["total"] == 0  # refused locally, nothing sent

        unknown = "00000000-0000-4000-8000-000000000000"
        with pytest.raises(NotFound):
            await as_ana.update_note(unknown, "ghost")
        with pytest.raises(NotFound):
            await as_ana.delete_notes([unknown])
        with pytest.raises(NotFound):
            await as_ana.get_thread(unknown)
        with pytest.raises(NotFound):
            await as_ana.create_note(unknown, "no such thread")

        # a thread that resolves (TTL) under an existing note: edits and deletes are refused as Resolved
        await as_ana.resolve_thread(SUPPORT_OPEN)
        with pytest.raises(ThreadResolved):
            await as_ana.update_note(note.id, "after resolve")
        with pytest.raises(ThreadResolved):
            await as_ana.delete_notes([note.id])


async def test_200_requests_at_40_per_2_seconds_meet_no_429(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    rc_admin.config(rateLimits={"Medium": {"limit": 40, "window": 2, "penalty": 5}})
    recording = Recording(spec_transport)
    async with client_for(rc_sandbox, rc_sandbox.service_user, recording) as client:
        await client.get_extension()  # sign in (Auth and Light groups)
        rc_admin.reset_requests()

        async def worker(n: int) -> None:
            for _ in range(n):
                await client.list_notes(thread_ids=[SUPPORT_OPEN])

        started = time.monotonic()
        await asyncio.gather(*(worker(50) for _ in range(4)))
        elapsed = time.monotonic() - started
    assert rc_admin.requests()["byRoute"][NOTES_ROUTE] == 200
    assert recording.statuses[429] == 0
    assert elapsed < 20  # paced, not crawling: the ideal is ~10 s (200 at 40 per 2 s)


async def test_after_a_429_the_client_waits_out_the_penalty_and_sends_nothing_meanwhile(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    recording = Recording(spec_transport)
    async with client_for(rc_sandbox, rc_sandbox.service_user, recording) as client:
        await client.get_extension()
        rc_admin.fault(
            "rate_limit",
            path="/restapi/v1.0/account/~/message-threads/notes",
            method="GET",
            count=1,
            retry_after=2,
        )
        rc_admin.reset_requests()
        first = asyncio.create_task(client.list_notes())
        await asyncio.wait_for(recording.got_429.wait(), timeout=5)
        refused_at = time.monotonic()
        others = [asyncio.create_task(client.list_notes(thread_ids=[SUPPORT_OPEN])) for _ in range(3)]
        await asyncio.sleep(1.5)
        assert rc_admin.requests()["byRoute"].get(NOTES_ROUTE) == 1  # only the refused one, nothing since
        await asyncio.gather(first, *others)
    assert rc_admin.requests()["byRoute"][NOTES_ROUTE] == 5
    after = [t for t, route in recording.sent if route.endswith("/notes") and t > refused_at]
    assert len(after) == 4 and min(after) >= refused_at + 1.9


async def test_token_expiry_amid_concurrent_requests_costs_exactly_one_refresh(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    ana = rc_sandbox.user("Ana")
    async with client_for(rc_sandbox, ana, spec_transport) as client:
        await client.list_notes(thread_ids=[SUPPORT_OPEN])
        rc_admin.reset_requests()
        rc_admin.fault("expire_tokens", extension_id=ana.extension_id)
        results = await asyncio.gather(*(client.list_notes(thread_ids=[SUPPORT_OPEN]) for _ in range(12)))
    assert len(results) == 12
    assert rc_admin.requests()["byRoute"][TOKEN_ROUTE] == 1


async def test_oauth_code_flow_gives_a_session_that_refreshes_once_before_expiry(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    ana = rc_sandbox.user("Ana")
    app = OAuthApp(rc_sandbox.url, rc_sandbox.client_id, rc_sandbox.client_secret, transport=spec_transport)
    verifier, challenge = new_pkce_pair()
    redirect = "http://127.0.0.1:3000/ringcentral/oauth/callback"
    url = app.authorize_url(redirect, "state-42", challenge) + f"&sandbox_user={ana.extension_id}"
    async with httpx.AsyncClient() as browser:
        location = (await browser.get(url)).headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == "state-42"
    tokens = await app.exchange_code(query["code"], redirect, verifier)
    assert tokens.owner_id == ana.extension_id and tokens.refresh_token

    now = [time.time()]
    persisted: list[TokenSet] = []

    async def on_refresh(new: TokenSet) -> None:
        persisted.append(new)

    auth = UserTokenAuth(tokens, on_refresh=on_refresh, clock=lambda: now[0])
    recording = Recording(spec_transport)
    async with RingCentralClient(
        rc_sandbox.url, rc_sandbox.client_id, rc_sandbox.client_secret, auth=auth, transport=recording
    ) as client:
        await client.get_thread(SUPPORT_OPEN)
        rc_admin.reset_requests()
        now[0] += tokens.expires_in - 5  # about to expire: renewed before use, no 401 needed
        await asyncio.gather(*(client.get_thread(SUPPORT_OPEN) for _ in range(8)))
    assert rc_admin.requests()["byRoute"][TOKEN_ROUTE] == 1
    assert recording.statuses[401] == 0
    assert len(persisted) == 1 and persisted[0].refresh_token != tokens.refresh_token
    await app.revoke(persisted[0].access_token)
    await app.aclose()


@pytest.mark.parametrize("rc_sandbox_accounts", [2])
async def test_a_new_sign_in_never_starts_from_the_tokens_of_a_dropped_one(rc_sandbox: RcSandbox) -> None:
    """Service clients are built and dropped in one process (a link replaced, a check run, a test after
    another). A new `JwtAuth` signs in for itself, even when it lives at the address of a dropped one that
    had signed in as another account's service user (the shared refresh results were once keyed by it)."""
    seen = []
    for turn in range(24):
        account = rc_sandbox.accounts[turn % 2]
        async with client_for(account, account.service_user, None) as client:
            me = await client.get_extension()
        seen.append((account.service_user.extension_id, me.id))
        del client
        gc.collect()
    crossed = [(wanted, got) for wanted, got in seen if wanted != got]
    assert not crossed, f"a sign-in read another account's service user (wanted, got): {crossed}"
    assert {got for _, got in seen} == {a.service_user.extension_id for a in rc_sandbox.accounts}


async def test_an_expired_sync_token_leads_to_a_full_sync(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    async with client_for(rc_sandbox, rc_sandbox.service_user, spec_transport) as client:
        first = await client.sync_entries()
        assert not first.full_resync and first.sync_info.sync_type == "FSync"
        assert any(r.record_type == "AliveNote" for r in first.records)
        incremental = await client.sync_entries(first.sync_info.sync_token)
        assert incremental.sync_info.sync_type == "ISync" and not incremental.full_resync
        rc_admin.expire_sync_tokens()
        again = await client.sync_entries(incremental.sync_info.sync_token)
    assert again.full_resync is True
    assert again.sync_info.sync_type == "FSync"
    assert {r.id for r in again.records} >= {r.id for r in first.records if r.record_type == "AliveNote"}


async def test_incremental_sync_reports_created_edited_and_deleted_notes(
    rc_sandbox: RcSandbox, spec_transport: SpecTransport
) -> None:
    ana = rc_sandbox.user("Ana")
    async with (
        client_for(rc_sandbox, rc_sandbox.service_user, spec_transport) as bot,
        client_for(rc_sandbox, ana, spec_transport) as as_ana,
    ):
        token = (await bot.sync_entries()).sync_info.sync_token
        kept = await as_ana.create_note(SUPPORT_OPEN, "first")
        gone = await as_ana.create_note(SUPPORT_OPEN, "second")
        await as_ana.update_note(kept.id, "first, edited")
        await as_ana.delete_notes([gone.id])
        changes = await bot.sync_entries(token)
    kinds = {(r.record_type, r.id) for r in changes.records}
    assert ("AliveNote", kept.id) in kinds and ("DeletedNote", gone.id) in kinds
    edited = next(r for r in changes.records if r.id == kept.id and r.record_type == "AliveNote")
    assert getattr(edited, "text", None) == "first, edited"


async def test_a_create_that_timed_out_is_flagged_and_found_if_it_landed(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    ana = rc_sandbox.user("Ana")
    async with client_for(rc_sandbox, ana, spec_transport, timeout=0.5) as client:
        await client.get_extension()
        since = datetime.now(UTC)
        rc_admin.fault(
            "latency",
            path="/restapi/v1.0/account/~/message-threads/notes",
            method="POST",
            count=1,
            seconds=1.0,
        )
        rc_admin.reset_requests()
        with pytest.raises(Unavailable) as info:
            await client.create_note(SUPPORT_OPEN, "slow but real")
        assert info.value.maybe_created is True
        await asyncio.sleep(0.8)  # let the emulator finish (or abandon) the slow request
        assert rc_admin.requests()["byRoute"][CREATE_ROUTE] == 1  # sent once, not resent
        landed = await client.find_recent_note(SUPPORT_OPEN, "slow but real", ana.extension_id, since)
        stored = [n for n in rc_admin.state()["notes"] if n.get("text") == "slow but real"]
        assert (landed is not None) == bool(stored)  # the check tells the truth, whichever way it went
        # (the emulator applies latency before reading the body, so a timed-out create never lands there)

        rc_admin.fault(
            "status", path="/restapi/v1.0/account/~/message-threads/notes", method="POST", count=1, status=500
        )
        with pytest.raises(Unavailable) as failed:
            await client.create_note(SUPPORT_OPEN, "refused outright")
        assert failed.value.maybe_created is True
        assert (
            await client.find_recent_note(SUPPORT_OPEN, "refused outright", ana.extension_id, since) is None
        )


async def test_reads_are_retried_through_transient_503s(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> None:
    async with client_for(rc_sandbox, rc_sandbox.service_user, spec_transport) as client:
        await client.get_extension()
        rc_admin.fault(
            "status",
            path="/restapi/v1.0/account/{accountId}/message-threads/{threadId}",
            method="GET",
            count=2,
            status=503,
            retry_after=0,
        )
        thread = await client.get_thread(SUPPORT_OPEN)
    assert thread.id == SUPPORT_OPEN


async def test_account_lookups_and_thread_assignment(
    rc_sandbox: RcSandbox, spec_transport: SpecTransport
) -> None:
    ana = rc_sandbox.user("Ana")
    async with client_for(rc_sandbox, ana, spec_transport) as client:
        queues = await client.list_call_queues()
        support = rc_sandbox.resource("Support")
        assert support in {q.id for q in queues}
        members = await client.list_call_queue_members(support)
        assert ana.extension_id in {m.id for m in members}
        numbers = await client.list_phone_numbers()
        assert all(n.phone_number.startswith("+") for n in numbers)
        taken = await client.assign_thread(SUPPORT_OPEN, ana.extension_id)
        assert taken.assignee is not None and taken.assignee.extension_id == ana.extension_id
        released = await client.assign_thread(SUPPORT_OPEN, None)
        assert released.assignee is None
        open_threads = [t.id async for t in client.iter_threads(status="Open", per_page=1)]
        assert SUPPORT_OPEN in open_threads


async def test_the_default_transport_signs_in_and_refreshes_over_a_real_socket(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin
) -> None:
    """No test transport at all: responses stream off the socket, so the auth flow must read them itself."""
    ana = rc_sandbox.user("Ana")
    async with client_for(rc_sandbox, ana, None) as client:
        assert (await client.get_extension()).id == ana.extension_id
        rc_admin.fault("expire_tokens", extension_id=ana.extension_id)
        assert (await client.get_thread(SUPPORT_OPEN)).id == SUPPORT_OPEN
        with pytest.raises(Forbidden):
            await client.resolve_thread("3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c03")  # a Sales thread
    assert rc_admin.requests()["byRoute"][TOKEN_ROUTE] == 2  # sign-in, then one refresh


async def test_webhook_subscription_is_created_renewed_and_deleted(
    rc_sandbox: RcSandbox, spec_transport: SpecTransport, serve_app: Any
) -> None:
    async def webhook(request: Request) -> Response:
        token = request.headers.get("validation-token")
        headers = {"Validation-Token": token} if token else {}
        return Response(status_code=200, headers=headers, media_type="application/json")

    receiver = serve_app(Starlette(routes=[Route("/ringcentral/webhook", webhook, methods=["POST"])]))
    entries = "/restapi/v1.0/account/~/message-threads/entries/sync"
    async with client_for(rc_sandbox, rc_sandbox.service_user, spec_transport) as client:
        created = await client.create_subscription(
            f"{receiver.url}/ringcentral/webhook", "vt-1", [entries], 3600
        )
        assert created.status == "Active" and created.event_filters
        renewed = await client.renew_subscription(created.id)
        assert renewed.id == created.id
        await client.delete_subscription(created.id)
        with pytest.raises(NotFound):
            await client.renew_subscription(created.id)
