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

The request path (retries, error translation) is `_base.py`; the parameter rules checked before sending and
the paging every listing shares are `params.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from bot.logs import get_logger
from bot.ringcentral._base import ClientBase
from bot.ringcentral.errors import Forbidden, InvalidInput, RingCentralError, ThreadResolved
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
from bot.ringcentral.params import (
    MAX_DELETE_IDS,
    MAX_FILTER_IDS,
    MAX_PAGE,
    SYNC_RECORD_COUNT,
    Availability,
    add_availability,
    add_ids,
    check_nonempty,
    check_text,
    has_more,
    id_as_str,
    json_of,
    pages,
    paging_params,
    parse,
    rfc3339,
)

log = get_logger(__name__)

SyncScope = Literal["Accessible", "Unassigned", "AssignedToMe", "AssignedToMeAndUnassigned", "Explicit"]

_MT = "/restapi/v1.0/account/~/message-threads"
_SCOPES = ("Accessible", "Unassigned", "AssignedToMe", "AssignedToMeAndUnassigned", "Explicit")


class RingCentralClient(ClientBase):
    """One identity's view of RingCentral. Use one per identity; share its `RateLimiter` across clients."""

    # --- notes ----------------------------------------------------------------------------------------

    async def create_note(self, thread_id: str, text: str) -> Note:
        """Add a note. Never resent once it may have reached RingCentral: see the module docstring."""
        check_text(text)
        check_nonempty("threadId", thread_id)
        try:
            response = await self._request(
                "POST", f"{_MT}/notes", json={"threadId": thread_id, "text": text}, idempotent=False
            )
        except Forbidden as exc:
            raise await self._explain_forbidden(exc, [thread_id]) from exc
        return parse(Note, json_of(response))

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
        params: dict[str, Any] = paging_params(page, per_page)
        add_ids(params, "threadIds", thread_ids)
        add_ids(params, "noteIds", note_ids)
        add_ids(params, "ownerExtensionIds", owner_extension_ids)
        add_availability(params, availability)
        response = await self._request("GET", f"{_MT}/notes", params=params)
        return parse(NotePage, json_of(response))

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
        found = pages(
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
        async for note in found:
            yield note

    async def update_note(self, note_id: str, text: str) -> Note:
        check_text(text)
        check_nonempty("noteId", note_id)
        try:
            response = await self._request("PATCH", f"{_MT}/notes/{note_id}", json={"text": text})
        except Forbidden as exc:
            raise await self._explain_forbidden(exc, await self._threads_of_notes([note_id])) from exc
        return parse(Note, json_of(response))

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
        params: dict[str, Any] = paging_params(page, per_page)
        if status is not None:
            if status not in ("Open", "Resolved"):
                raise InvalidInput(f"unknown thread status {status!r}", parameter="threadStatus")
            params["threadStatus"] = status
        add_ids(params, "ownerExtensionIds", owner_extension_ids)
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
            params["creationTimeFrom"] = rfc3339(creation_time_from)
            params["creationTimeTo"] = rfc3339(creation_time_to)
        add_availability(params, availability)
        response = await self._request("GET", _MT, params=params)
        return parse(ThreadPage, json_of(response))

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
        found = pages(
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
        async for thread in found:
            yield thread

    async def get_thread(self, thread_id: str) -> Thread:
        check_nonempty("threadId", thread_id)
        response = await self._request("GET", f"{_MT}/{thread_id}")
        return parse(Thread, json_of(response))

    async def assign_thread(self, thread_id: str, extension_id: str | None) -> Thread:
        """Assign to `extension_id`, or unassign with None. Idempotent (same target), so retried."""
        check_nonempty("threadId", thread_id)
        assignee = None if extension_id is None else {"extensionId": extension_id}
        response = await self._request("POST", f"{_MT}/{thread_id}/assign", json={"assignee": assignee})
        return parse(Thread, json_of(response))

    async def resolve_thread(self, thread_id: str) -> Thread:
        check_nonempty("threadId", thread_id)
        response = await self._request("POST", f"{_MT}/{thread_id}/resolve")
        return parse(Thread, json_of(response))

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
        add_ids(fsync, "threadIds", thread_ids)
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
        data = json_of(response)
        try:
            return parse_entries_sync(data)
        except (ValidationError, ValueError) as exc:
            raise RingCentralError(
                "unexpected EntriesSync from RingCentral: no usable syncInfo", body=data
            ) from exc

    # --- account: who am I, resources, numbers --------------------------------------------------------------

    async def get_extension(self) -> Extension:
        response = await self._request("GET", "/restapi/v1.0/account/~/extension/~")
        return parse(Extension, id_as_str(json_of(response)))

    async def list_call_queues(self) -> list[CallQueue]:
        records = await self._all_pages("/restapi/v1.0/account/~/call-queues")
        return [parse(CallQueue, id_as_str(r)) for r in records]

    async def list_call_queue_members(self, queue_id: str) -> list[CallQueueMember]:
        check_nonempty("groupId", queue_id)
        records = await self._all_pages(f"/restapi/v1.0/account/~/call-queues/{queue_id}/members")
        return [parse(CallQueueMember, id_as_str(r)) for r in records]

    async def list_sites(self) -> list[Site]:
        """listSites: one page holds them all (the spec gives the operation no paging parameters)."""
        data = json_of(await self._request("GET", "/restapi/v1.0/account/~/sites"))
        return [parse(Site, id_as_str(r)) for r in data.get("records") or []]

    async def list_sms_recipients(self, resource_id: str) -> list[SmsRecipient]:
        """getSmsRecipients: the handlers of a call queue or site (a Limited API: may be Forbidden)."""
        check_nonempty("extensionId", resource_id)
        path = f"/restapi/v1.0/account/~/extension/{resource_id}/sms-recipients"
        data = json_of(await self._request("GET", path))
        return [parse(SmsRecipient, id_as_str(r)) for r in data.get("smsRecipients") or []]

    async def list_phone_numbers(self) -> list[PhoneNumber]:
        records = await self._all_pages("/restapi/v1.0/account/~/extension/~/phone-number")
        return [parse(PhoneNumber, id_as_str(r)) for r in records]

    async def _all_pages(self, path: str, per_page: int = 100) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        page = 1
        while True:
            data = json_of(await self._request("GET", path, params={"page": page, "perPage": per_page}))
            batch = data.get("records") or []
            records.extend(batch)
            paging = parse(Paging, data["paging"]) if data.get("paging") else None
            if paging is None or not has_more(paging, len(batch), page, per_page):
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
        return parse(Subscription, json_of(response))

    async def list_subscriptions(self) -> list[Subscription]:
        """The subscriptions this user made with this app (`listSubscriptions`, Light group)."""
        data = json_of(await self._request("GET", "/restapi/v1.0/subscription"))
        records = data.get("records") if isinstance(data, dict) else None
        return [parse(Subscription, r) for r in records or [] if isinstance(r, dict)]

    async def renew_subscription(self, subscription_id: str) -> Subscription:
        check_nonempty("subscriptionId", subscription_id)
        response = await self._request("POST", f"/restapi/v1.0/subscription/{subscription_id}/renew")
        return parse(Subscription, json_of(response))

    async def delete_subscription(self, subscription_id: str) -> None:
        check_nonempty("subscriptionId", subscription_id)
        await self._request("DELETE", f"/restapi/v1.0/subscription/{subscription_id}")

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


def token_refused(exc: RingCentralError) -> bool:
    """Did RingCentral refuse an ISync's token? Any 4xx but 401 (our credentials) and 429 (our pace)."""
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 429)
