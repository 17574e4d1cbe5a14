"""Notes as the person: add, list, edit, delete, and finding the conversation a person means.

Every write goes out with the acting person's own token, so RingCentral's rules (handlers only, author only,
Open threads only) apply to the real person, and is recorded in the audit log whatever its outcome.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.logs import get_logger
from bot.note_text import NOTE_TEXT_MAX, note_length
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import Forbidden, NotFound, RingCentralError, ThreadResolved, Unavailable
from bot.ringcentral.models import Note, Thread
from bot.service.accounts import Accounts
from bot.service.errors import (
    AmbiguousThread,
    NotAuthor,
    NoteNotFound,
    NoteTooLong,
    NotHandler,
    ThreadNotFound,
)
from bot.service.types import Actor

log = get_logger(__name__)
T = TypeVar("T")

MAX_SUGGESTIONS = 100


class Notes:
    def __init__(
        self,
        accounts: Accounts,
        audit: Callable[..., Awaitable[object]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._accounts = accounts
        self._audit = audit
        self._clock = clock

    # --- reading ------------------------------------------------------------------------------------------

    async def find_thread(
        self, actor: Actor, *, thread_id: str | None = None, phone: str | None = None
    ) -> Thread:
        """The conversation a person means: a thread id, or a customer number's Open thread they handle."""
        async with self._client(actor) as client:
            return await self._find_thread(client, thread_id=thread_id, phone=phone)

    async def list_notes(
        self, actor: Actor, *, thread_id: str | None = None, phone: str | None = None
    ) -> tuple[Thread, list[Note]]:
        async with self._client(actor) as client:
            thread = await self._find_thread(client, thread_id=thread_id, phone=phone)
            notes = [n async for n in client.iter_notes(thread_ids=[thread.id])]
            return thread, sorted(notes, key=lambda n: n.creation_time)

    async def get_notes(self, actor: Actor, note_ids: list[str]) -> list[Note]:
        async with self._client(actor) as client:
            page = await client.list_notes(note_ids=note_ids, per_page=len(note_ids))
            return list(page.records)

    async def latest_notes(self, actor: Actor, thread_ids: list[str]) -> dict[str, Note]:
        """The newest note of each thread, ten threads per request (the API's filter limit)."""
        latest: dict[str, Note] = {}
        async with self._client(actor) as client:
            for start in range(0, len(thread_ids), 10):
                batch = thread_ids[start : start + 10]
                async for note in client.iter_notes(thread_ids=batch):
                    if (
                        note.thread_id not in latest
                        or note.creation_time >= latest[note.thread_id].creation_time
                    ):
                        latest[note.thread_id] = note
        return latest

    async def suggest_threads(self, actor: Actor) -> list[Thread]:
        """Open threads for a picker: the person's assigned ones first, then the rest, newest first."""
        async with self._client(actor) as client:
            me = await self._accounts.extension_id(actor)
            threads = [t async for t in client.iter_threads(status="Open")]

        def rank(t: Thread) -> tuple[int, float]:
            mine = t.assignee is not None and t.assignee.extension_id == me
            return (0 if mine else 1, -t.last_modified_time.timestamp())

        return sorted(threads, key=rank)[:MAX_SUGGESTIONS]

    # --- writing ------------------------------------------------------------------------------------------

    async def add(
        self,
        actor: Actor,
        text: str,
        *,
        thread_id: str | None = None,
        phone: str | None = None,
        source: str = "command",
    ) -> tuple[Note, Thread]:
        _check_length(text)
        async with self._client(actor) as client:
            thread = await self._find_thread(client, thread_id=thread_id, phone=phone)
            me = await self._accounts.extension_id(actor)
            since = self._clock() - timedelta(seconds=5)

            async def create() -> Note:
                try:
                    return await client.create_note(thread.id, text)
                except Unavailable as exc:
                    # A create that timed out may have landed: look before telling the person it failed,
                    # so a retry by them can never make a second copy behind their back.
                    if not getattr(exc, "maybe_created", False):
                        raise
                    landed = await client.find_recent_note(thread.id, text, author_id=me, since=since)
                    if landed is None:
                        raise
                    log.info("note.create.recovered", thread_id=thread.id, note_id=landed.id)
                    return landed

            with _thread_refusals(thread.id):
                note = await self._audited(actor, "add", create, thread_id=thread.id, detail=source)
            return note, thread

    async def edit(self, actor: Actor, note_id: str, text: str) -> Note:
        _check_length(text)
        async with self._client(actor) as client:
            with _note_refusals([note_id]):
                return await self._audited(
                    actor, "edit", lambda: client.update_note(note_id, text), note_ids=[note_id]
                )

    async def delete(self, actor: Actor, note_ids: list[str]) -> None:
        async with self._client(actor) as client:
            with _note_refusals(note_ids):
                await self._audited(actor, "delete", lambda: client.delete_notes(note_ids), note_ids=note_ids)

    async def take_over(self, actor: Actor, thread_id: str) -> Thread:
        """Assign the thread to the clicking person (only the assignee may reply to the customer)."""
        async with self._client(actor) as client:
            me = await self._accounts.extension_id(actor)
            with _thread_refusals(thread_id):
                return await self._audited(
                    actor, "assign", lambda: client.assign_thread(thread_id, me), thread_id=thread_id
                )

    async def resolve(self, actor: Actor, thread_id: str) -> Thread:
        async with self._client(actor) as client:
            with _thread_refusals(thread_id):
                return await self._audited(
                    actor, "resolve", lambda: client.resolve_thread(thread_id), thread_id=thread_id
                )

    # --- helpers ------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _client(self, actor: Actor) -> AsyncIterator[RingCentralClient]:
        client = await self._accounts.client(actor)
        try:
            yield client
        finally:
            await client.aclose()

    async def _find_thread(
        self, client: RingCentralClient, *, thread_id: str | None, phone: str | None
    ) -> Thread:
        if thread_id:
            with _thread_refusals(thread_id):
                return await client.get_thread(thread_id)
        if not phone:
            raise ValueError("a thread id or a phone number is needed")
        threads = [t async for t in client.iter_threads(status="Open", guest_phone_number=phone)]
        if not threads:
            raise ThreadNotFound(phone)
        if len(threads) > 1:
            raise AmbiguousThread(phone, threads)
        return threads[0]

    async def _audited(
        self,
        actor: Actor,
        action: str,
        call: Callable[[], Awaitable[T]],
        *,
        thread_id: str | None = None,
        note_ids: list[str] | None = None,
        detail: str | None = None,
    ) -> T:
        extension_id = await self._accounts.extension_id(actor)
        entry: dict[str, Any] = dict(
            team_id=actor.team_id,
            user_id=actor.user_id,
            extension_id=extension_id,
            action=action,
            thread_id=thread_id,
            note_ids=note_ids or (),
            detail=detail,
        )
        try:
            result = await call()
        except RingCentralError as exc:
            await self._audit(**entry, outcome=type(exc).__name__)
            raise
        if isinstance(result, Note):
            entry["thread_id"] = result.thread_id
            entry["note_ids"] = [result.id]
        await self._audit(**entry, outcome="ok")
        return result


@contextmanager
def _note_refusals(note_ids: list[str]) -> Iterator[None]:
    """RingCentral's refusals of a note change, in the person's terms (a Resolved thread passes through)."""
    try:
        yield
    except ThreadResolved:
        raise
    except Forbidden:
        raise NotAuthor(note_ids) from None
    except NotFound:
        raise NoteNotFound(note_ids) from None


@contextmanager
def _thread_refusals(thread_id: str) -> Iterator[None]:
    """A 403/404 on a conversation: the person does not handle its resource, or it does not exist for them."""
    try:
        yield
    except ThreadResolved:
        raise
    except Forbidden:
        raise NotHandler(thread_id) from None
    except NotFound:
        raise ThreadNotFound(thread_id) from None


def filter_threads(threads: list[Thread], query: str) -> list[Thread]:
    """Threads matching what the person typed: customer number (by digits), label or resource name."""
    needle = query.strip().lower()
    if not needle:
        return list(threads)
    digits = "".join(ch for ch in needle if ch.isdigit())

    def matches(t: Thread) -> bool:
        number = t.guest_number or ""
        haystack = " ".join(filter(None, [t.label, t.owner.name, number])).lower()
        return needle in haystack or (len(digits) >= 3 and digits in number)

    return [t for t in threads if matches(t)]


def _check_length(text: str) -> None:
    if note_length(text) > NOTE_TEXT_MAX:
        raise NoteTooLong(note_length(text), NOTE_TEXT_MAX)
