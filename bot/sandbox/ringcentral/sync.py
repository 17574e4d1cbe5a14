"""FSync/ISync for `…/message-threads/entries/sync` and `…/message-threads/sync`.

A sync token is opaque and stored here with the user, the endpoint, the scope (baked in at FSync, as the
spec says) and the change-log position. Tokens can be replayed (same answer plus anything newer) until they
expire (`syncTokenTtl`, or `POST /sandbox/sync/expire`).

Errors: an expired token → 400 `MSG-333` ("full synchronization is required", parameterName `syncToken`);
a token that was never issued, belongs to another user or to the other sync endpoint → 400 `CMN-101`. Each
account keeps its own `SyncTokens`, so a token of another account is one that was never issued.
`syncType=ISync` without a token, or a token with `syncType` FSync/absent → 400 `CMN-101`.

Readings of the docs played under a profile (bot/sandbox/profiles.py, the README's table):
- `sync_unknown_records`: entries/sync answers also carry records of a `recordType` the spec does not list,
  "system entries" (no `recordType`, an `action`), and fields the schema does not name on every record.
- `sync_record_cap`: an entries/sync answer holds at most that many records (a smaller `recordCount`, on
  FSync or ISync, is honoured); what did not fit comes on the next ISync with the token it hands back (an
  FSync's remainder first, then the changes in the order they happened).
- `sync_token_single_use`: a token answers once; sent again it is refused (400 `CMN-101`), as if it expired.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.ringcentral.account_data import State, Thread
from bot.sandbox.ringcentral.clock import iso_ms
from bot.sandbox.ringcentral.error_bodies import invalid

SCOPES = ("Accessible", "Unassigned", "AssignedToMe", "AssignedToMeAndUnassigned", "Explicit")


@dataclass
class Cursor:
    kind: str  # "entries" | "threads"
    user_id: str
    scope: str
    thread_ids: tuple[str, ...]
    seq: int
    issued_ms: int
    # Records an FSync owed when it was capped ("note:<id>", "message:<id>"): served first by the next ISync.
    backlog: tuple[str, ...] = ()
    used: bool = False


class SyncTokens:
    def __init__(self) -> None:
        self._tokens: dict[str, Cursor] = {}

    def issue(self, cursor: Cursor) -> str:
        token = "sbx-sync-" + secrets.token_urlsafe(18)
        self._tokens[token] = cursor
        return token

    def lookup(
        self,
        token: str,
        kind: str,
        user_id: str,
        now_ms: int,
        ttl: float | None,
        *,
        single_use: bool = False,
    ) -> Cursor:
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
        if single_use:
            if cursor.used:
                raise invalid(
                    "syncToken",
                    "Parameter [syncToken] value is invalid: it was already used; continue with the token "
                    "of its answer, or start again with syncType=FSync",
                    token,
                )
            cursor.used = True
        return cursor

    def expire_all(self) -> int:
        for cursor in self._tokens.values():
            cursor.issued_ms = -1
        return len(self._tokens)


def _lookup(state: State, tokens: SyncTokens, token: str, kind: str, user_id: str) -> Cursor:
    return tokens.lookup(
        token,
        kind,
        user_id,
        state.clock.now_ms(),
        state.settings.sync_token_ttl,
        single_use=state.settings.profile.sync_token_single_use,
    )


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
        Cursor(cursor.kind, cursor.user_id, cursor.scope, cursor.thread_ids, cursor.seq, now, cursor.backlog)
    )
    return {
        "records": records,
        "syncInfo": {"syncType": sync_type, "syncToken": token, "syncTime": iso_ms(now)},
    }


def entries_sync(
    state: State, tokens: SyncTokens, user_id: str, query: dict[str, list[str]]
) -> dict[str, Any]:
    _, token = _sync_params(query)
    profile = state.settings.profile
    limit = _record_limit(query, profile.sync_record_cap)
    if token:
        cursor = _lookup(state, tokens, token, "entries", user_id)
        records, after = _incremental(state, user_id, cursor, limit)
        return _answer(state, tokens, _with_unknown(state, records, limit), after, "ISync")

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
    keys = [f"note:{n.id}" for n in state.notes.values() if n.thread_id in chosen]
    keys += [f"message:{m.id}" for m in state.messages.values() if m.thread_id in chosen]
    bodies = [_alive_record(state, key) for key in keys]
    ordered = sorted(
        (b for b in bodies if b is not None), key=lambda r: str(r["lastModifiedTime"]), reverse=True
    )
    kept = ordered if limit is None else ordered[:limit]
    backlog = tuple(f"{_kind_of(r)}:{r['id']}" for r in ordered[len(kept) :])
    cursor = Cursor("entries", user_id, scope, thread_ids, state.last_seq, 0, backlog)
    return _answer(state, tokens, _with_unknown(state, kept, limit), cursor, "FSync")


def _record_limit(query: dict[str, list[str]], cap: int | None) -> int | None:
    """At most `cap` records, fewer when `recordCount` asks for fewer; None: no cap (recordCount ignored,
    as the spec does not name it)."""
    if cap is None:
        return None
    given = query.get("recordCount")
    if not given:
        return cap
    raw = given[-1]
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise invalid("recordCount", "Parameter [recordCount] must be a positive integer", raw)
    return min(cap, count)


def _kind_of(record: dict[str, Any]) -> str:
    return "note" if str(record["recordType"]).endswith("Note") else "message"


def _alive_record(state: State, key: str) -> dict[str, Any] | None:
    """The record of an alive note or message (None when it is no longer alive: the log says so)."""
    kind, entity_id = key.split(":", 1)
    if kind == "note":
        note = state.notes.get(entity_id)
        alive = note is not None and note.availability == "Alive"
        return {"recordType": "AliveNote", **state.note_json(note)} if note is not None and alive else None
    message = state.messages.get(entity_id)
    if message is None or message.availability != "Alive":
        return None
    return {"recordType": "AliveMessage", **state.message_json(message)}


def _incremental(
    state: State, user_id: str, cursor: Cursor, limit: int | None
) -> tuple[list[dict[str, Any]], Cursor]:
    """What changed after `cursor` (an FSync's remainder first), at most `limit` records, and the cursor
    of what was served."""
    test = _scope_test(cursor.scope, user_id, cursor.thread_ids)
    records: dict[str, dict[str, Any]] = {}
    served = 0
    for key in cursor.backlog:
        if limit is not None and len(records) >= limit:
            break
        served += 1
        body = _alive_record(state, key)
        if body is not None:
            records[key] = body
    seq = cursor.seq
    for change in state.changes:
        if change.seq <= cursor.seq:
            continue
        key = f"{change.kind}:{change.entity_id}"
        if change.kind != "thread" and _visible(state, user_id, change, test):
            if limit is not None and len(records) >= limit and key not in records:
                break
            records[key] = _change_record(state, change)
        seq = change.seq
    after = Cursor(
        cursor.kind, cursor.user_id, cursor.scope, cursor.thread_ids, seq, 0, cursor.backlog[served:]
    )
    return list(records.values()), after


def _visible(state: State, user_id: str, change: Any, test: Callable[[Thread, str | None], bool]) -> bool:
    thread = state.threads[change.thread_id]
    if not state.handles(user_id, thread.resource_id):
        return False
    return test(thread, change.assignees[0]) or test(thread, change.assignees[1])


def _change_record(state: State, change: Any) -> dict[str, Any]:
    if change.kind == "note":
        note = state.notes[change.entity_id]
        body = state.note_json(note)
        kind = "AliveNote" if note.availability == "Alive" else "DeletedNote"
    elif change.kind == "message":
        message = state.messages[change.entity_id]
        body = state.message_json(message)
        kind = "AliveMessage" if message.availability == "Alive" else "DeletedMessage"
    else:
        body = state.hint_json(state.hints[change.entity_id])
        kind = body.pop("recordType")
    if kind in ("DeletedNote", "DeletedMessage"):
        body = {k: body[k] for k in ("id", "threadId", "availability", "lastModifiedTime")}
    return {"recordType": kind, **body}


def _with_unknown(state: State, records: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """Under `sync_unknown_records`: a field the schema does not name on every record, and for each thread
    in the answer a record of an unlisted `recordType` and a "system entry" (`action`, no `recordType`),
    as far as the cap leaves room."""
    if not state.settings.profile.sync_unknown_records:
        return records
    out = [{**r, "eventSequence": i + 1} for i, r in enumerate(records)]
    for record in records:
        for extra in (
            {"recordType": "ThreadUnassignedHint", "id": str(uuid.uuid4())},
            {"action": "NoteViewed", "id": str(uuid.uuid4())},
        ):
            if limit is not None and len(out) >= limit:
                return out
            out.append(
                {**extra, "threadId": record["threadId"], "lastModifiedTime": record["lastModifiedTime"]}
            )
    return out


def threads_sync(
    state: State, tokens: SyncTokens, user_id: str, query: dict[str, list[str]]
) -> dict[str, Any]:
    _, token = _sync_params(query)
    if token:
        cursor = _lookup(state, tokens, token, "threads", user_id)
        changed = {
            c.thread_id for c in state.changes if c.seq > cursor.seq and c.kind in ("thread", "message")
        }
        records = [state.thread_json(t) for t in state.visible_threads(user_id) if t.id in changed]
        after = Cursor("threads", user_id, cursor.scope, (), state.last_seq, 0)
        return _answer(state, tokens, records, after, "ISync")
    records = [
        state.thread_json(t)
        for t in state.visible_threads(user_id)
        if t.status == "Open" and t.availability == "Alive"
    ]
    cursor = Cursor("threads", user_id, "Accessible", (), state.last_seq, 0)
    return _answer(state, tokens, records, cursor, "FSync")
