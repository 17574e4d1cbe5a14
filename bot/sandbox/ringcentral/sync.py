"""FSync/ISync for `…/message-threads/entries/sync` and `…/message-threads/sync`.

A sync token is opaque and stored here with the user, the endpoint, the scope (baked in at FSync, as the
spec says) and the change-log position. Tokens can be replayed (same answer plus anything newer) until they
expire (`syncTokenTtl`, or `POST /sandbox/sync/expire`).

Errors: an expired token → 400 `MSG-333` ("full synchronization is required", parameterName `syncToken`);
a token that was never issued, belongs to another user or to the other sync endpoint → 400 `CMN-101`.
`syncType=ISync` without a token, or a token with `syncType` FSync/absent → 400 `CMN-101`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.ringcentral.clock import iso_ms
from bot.sandbox.ringcentral.errors import invalid
from bot.sandbox.ringcentral.state import State, Thread

SCOPES = ("Accessible", "Unassigned", "AssignedToMe", "AssignedToMeAndUnassigned", "Explicit")


@dataclass
class Cursor:
    kind: str  # "entries" | "threads"
    user_id: str
    scope: str
    thread_ids: tuple[str, ...]
    seq: int
    issued_ms: int


class SyncTokens:
    def __init__(self) -> None:
        self._tokens: dict[str, Cursor] = {}

    def issue(self, cursor: Cursor) -> str:
        token = "sbx-sync-" + secrets.token_urlsafe(18)
        self._tokens[token] = cursor
        return token

    def lookup(self, token: str, kind: str, user_id: str, now_ms: int, ttl: float | None) -> Cursor:
        cursor = self._tokens.get(token)
        if cursor is None or cursor.kind != kind or cursor.user_id != user_id:
            raise invalid(
                "syncToken",
                "Parameter [syncToken] value is invalid: it was not issued to this user "
                "by this sync endpoint; start again with syncType=FSync",
                token,
            )
        if cursor.issued_ms < 0 or (ttl is not None and now_ms - cursor.issued_ms > ttl * 1000):
            raise invalid(
                "syncToken",
                "Full synchronization is required: the sync token has expired; "
                "call again with syncType=FSync",
                token,
                code="MSG-333",
            )
        return cursor

    def expire_all(self) -> int:
        for cursor in self._tokens.values():
            cursor.issued_ms = -1
        return len(self._tokens)


def _scope_test(
    scope: str, user_id: str, thread_ids: tuple[str, ...]
) -> Callable[[Thread, str | None], bool]:
    def test(thread: Thread, assignee: str | None) -> bool:
        if scope == "Accessible":
            return True
        if scope == "Unassigned":
            return assignee is None
        if scope == "AssignedToMe":
            return assignee == user_id
        if scope == "AssignedToMeAndUnassigned":
            return assignee in (None, user_id)
        return thread.id in thread_ids

    return test


def _sync_params(query: dict[str, list[str]]) -> tuple[str, str | None]:
    sync_type = (query.get("syncType") or ["FSync"])[-1]
    if sync_type not in ("FSync", "ISync"):
        raise invalid("syncType", "Parameter [syncType] must be FSync or ISync", sync_type)
    token = (query.get("syncToken") or [""])[-1]
    if sync_type == "ISync" and not token:
        raise invalid("syncToken", "Parameter [syncToken] is required for syncType=ISync")
    if sync_type == "FSync" and token:
        raise invalid("syncType", "A syncToken is only accepted with syncType=ISync", sync_type)
    return sync_type, token


def _answer(
    state: State, tokens: SyncTokens, records: list[dict[str, Any]], cursor: Cursor, sync_type: str
) -> dict[str, Any]:
    records.sort(key=lambda r: str(r["lastModifiedTime"]), reverse=True)
    now = state.stamp()
    token = tokens.issue(
        Cursor(cursor.kind, cursor.user_id, cursor.scope, cursor.thread_ids, state.last_seq, now)
    )
    return {
        "records": records,
        "syncInfo": {"syncType": sync_type, "syncToken": token, "syncTime": iso_ms(now)},
    }


def entries_sync(
    state: State, tokens: SyncTokens, user_id: str, query: dict[str, list[str]]
) -> dict[str, Any]:
    _, token = _sync_params(query)
    if token:
        cursor = tokens.lookup(token, "entries", user_id, state.clock.now_ms(), state.settings.sync_token_ttl)
        test = _scope_test(cursor.scope, user_id, cursor.thread_ids)
        records: dict[str, dict[str, Any]] = {}
        for change in state.changes:
            if change.seq <= cursor.seq or change.kind == "thread":
                continue
            thread = state.threads[change.thread_id]
            if not state.handles(user_id, thread.resource_id):
                continue
            if not (test(thread, change.assignees[0]) or test(thread, change.assignees[1])):
                continue
            if change.kind == "note":
                note = state.notes[change.entity_id]
                body = state.note_json(note)
                kind = "AliveNote" if note.availability == "Alive" else "DeletedNote"
                if kind == "DeletedNote":
                    body = {k: body[k] for k in ("id", "threadId", "availability", "lastModifiedTime")}
            elif change.kind == "message":
                message = state.messages[change.entity_id]
                body = state.message_json(message)
                kind = "AliveMessage" if message.availability == "Alive" else "DeletedMessage"
                if kind == "DeletedMessage":
                    body = {k: body[k] for k in ("id", "threadId", "availability", "lastModifiedTime")}
            else:
                body = state.hint_json(state.hints[change.entity_id])
                kind = body.pop("recordType")
            records[f"{change.kind}:{change.entity_id}"] = {"recordType": kind, **body}
        return _answer(state, tokens, list(records.values()), cursor, "ISync")

    scope = (query.get("scope") or ["AssignedToMe"])[-1]
    if scope not in SCOPES:
        raise invalid("scope", f"Parameter [scope] must be one of {', '.join(SCOPES)}", scope)
    thread_ids = tuple(query.get("threadIds") or ())
    if scope == "Explicit" and not thread_ids:
        raise invalid("threadIds", "Parameter [threadIds] is required with scope=Explicit (1 to 10 ids)")
    if scope != "Explicit" and thread_ids:
        raise invalid(
            "threadIds", "Parameter [threadIds] is only accepted with scope=Explicit", thread_ids[0]
        )
    if len(thread_ids) > 10:
        raise invalid("threadIds", "Parameter [threadIds] accepts at most 10 ids", len(thread_ids))
    test = _scope_test(scope, user_id, thread_ids)
    chosen = {
        t.id
        for t in state.visible_threads(user_id)
        if t.availability == "Alive" and (t.status == "Open" or scope == "Explicit") and test(t, t.assignee)
    }
    out: list[dict[str, Any]] = [
        {"recordType": "AliveNote", **state.note_json(n)}
        for n in state.notes.values()
        if n.thread_id in chosen and n.availability == "Alive"
    ]
    out += [
        {"recordType": "AliveMessage", **state.message_json(m)}
        for m in state.messages.values()
        if m.thread_id in chosen and m.availability == "Alive"
    ]
    cursor = Cursor("entries", user_id, scope, thread_ids, 0, 0)
    return _answer(state, tokens, out, cursor, "FSync")


def threads_sync(
    state: State, tokens: SyncTokens, user_id: str, query: dict[str, list[str]]
) -> dict[str, Any]:
    _, token = _sync_params(query)
    if token:
        cursor = tokens.lookup(token, "threads", user_id, state.clock.now_ms(), state.settings.sync_token_ttl)
        changed = {
            c.thread_id for c in state.changes if c.seq > cursor.seq and c.kind in ("thread", "message")
        }
        records = [state.thread_json(t) for t in state.visible_threads(user_id) if t.id in changed]
        return _answer(state, tokens, records, cursor, "ISync")
    records = [
        state.thread_json(t)
        for t in state.visible_threads(user_id)
        if t.status == "Open" and t.availability == "Alive"
    ]
    return _answer(state, tokens, records, Cursor("threads", user_id, "Accessible", (), 0, 0), "FSync")
