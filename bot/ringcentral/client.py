"""`RingCentralClient`: the async client of the Thread Messaging API (notes, threads, sync) and friends.

Retry policy (tenacity, exponential backoff with jitter; `Retry-After` honoured):

* 429: the request was refused before it did anything, so it is retried for every method, after the rate
  limiter has waited out the penalty (nothing of that group is sent meanwhile). A penalty longer than
  `max_rate_limit_wait` is not waited for: `RateLimited` is raised.
* Failure to connect (`ConnectError`, `ConnectTimeout`, pool timeout): nothing reached RingCentral, so it is
  retried for every method.
* 5xx, read/write timeouts, dropped connections: retried only where repeating cannot duplicate a write —
  GET, PATCH (same text), DELETE, assign (same target), resolve, subscription renew/delete.
* Creates (`create_note`, `create_subscription`, POST) are never resent once the request may have reached the
  server. They raise `Unavailable(maybe_created=True)`; the caller decides. For a note, call
  `find_recent_note(thread_id, text, author_id, since)` — it lists the thread's notes and returns the note
  if it landed — and create again only when it returns None.

Every error leaves as a class of `bot.ringcentral.errors`; a 403 on a note write re-reads the thread and
becomes `ThreadResolved` when the thread is Resolved (the API's own codes for that are undocumented).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from bot.logs import get_logger
from bot.note_text import NOTE_TEXT_MAX, note_length
from bot.ringcentral import _errors, _routes
from bot.ringcentral._transport import GovernedTransport
from bot.ringcentral.auth import JwtAuth, TokenEndpoint, UserTokenAuth
from bot.ringcentral.errors import (
    Forbidden,
    InvalidInput,
    RateLimited,
    RingCentralError,
    ThreadResolved,
    Unavailable,
)
from bot.ringcentral.models import (
    CallQueue,
    CallQueueMember,
    EntriesSync,
    Extension,
    Note,
    NotePage,
    Paging,
    PhoneNumber,
    Site,
    SmsRecipient,
    Subscription,
    Thread,
    ThreadPage,
    parse_entries_sync,
)
from bot.ringcentral.ratelimit import RateLimiter

log = get_logger(__name__)

Availability = Literal["Alive", "Deleted"]
SyncScope = Literal["Accessible", "Unassigned", "AssignedToMe", "AssignedToMeAndUnassigned", "Explicit"]

_MT = "/restapi/v1.0/account/~/message-threads"
MAX_FILTER_IDS = 10
MAX_DELETE_IDS = 100
MAX_PAGE = 1000
# Records asked for on an FSync: what RingCentral's own clients send (and the message store's sync cap).
SYNC_RECORD_COUNT = 250
_SCOPES = ("Accessible", "Unassigned", "AssignedToMe", "AssignedToMeAndUnassigned", "Explicit")


class _Retry(Exception):
    """Internal: `error` may be retried after `delay` seconds (None: exponential backoff)."""

    def __init__(self, error: RingCentralError, delay: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.delay = delay


class RingCentralClient:
    """One identity's view of RingCentral. Use one per identity; share its `RateLimiter` across clients."""

    def __init__(
        self,
        server_url: str,
        client_id: str,
        client_secret: str,
        *,
        auth: JwtAuth | UserTokenAuth,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_attempts: int = 4,
        max_rate_limit_wait: float = 90.0,
    ) -> None:
        # Waiting longer than `max_rate_limit_wait` for a slot raises RateLimited instead (a shared limiter
        # brings its own setting).
        self.limiter = limiter or RateLimiter(clock=clock, sleep=sleep, max_wait=max_rate_limit_wait)
        self.auth = auth
        auth.bind(TokenEndpoint(server_url, client_id, client_secret, timeout=timeout))
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_rate_limit_wait = max_rate_limit_wait
        self._backoff = wait_random_exponential(multiplier=0.5, max=8.0)  # "full jitter"
        self._timeout = httpx.Timeout(timeout)
        self._http = httpx.AsyncClient(
            base_url=server_url.rstrip("/"),
            auth=auth,
            transport=GovernedTransport(transport or httpx.AsyncHTTPTransport(), self.limiter),
            timeout=self._timeout,
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RingCentralClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- notes ----------------------------------------------------------------------------------------

    async def create_note(self, thread_id: str, text: str) -> Note:
        """Add a note. Never resent once it may have reached RingCentral: see the module docstring."""
        _check_text(text)
        _check_nonempty("threadId", thread_id)
        try:
            response = await self._request(
                "POST", f"{_MT}/notes", json={"threadId": thread_id, "text": text}, idempotent=False
            )
        except Forbidden as exc:
            raise await self._explain_forbidden(exc, [thread_id]) from exc
        return _parse(Note, _json(response))

    async def list_notes(
        self,
        *,
        thread_ids: Sequence[str] | None = None,
        note_ids: Sequence[str] | None = None,
        owner_extension_ids: Sequence[str] | None = None,
        availability: Sequence[Availability] | None = None,
        page: int = 1,
        per_page: int = 100,
    ) -> NotePage:
        params: dict[str, Any] = _paging(page, per_page)
        _add_ids(params, "threadIds", thread_ids)
        _add_ids(params, "noteIds", note_ids)
        _add_ids(params, "ownerExtensionIds", owner_extension_ids)
        _add_availability(params, availability)
        response = await self._request("GET", f"{_MT}/notes", params=params)
        return _parse(NotePage, _json(response))

    async def iter_notes(
        self,
        *,
        thread_ids: Sequence[str] | None = None,
        note_ids: Sequence[str] | None = None,
        owner_extension_ids: Sequence[str] | None = None,
        availability: Sequence[Availability] | None = None,
        per_page: int = 100,
    ) -> AsyncIterator[Note]:
        """Every note matching the filters, oldest first, following the pages."""
        pages = _pages(
            lambda page: self.list_notes(
                thread_ids=thread_ids,
                note_ids=note_ids,
                owner_extension_ids=owner_extension_ids,
                availability=availability,
                page=page,
                per_page=per_page,
            ),
            per_page,
        )
        async for note in pages:
            yield note

    async def update_note(self, note_id: str, text: str) -> Note:
        _check_text(text)
        _check_nonempty("noteId", note_id)
        try:
            response = await self._request("PATCH", f"{_MT}/notes/{note_id}", json={"text": text})
        except Forbidden as exc:
            raise await self._explain_forbidden(exc, await self._threads_of_notes([note_id])) from exc
        return _parse(Note, _json(response))

    async def delete_notes(self, ids: Sequence[str]) -> None:
        """Delete 1-100 notes (one DELETE with a JSON body). Only the author may, only on Open threads."""
        ids = list(ids)
        if not 1 <= len(ids) <= MAX_DELETE_IDS:
            raise InvalidInput(f"delete takes 1-{MAX_DELETE_IDS} note ids, got {len(ids)}", parameter="ids")
        for note_id in ids:
            try:
                uuid.UUID(note_id)
            except (ValueError, TypeError, AttributeError):
                raise InvalidInput(f"note id {note_id!r} is not a UUID", parameter="ids") from None
        try:
            await self._request("DELETE", f"{_MT}/notes", json={"ids": ids})
        except Forbidden as exc:
            raise await self._explain_forbidden(exc, await self._threads_of_notes(ids)) from exc

    async def find_recent_note(
        self, thread_id: str, text: str, author_id: str | None, since: datetime, *, skew: float = 120.0
    ) -> Note | None:
        """The newest note on `thread_id` with exactly `text` by `author_id`, created after `since`.

        For a create that ended in `Unavailable(maybe_created=True)`: None means it did not land (create
        again); a note means it did. `skew` tolerates a difference between our clock and RingCentral's.
        """
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        floor = since - timedelta(seconds=skew)
        found: Note | None = None
        async for note in self.iter_notes(thread_ids=[thread_id], per_page=MAX_PAGE):
            if note.text != text or note.creation_time < floor:
                continue
            if author_id is not None and (note.author is None or note.author.extension_id != author_id):
                continue
            found = note  # oldest first: the last match is the newest
        return found

    # --- threads ---------------------------------------------------------------------------------------

    async def list_threads(
        self,
        *,
        status: Literal["Open", "Resolved"] | None = None,
        owner_extension_ids: Sequence[str] | None = None,
        guest_phone_number: str | None = None,
        owner_phone_number: str | None = None,
        creation_time_from: datetime | str | None = None,
        creation_time_to: datetime | str | None = None,
        availability: Sequence[Availability] | None = None,
        page: int = 1,
        per_page: int = 100,
    ) -> ThreadPage:
        params: dict[str, Any] = _paging(page, per_page)
        if status is not None:
            if status not in ("Open", "Resolved"):
                raise InvalidInput(f"unknown thread status {status!r}", parameter="threadStatus")
            params["threadStatus"] = status
        _add_ids(params, "ownerExtensionIds", owner_extension_ids)
        if guest_phone_number:
            params["guestPhoneNumber"] = guest_phone_number
        if owner_phone_number:
            params["ownerPhoneNumber"] = owner_phone_number
        if (creation_time_from is None) != (creation_time_to is None):
            raise InvalidInput(
                "creation_time_from and creation_time_to go together",
                parameter="creationTimeFrom" if creation_time_from is None else "creationTimeTo",
            )
        if creation_time_from is not None and creation_time_to is not None:
            params["creationTimeFrom"] = _rfc3339(creation_time_from)
            params["creationTimeTo"] = _rfc3339(creation_time_to)
        _add_availability(params, availability)
        response = await self._request("GET", _MT, params=params)
        return _parse(ThreadPage, _json(response))

    async def iter_threads(
        self,
        *,
        status: Literal["Open", "Resolved"] | None = None,
        owner_extension_ids: Sequence[str] | None = None,
        guest_phone_number: str | None = None,
        owner_phone_number: str | None = None,
        creation_time_from: datetime | str | None = None,
        creation_time_to: datetime | str | None = None,
        availability: Sequence[Availability] | None = None,
        per_page: int = 100,
    ) -> AsyncIterator[Thread]:
        pages = _pages(
            lambda page: self.list_threads(
                status=status,
                owner_extension_ids=owner_extension_ids,
                guest_phone_number=guest_phone_number,
                owner_phone_number=owner_phone_number,
                creation_time_from=creation_time_from,
                creation_time_to=creation_time_to,
                availability=availability,
                page=page,
                per_page=per_page,
            ),
            per_page,
        )
        async for thread in pages:
            yield thread

    async def get_thread(self, thread_id: str) -> Thread:
        _check_nonempty("threadId", thread_id)
        response = await self._request("GET", f"{_MT}/{thread_id}")
        return _parse(Thread, _json(response))

    async def assign_thread(self, thread_id: str, extension_id: str | None) -> Thread:
        """Assign to `extension_id`, or unassign with None. Idempotent (same target), so retried."""
        _check_nonempty("threadId", thread_id)
        assignee = None if extension_id is None else {"extensionId": extension_id}
        response = await self._request("POST", f"{_MT}/{thread_id}/assign", json={"assignee": assignee})
        return _parse(Thread, _json(response))

    async def resolve_thread(self, thread_id: str) -> Thread:
        _check_nonempty("threadId", thread_id)
        response = await self._request("POST", f"{_MT}/{thread_id}/resolve")
        return _parse(Thread, _json(response))

    # --- sync ------------------------------------------------------------------------------------------

    async def sync_entries(
        self,
        sync_token: str | None = None,
        scope: SyncScope = "Accessible",
        thread_ids: Sequence[str] | None = None,
        *,
        record_count: int | None = SYNC_RECORD_COUNT,
    ) -> EntriesSync:
        """FSync without a token, ISync with one. A refused token becomes an FSync with `full_resync=True`.

        Refused means any 4xx answer to the ISync but 401 and 429 (which are about the caller, not the
        token): RingCentral documents MSG-411, CMN-101 and MSG-333 (NOTES.md §2.3) but does not promise
        them, and a token that keeps being refused must not be sent forever. The caller reconciles from
        the snapshot.

        `record_count` goes with an FSync only, as RingCentral's own clients send it (the spec does not list
        it; in the message store's sync it caps an FSync, and on an ISync it means something else). The
        answer is read tolerantly (`parse_entries_sync`): unknown records are skipped and counted.
        """
        if scope not in _SCOPES:
            raise InvalidInput(f"unknown sync scope {scope!r}", parameter="scope")
        if thread_ids is not None and scope != "Explicit":
            raise InvalidInput("thread_ids need scope='Explicit'", parameter="threadIds")
        if scope == "Explicit" and not thread_ids:
            raise InvalidInput("scope 'Explicit' needs thread_ids", parameter="threadIds")
        fsync: dict[str, Any] = {"syncType": "FSync", "scope": scope}
        if record_count is not None:
            fsync["recordCount"] = record_count
        _add_ids(fsync, "threadIds", thread_ids)
        if not sync_token:
            return await self._sync(fsync)
        try:
            return await self._sync({"syncType": "ISync", "syncToken": sync_token})
        except RingCentralError as exc:
            if not token_refused(exc):
                raise
            log.info(
                "ringcentral.sync_token_refused",
                status=exc.status,
                error_code=exc.error_code,
                full_resync=True,
            )
        result = await self._sync(fsync)
        return result.model_copy(update={"full_resync": True})

    async def _sync(self, params: dict[str, Any]) -> EntriesSync:
        response = await self._request("GET", f"{_MT}/entries/sync", params=params)
        data = _json(response)
        try:
            return parse_entries_sync(data)
        except (ValidationError, ValueError) as exc:
            raise RingCentralError(
                "unexpected EntriesSync from RingCentral: no usable syncInfo", body=data
            ) from exc

    # --- account: who am I, resources, numbers --------------------------------------------------------------

    async def get_extension(self) -> Extension:
        response = await self._request("GET", "/restapi/v1.0/account/~/extension/~")
        return _parse(Extension, _id_as_str(_json(response)))

    async def list_call_queues(self) -> list[CallQueue]:
        records = await self._all_pages("/restapi/v1.0/account/~/call-queues")
        return [_parse(CallQueue, _id_as_str(r)) for r in records]

    async def list_call_queue_members(self, queue_id: str) -> list[CallQueueMember]:
        _check_nonempty("groupId", queue_id)
        records = await self._all_pages(f"/restapi/v1.0/account/~/call-queues/{queue_id}/members")
        return [_parse(CallQueueMember, _id_as_str(r)) for r in records]

    async def list_sites(self) -> list[Site]:
        """listSites: one page holds them all (the spec gives the operation no paging parameters)."""
        data = _json(await self._request("GET", "/restapi/v1.0/account/~/sites"))
        return [_parse(Site, _id_as_str(r)) for r in data.get("records") or []]

    async def list_sms_recipients(self, resource_id: str) -> list[SmsRecipient]:
        """getSmsRecipients: the handlers of a call queue or site (a Limited API: may be Forbidden)."""
        _check_nonempty("extensionId", resource_id)
        path = f"/restapi/v1.0/account/~/extension/{resource_id}/sms-recipients"
        data = _json(await self._request("GET", path))
        return [_parse(SmsRecipient, _id_as_str(r)) for r in data.get("smsRecipients") or []]

    async def list_phone_numbers(self) -> list[PhoneNumber]:
        records = await self._all_pages("/restapi/v1.0/account/~/extension/~/phone-number")
        return [_parse(PhoneNumber, _id_as_str(r)) for r in records]

    async def _all_pages(self, path: str, per_page: int = 100) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        page = 1
        while True:
            data = _json(await self._request("GET", path, params={"page": page, "perPage": per_page}))
            batch = data.get("records") or []
            records.extend(batch)
            paging = _parse(Paging, data["paging"]) if data.get("paging") else None
            if paging is None or not _has_more(paging, len(batch), page, per_page):
                return records
            page += 1

    # --- webhook subscriptions ----------------------------------------------------------------------------

    async def create_subscription(
        self, address: str, verification_token: str, event_filters: Sequence[str], expires_in: int
    ) -> Subscription:
        """Create a WebHook subscription. A POST: not resent once it may have arrived (`maybe_created`)."""
        if not event_filters:
            raise InvalidInput("at least one event filter is needed", parameter="eventFilters")
        if expires_in < 1:
            raise InvalidInput("expires_in must be positive", parameter="expiresIn")
        body = {
            "eventFilters": list(event_filters),
            "deliveryMode": {
                "transportType": "WebHook",
                "address": address,
                "verificationToken": verification_token,
            },
            "expiresIn": expires_in,
        }
        response = await self._request("POST", "/restapi/v1.0/subscription", json=body, idempotent=False)
        return _parse(Subscription, _json(response))

    async def list_subscriptions(self) -> list[Subscription]:
        """The subscriptions this user made with this app (`listSubscriptions`, Light group)."""
        data = _json(await self._request("GET", "/restapi/v1.0/subscription"))
        records = data.get("records") if isinstance(data, dict) else None
        return [_parse(Subscription, r) for r in records or [] if isinstance(r, dict)]

    async def renew_subscription(self, subscription_id: str) -> Subscription:
        _check_nonempty("subscriptionId", subscription_id)
        response = await self._request("POST", f"/restapi/v1.0/subscription/{subscription_id}/renew")
        return _parse(Subscription, _json(response))

    async def delete_subscription(self, subscription_id: str) -> None:
        _check_nonempty("subscriptionId", subscription_id)
        await self._request("DELETE", f"/restapi/v1.0/subscription/{subscription_id}")

    # --- the one request path: retries and error translation ---------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with the retry policy of the module docstring; a 2xx response or a `RingCentralError`."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(method, path, params=params, json=json, idempotent=idempotent)
        except _Retry as last:
            raise last.error from last.error.__cause__
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.delay is not None:
            return exc.delay
        return float(self._backoff(state))

    async def _attempt(
        self, method: str, path: str, *, params: dict[str, Any] | None, json: Any, idempotent: bool
    ) -> httpx.Response:
        request = self._http.build_request(method, path, params=params, json=json, timeout=self._timeout)
        try:
            response = await self._http.send(request)
        except RateLimited as exc:  # the token endpoint answered 429 inside the auth flow
            raise self._rate_limited(exc) from exc
        except Unavailable as exc:  # the token endpoint failed: the API request itself was not processed
            raise _Retry(exc, delay=exc.retry_after) from exc
        except httpx.TransportError as exc:
            if not idempotent and _errors.reached_server(exc):
                raise _errors.transport_error(exc, maybe_created=True) from exc
            raise _Retry(_errors.transport_error(exc)) from exc
        if response.is_success:
            return response
        route, default_group = _routes.match(method, request.url.path)
        error = _errors.error_for(response, group=self.limiter.group_for(route, default_group))
        if isinstance(error, RateLimited):
            raise self._rate_limited(error)
        if isinstance(error, Unavailable):
            if not idempotent:
                error.maybe_created = True
                raise error
            raise _Retry(error, delay=error.retry_after)
        raise error

    def _rate_limited(self, error: RateLimited) -> BaseException:
        """Retry a 429 after the limiter's penalty (the limiter does the waiting), unless it is too long."""
        if error.group is not None:  # the limiter knows the real wait (a whole window without Retry-After)
            error.retry_after = max(error.retry_after, self.limiter.penalty_left(error.group))
        if error.retry_after > self._max_rate_limit_wait:
            return error
        return _Retry(error, delay=0.0)

    # --- 403 on a note write: is the thread Resolved? ---------------------------------------------------

    async def _threads_of_notes(self, note_ids: Iterable[str]) -> list[str]:
        ids = list(dict.fromkeys(note_ids))
        threads: list[str] = []
        try:
            for start in range(0, len(ids), MAX_FILTER_IDS):
                page = await self.list_notes(note_ids=ids[start : start + MAX_FILTER_IDS], per_page=MAX_PAGE)
                threads.extend(note.thread_id for note in page.records)
        except RingCentralError:
            pass
        return list(dict.fromkeys(threads))

    async def _explain_forbidden(self, exc: Forbidden, thread_ids: Iterable[str]) -> Forbidden:
        if isinstance(exc, ThreadResolved):
            return exc
        for thread_id in thread_ids:
            try:
                thread = await self.get_thread(thread_id)
            except RingCentralError:
                continue
            if thread.status == "Resolved":
                return ThreadResolved(
                    f"thread {thread_id} is Resolved: its notes can no longer change",
                    thread_id=thread_id,
                    status=exc.status,
                    error_code=exc.error_code,
                    body=exc.body,
                )
        return exc


# --- local checks (cheap, before sending) ------------------------------------------------------------------


def token_refused(exc: RingCentralError) -> bool:
    """Did RingCentral refuse an ISync's token? Any 4xx but 401 (our credentials) and 429 (our pace)."""
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 429)


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not 1 <= note_length(text) <= NOTE_TEXT_MAX:
        size = note_length(text) if isinstance(text, str) else "no"
        raise InvalidInput(f"note text must be 1-{NOTE_TEXT_MAX} characters, got {size}", parameter="text")


def _check_nonempty(parameter: str, value: str) -> None:
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidInput(f"{parameter} must be a non-empty id", parameter=parameter)


def _add_ids(params: dict[str, Any], name: str, ids: Sequence[str] | None) -> None:
    if ids is None:
        return
    if isinstance(ids, str):
        ids = [ids]
    unique = list(dict.fromkeys(ids))
    if not 1 <= len(unique) <= MAX_FILTER_IDS:
        raise InvalidInput(f"{name} takes 1-{MAX_FILTER_IDS} ids, got {len(unique)}", parameter=name)
    params[name] = unique  # a list: httpx repeats the key (explode: true)


def _add_availability(params: dict[str, Any], availability: Sequence[Availability] | None) -> None:
    if availability is None:
        return
    values = list(dict.fromkeys([availability] if isinstance(availability, str) else availability))
    if not values or any(v not in ("Alive", "Deleted") for v in values):
        raise InvalidInput(f"availability must be Alive or Deleted, got {values}", parameter="availability")
    params["availability"] = values


def _paging(page: int, per_page: int) -> dict[str, Any]:
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be 1-{MAX_PAGE}", parameter="page")
    if not 1 <= per_page <= MAX_PAGE:
        raise InvalidInput(f"per_page must be 1-{MAX_PAGE}", parameter="perPage")
    return {"page": page, "perPage": per_page}


R = TypeVar("R", covariant=True)


class _Page(Protocol[R]):
    @property
    def records(self) -> Sequence[R]: ...

    @property
    def paging(self) -> Paging: ...


async def _pages(fetch: Callable[[int], Awaitable[_Page[R]]], per_page: int) -> AsyncIterator[R]:
    """The records of page 1, 2, … until a page says it is the last (RingCentral may omit the totals)."""
    page = 1
    while True:
        result = await fetch(page)
        for record in result.records:
            yield record
        if not _has_more(result.paging, len(result.records), page, per_page):
            return
        page += 1


def _has_more(paging: Paging, count: int, page: int, per_page: int) -> bool:
    if count == 0 or page >= MAX_PAGE:
        return False
    if paging.total_pages is not None:
        return page < paging.total_pages
    return count >= min(per_page, paging.per_page)


def _rfc3339(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


M = TypeVar("M", bound=BaseModel)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise RingCentralError(
            f"{response.request.method} {response.request.url.path}: answer is not JSON",
            status=response.status_code,
        ) from exc


def _parse(model: type[M], data: Any) -> M:
    """A typed model from RingCentral's JSON; a surprising shape is a RingCentralError, not pydantic's."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RingCentralError(
            f"unexpected {model.__name__} from RingCentral: {exc.error_count()} problem(s)", body=data
        ) from exc


def _id_as_str(record: dict[str, Any]) -> dict[str, Any]:
    """The account APIs give numeric ids; our models keep every id as a string."""
    return {**record, "id": str(record["id"])} if "id" in record else record
