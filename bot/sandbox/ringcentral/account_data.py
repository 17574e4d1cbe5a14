"""One emulated account: users, common resources, threads, messages, notes, and RingCentral's rules.

Each account (`State`) holds only its own people and data, so a caller acting in one account can reach
nothing of another: an id of another account is simply unknown here (404). Every change gets a strictly
increasing millisecond timestamp (`stamp`) and an entry in the change log that `sync.py` reads. Handlers
(SMS recipients) of a resource are the only ones who see or touch its threads.

Error codes where RingCentral's are undocumented (NOTES.md §2.2) — the client must not key on them:

* 404 `CMN-102` — an id (path or body) that does not exist, or a note already deleted.
* 403 `MTH-103` — the caller is not a handler of the thread's resource (the spec says 403 for thread access).
* 403 `MTH-101` — the thread is not Open (resolved or deleted): no note writes, no resolve/assign.
* 403 `MTH-102` — only the note's author may edit or delete it.
* 400 `MTH-104` — the assignee is not a handler of the thread's resource.
* 400 `CMN-101` — an invalid parameter (`parameterName` says which).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.sandbox.ringcentral.clock import SandboxClock, iso_ms
from bot.sandbox.ringcentral.error_bodies import ApiError, invalid, not_found
from bot.sandbox.ringcentral.seeds import SeedAccount, parse_duration
from bot.sandbox.ringcentral.settings import SandboxSettings

Availability = Literal["Alive", "Deleted"]


@dataclass
class User:
    id: str
    name: str
    extension_number: str
    email: str
    timezone: str
    service: bool
    admin: bool = False


@dataclass
class Resource:
    """A common resource. `handlers` are its SMS recipients (who see and touch its threads); `members` are
    its call-queue members, configured apart and irrelevant to threads (a site has none)."""

    id: str
    name: str
    extension_number: str
    phone_numbers: list[str]
    handlers: list[str]
    type: str = "CallQueue"
    members: list[str] = field(default_factory=list)

    @property
    def extension_type(self) -> str:
        """The extension type RingCentral gives it (a call queue is a `Department`)."""
        return "Site" if self.type == "Site" else "Department"


@dataclass
class Thread:
    id: str
    resource_id: str
    guest_number: str
    owner_number: str
    created_ms: int
    modified_ms: int
    last_activity_ms: int
    status: str = "Open"
    status_reason: str | None = None
    availability: Availability = "Alive"
    assignee: str | None = None
    label: str | None = None


@dataclass
class Note:
    id: str
    thread_id: str
    author_id: str
    text: str
    created_ms: int
    modified_ms: int
    availability: Availability = "Alive"


@dataclass
class Message:
    id: str
    thread_id: str
    direction: str
    text: str
    author_id: str | None
    created_ms: int
    modified_ms: int
    status: str
    availability: Availability = "Alive"


@dataclass
class Hint:
    id: str
    thread_id: str
    kind: str  # ThreadCreatedHint | ThreadResolvedHint | ThreadDeletedHint | ThreadAssignedHint
    ms: int
    initiator: str | None
    assignee: str | None = None
    previous: str | None = None


@dataclass
class Change:
    """One entry of the change log. `assignees` = the thread's assignee before and after the change."""

    seq: int
    kind: Literal["note", "message", "hint", "thread"]
    entity_id: str
    thread_id: str
    ms: int
    assignees: tuple[str | None, str | None]


@dataclass
class Notification:
    """A change that may be pushed: `filter` is `entries` or `threads`; `to` the extension ids told of it."""

    filter: Literal["entries", "threads"]
    ms: int
    to: set[str]


@dataclass
class State:
    account_id: str
    account_name: str
    main_number: str
    clock: SandboxClock
    settings: SandboxSettings
    users: dict[str, User] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    threads: dict[str, Thread] = field(default_factory=dict)
    notes: dict[str, Note] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    hints: dict[str, Hint] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    pending: list[Notification] = field(default_factory=list)
    _last_ms: int = 0
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # Message ids are numbers RingCentral-wide: the accounts of one emulator share this counter.
    _message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(2268298947))

    # ---- time -------------------------------------------------------------------------------------------

    def stamp(self, at_ms: int | None = None) -> int:
        """A millisecond timestamp later than every earlier one (so versions are always distinguishable)."""
        ms = max(self.clock.now_ms() if at_ms is None else at_ms, self._last_ms + 1)
        self._last_ms = ms
        return ms

    def _log(
        self,
        kind: Literal["note", "message", "hint", "thread"],
        entity_id: str,
        thread: Thread,
        ms: int,
        before: str | None,
    ) -> None:
        self.changes.append(
            Change(next(self._seq), kind, entity_id, thread.id, ms, (before, thread.assignee))
        )

    @property
    def last_seq(self) -> int:
        return self.changes[-1].seq if self.changes else 0

    # ---- people -----------------------------------------------------------------------------------------

    def user(self, ext_id: str) -> User:
        return self.users[ext_id]

    def handles(self, user_id: str, resource_id: str) -> bool:
        resource = self.resources.get(resource_id)
        return resource is not None and user_id in resource.handlers

    def assign_sms_recipients(self, resource_id: str, added: list[str], removed: list[str]) -> None:
        """bulkAssignSmsRecipients: SMS recipients change; queue membership does not."""
        resource = self.resources[resource_id]
        for ext_id in added:
            if ext_id not in resource.handlers:
                resource.handlers.append(ext_id)
        resource.handlers = [h for h in resource.handlers if h not in removed]

    def user_ref(self, ext_id: str) -> dict[str, Any]:
        user = self.users.get(ext_id)
        return {"extensionId": ext_id, "name": user.name if user else ext_id, "extensionType": "User"}

    # ---- JSON shapes ------------------------------------------------------------------------------------

    def thread_json(self, t: Thread) -> dict[str, Any]:
        resource = self.resources[t.resource_id]
        body: dict[str, Any] = {
            "id": t.id,
            "status": t.status,
            "availability": t.availability,
            "owner": {
                "extensionId": resource.id,
                "name": resource.name,
                "extensionType": resource.extension_type,
            },
            "ownerParty": {"phoneNumber": t.owner_number},
            "guestParty": {"phoneNumber": t.guest_number},
            "creationTime": iso_ms(t.created_ms),
            "lastModifiedTime": iso_ms(t.modified_ms),
        }
        if t.assignee:  # omitted when unassigned (the spec's `nullable` + `allOf` is read inconsistently)
            body["assignee"] = self.user_ref(t.assignee)
        if t.label:
            body["label"] = t.label[:200]
        if t.status_reason:
            body["statusReason"] = t.status_reason
        return body

    def note_json(self, n: Note) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": n.id,
            "threadId": n.thread_id,
            "availability": n.availability,
            "creationTime": iso_ms(n.created_ms),
            "lastModifiedTime": iso_ms(n.modified_ms),
        }
        if n.availability == "Alive":  # a deleted note keeps neither text nor author (strictest reading)
            body["text"] = n.text
            body["author"] = self.user_ref(n.author_id)
        return body

    def message_json(self, m: Message) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": m.id,
            "threadId": m.thread_id,
            "availability": m.availability,
            "creationTime": iso_ms(m.created_ms),
            "lastModifiedTime": iso_ms(m.modified_ms),
            "direction": m.direction,
            "messageStatus": m.status,
            "text": m.text,
        }
        if m.author_id:
            body["author"] = self.user_ref(m.author_id)
        return body

    def hint_json(self, h: Hint) -> dict[str, Any]:
        body: dict[str, Any] = {
            "recordType": h.kind,
            "id": h.id,
            "threadId": h.thread_id,
            "lastModifiedTime": iso_ms(h.ms),
        }
        if h.initiator:
            body["initiator"] = self.user_ref(h.initiator)
        if h.kind == "ThreadAssignedHint":
            if h.assignee:
                body["assignee"] = self.user_ref(h.assignee)
            if h.previous:
                body["previousAssignee"] = self.user_ref(h.previous)
        return body

    # ---- access -----------------------------------------------------------------------------------------

    def thread_for(self, user_id: str, thread_id: str, parameter: str = "threadId") -> Thread:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise not_found(parameter, thread_id)
        if not self.handles(user_id, thread.resource_id):
            raise ApiError(
                403,
                "MTH-103",
                f"Extension [{user_id}] is not a handler of the thread's resource "
                f"[{thread.resource_id}]; only its SMS recipients may access thread [{thread_id}]",
            )
        return thread

    @staticmethod
    def require_open(thread: Thread) -> None:
        if thread.availability != "Alive" or thread.status != "Open":
            state = "deleted" if thread.availability != "Alive" else "resolved"
            raise ApiError(
                403,
                "MTH-101",
                f"Thread [{thread.id}] is {state}; notes, assignment and resolution need an Open thread",
            )

    def visible_threads(self, user_id: str) -> list[Thread]:
        return [t for t in self.threads.values() if self.handles(user_id, t.resource_id)]

    # ---- notifications ----------------------------------------------------------------------------------

    def _notify(
        self, thread: Thread, ms: int, *, entries: bool, threads: bool, assignee_only: bool = False
    ) -> None:
        handlers = set(self.resources[thread.resource_id].handlers)
        to = {thread.assignee} if assignee_only and thread.assignee else handlers
        if entries:
            self.pending.append(Notification("entries", ms, to))
        if threads:
            self.pending.append(Notification("threads", ms, handlers))

    def _hint(
        self,
        thread: Thread,
        kind: str,
        ms: int,
        initiator: str | None,
        before: str | None,
        *,
        assignee: str | None = None,
        previous: str | None = None,
    ) -> None:
        hint = Hint(str(uuid.uuid4()), thread.id, kind, ms, initiator, assignee, previous)
        self.hints[hint.id] = hint
        self._log("hint", hint.id, thread, ms, before)

    # ---- threads and messages ---------------------------------------------------------------------------

    def customer_texts(
        self,
        resource_id: str,
        guest: str,
        text: str,
        *,
        at_ms: int | None = None,
        thread_id: str | None = None,
    ) -> tuple[Thread, bool]:
        """An inbound SMS: lands in the Open thread of the number pair, or starts a new one (with `thread_id`
        when the seed names it)."""
        resource = self.resources.get(resource_id)
        if resource is None:
            raise not_found("resourceId", resource_id)
        if not resource.phone_numbers:
            raise invalid("resourceId", f"resource {resource_id} has no shared phone number", resource_id)
        thread = next(
            (
                t
                for t in self.threads.values()
                if t.resource_id == resource_id
                and t.guest_number == guest
                and t.status == "Open"
                and t.availability == "Alive"
            ),
            None,
        )
        created = thread is None
        ms = self.stamp(at_ms)
        if thread is None:
            number = resource.phone_numbers[0]
            thread = Thread(thread_id or str(uuid.uuid4()), resource_id, guest, number, ms, ms, ms)
            self.threads[thread.id] = thread
            self._log("thread", thread.id, thread, ms, None)
            self._hint(thread, "ThreadCreatedHint", ms, None, None)
        self._add_message(thread, "Inbound", text, None, ms)
        self._notify(thread, ms, entries=True, threads=created, assignee_only=not created)
        return thread, created

    def _add_message(self, thread: Thread, direction: str, text: str, author: str | None, ms: int) -> Message:
        status = "Received" if direction == "Inbound" else "Delivered"
        message = Message(str(next(self._message_ids)), thread.id, direction, text, author, ms, ms, status)
        self.messages[message.id] = message
        thread.label = text[:200]
        thread.last_activity_ms = ms
        thread.modified_ms = ms
        self._log("message", message.id, thread, ms, thread.assignee)
        return message

    def resolve(
        self, user_id: str | None, thread: Thread, reason: str = "Manual", *, at_ms: int | None = None
    ) -> Thread:
        self.require_open(thread)
        before = thread.assignee
        ms = self.stamp(at_ms)
        thread.status, thread.status_reason, thread.assignee, thread.modified_ms = (
            "Resolved",
            reason,
            None,
            ms,
        )
        self._log("thread", thread.id, thread, ms, before)
        self._hint(thread, "ThreadResolvedHint", ms, user_id, before)
        self._notify(thread, ms, entries=False, threads=True)
        return thread

    def assign(
        self, user_id: str, thread: Thread, assignee: str | None, *, at_ms: int | None = None
    ) -> Thread:
        self.require_open(thread)
        if assignee is not None and not self.handles(assignee, thread.resource_id):
            raise ApiError(
                400,
                "MTH-104",
                f"Extension [{assignee}] is not a handler of resource "
                f"[{thread.resource_id}] and cannot be the assignee",
                parameter="assignee.extensionId",
                value=assignee,
            )
        if assignee == thread.assignee:
            return thread
        before = thread.assignee
        ms = self.stamp(at_ms)
        thread.assignee, thread.modified_ms = assignee, ms
        self._log("thread", thread.id, thread, ms, before)
        self._hint(thread, "ThreadAssignedHint", ms, user_id, before, assignee=assignee, previous=before)
        self._notify(thread, ms, entries=False, threads=True)
        return thread

    def delete_thread(self, user_id: str, thread: Thread) -> None:
        if thread.availability == "Deleted":
            raise not_found("threadId", thread.id)
        before = thread.assignee
        ms = self.stamp()
        thread.availability, thread.assignee, thread.modified_ms = "Deleted", None, ms
        for message in self.messages.values():
            if message.thread_id == thread.id and message.availability == "Alive":
                message.availability, message.modified_ms = "Deleted", ms
                self._log("message", message.id, thread, ms, before)
        self._log("thread", thread.id, thread, ms, before)
        self._hint(thread, "ThreadDeletedHint", ms, user_id, before)
        self.pending.append(Notification("threads", ms, set(self.resources[thread.resource_id].handlers)))

    def expire_threads(self) -> int:
        """Auto-resolve Open threads idle (no inbound/outbound message) for longer than the thread TTL."""
        now = self.clock.now_ms()
        ttl_ms = int(self.settings.thread_ttl * 1000)
        idle = [
            t
            for t in self.threads.values()
            if t.status == "Open" and t.availability == "Alive" and t.last_activity_ms + ttl_ms <= now
        ]
        for thread in sorted(idle, key=lambda t: t.last_activity_ms):
            self.resolve(None, thread, "ThreadExpired")
        return len(idle)

    # ---- notes ------------------------------------------------------------------------------------------

    def create_note(self, user_id: str, thread_id: str, text: str, *, at_ms: int | None = None) -> Note:
        thread = self.thread_for(user_id, thread_id)
        self.require_open(thread)
        ms = self.stamp(at_ms)
        note = Note(str(uuid.uuid4()), thread.id, user_id, text, ms, ms)
        self.notes[note.id] = note
        self._log("note", note.id, thread, ms, thread.assignee)
        self._notify(thread, ms, entries=True, threads=False)
        return note

    def _own_note(self, user_id: str, note_id: str, parameter: str) -> tuple[Note, Thread]:
        note = self.notes.get(note_id)
        if note is None or note.availability != "Alive":
            raise not_found(parameter, note_id)
        thread = self.thread_for(user_id, note.thread_id)
        self.require_open(thread)
        if note.author_id != user_id:
            raise ApiError(
                403, "MTH-102", f"Only the author [{note.author_id}] may edit or delete note [{note_id}]"
            )
        return note, thread

    def update_note(self, user_id: str, note_id: str, text: str) -> Note:
        note, thread = self._own_note(user_id, note_id, "noteId")
        ms = self.stamp()
        note.text, note.modified_ms = text, ms
        self._log("note", note.id, thread, ms, thread.assignee)
        self._notify(thread, ms, entries=True, threads=False)
        return note

    def delete_notes(self, user_id: str, ids: list[str]) -> None:
        """All or nothing: every note is checked before any is deleted."""
        checked = [self._own_note(user_id, note_id, "ids") for note_id in ids]
        for note, thread in checked:
            ms = self.stamp()
            note.availability, note.modified_ms = "Deleted", ms
            self._log("note", note.id, thread, ms, thread.assignee)
            self._notify(thread, ms, entries=True, threads=False)

    # ---- seeding ----------------------------------------------------------------------------------------

    @classmethod
    def from_seed(
        cls,
        seed: SeedAccount,
        clock: SandboxClock,
        settings: SandboxSettings,
        message_ids: Iterator[int] | None = None,
    ) -> State:
        state = cls(seed.account_id, seed.account_name, seed.main_number, clock, settings)
        if message_ids is not None:
            state._message_ids = message_ids
        for u in seed.users:
            state.users[u.id] = User(
                u.id, u.name, u.extension_number, u.email, u.timezone, u.service, u.admin
            )
        for r in seed.resources:
            state.resources[r.id] = Resource(
                r.id, r.name, r.extension_number, list(r.phone_numbers), list(r.handlers), r.type,
                list(r.members),
            )  # fmt: skip
        state._seed_threads(seed.threads, clock.now_ms())
        state.pending.clear()
        return state

    def _seed_threads(self, raws: list[dict[str, Any]], now: int) -> None:
        """Replay the seeded conversations in global time order, so every timestamp is where the seed says."""
        events: list[tuple[int, int, str, dict[str, Any]]] = []
        for index, raw in enumerate(raws):
            items = [
                (now - int(parse_duration(item.get("ago", 0)) * 1000), index, kind, item)
                for kind in ("messages", "notes")
                for item in raw.get(kind) or []
            ]
            items.sort(key=lambda x: x[0])
            if not items or items[0][2] != "messages" or items[0][3].get("direction", "Inbound") != "Inbound":
                raise ValueError(f"seed threads[{index}]: the first item must be an inbound message")
            events.extend(items)
            if raw.get("status") == "Resolved":
                events.append((items[-1][0] + 60_000, index, "resolve", {}))
        threads: dict[int, Thread] = {}
        for at, index, kind, item in sorted(events, key=lambda x: (x[0], x[1])):
            raw = raws[index]
            thread = threads.get(index)
            if thread is None:
                thread, created = self.customer_texts(
                    str(raw["resource"]), str(raw["guest"]), str(item["text"]), at_ms=at,
                    thread_id=str(raw["id"]) if raw.get("id") else None,
                )  # fmt: skip
                if raw.get("id") and not created:  # the number pair's Open thread already had its own id
                    self._rename_thread(thread, str(raw["id"]))
                threads[index] = thread
                if raw.get("assignee"):
                    self.assign(str(raw["assignee"]), thread, str(raw["assignee"]), at_ms=at)
            elif kind == "messages":
                direction = item.get("direction", "Inbound")
                author = str(item["author"]) if direction == "Outbound" else None
                self._add_message(thread, direction, str(item["text"]), author, self.stamp(at))
            elif kind == "notes":
                self.create_note(str(item["author"]), thread.id, str(item["text"]), at_ms=at)
            else:
                self.resolve(thread.assignee, thread, "Manual", at_ms=at)

    def _rename_thread(self, thread: Thread, new_id: str) -> None:
        old = thread.id
        del self.threads[old]
        thread.id = new_id
        self.threads[new_id] = thread
        items: list[Message | Hint | Note] = [
            *self.messages.values(),
            *self.hints.values(),
            *self.notes.values(),
        ]
        for obj in items:
            if obj.thread_id == old:
                obj.thread_id = new_id
        for change in self.changes:
            if change.thread_id == old:
                change.thread_id = new_id
            if change.entity_id == old:
                change.entity_id = new_id
