"""The `/thread-note` grammar: slash command text in, one typed command out. Pure; never raises.

Rules (also shown in the usage card, `views.usage.usage_card`):

- The first word is the subcommand, case-insensitive; aliases `new`→add, `ls`→list, `rm`/`remove`→delete,
  `subs`→subscriptions, `?`→help. No text at all is `help`.
- A *thread* is a thread id (a UUID in any case, normalised to lowercase; any other token of 6+ letters,
  digits or hyphens that is not a phone number is taken as an id as given; `id:<token>` forces an id) or a
  customer's phone number in any usual format, normalised to E.164 (`phone.normalise`).
- **Phone numbers with spaces in `add`**: the thread is the *longest run of leading words that together
  form a valid phone number* (`add +1 650 555 0101 customer waits` → thread `+16505550101`, text
  `customer waits`). Only words written with phone characters take part, at most six of them. To be
  unambiguous, quote the thread: `add "+49 30 1234567" 89 boxes` (straight or curly double quotes).
- The note text after `add <thread>` / `edit <note-id>` is kept verbatim (newlines, quotes, Slack escapes such
  as `<@U123|ann>` and `&lt;`), only trimmed at both ends. The caller converts Slack markup with
  `text.message_to_plain` before saving; the 1-1000 character check here counts the text as given.
- Channels come Slack-escaped (`<#C123|name>`) or typed (`#name`); a quoted resource name may hold spaces.

The package: `model` (the commands and the usage table), `tokens` (words, quotes, thread references),
`subscribe` (the subscription options), `render` (the inverse of parse); this module parses the rest and is
the one to import (`from bot.slack import grammar`).
"""

from __future__ import annotations

import difflib
import json

from bot.note_text import NOTE_TEXT_MAX, note_length
from bot.slack.grammar.model import (
    ALIASES,
    MAX_BACKFILL,
    MAX_DELETE_IDS,
    SUBCOMMANDS,
    USAGE,
    Add,
    Command,
    Connect,
    Delete,
    Disconnect,
    Edit,
    Help,
    Invalid,
    List,
    Mute,
    PhoneRef,
    Setup,
    Status,
    Subscribe,
    SubscriptionFilters,
    Subscriptions,
    ThreadId,
    ThreadRef,
    Unknown,
    Unmute,
    Unsubscribe,
    too_long_sentence,
    usage_form,
)
from bot.slack.grammar.render import render
from bot.slack.grammar.subscribe import parse_subscription
from bot.slack.grammar.tokens import UUID, next_token, parse_id, parse_thread_ref, take_thread, tokens
from bot.slack.phone import looks_like_phone

__all__ = [
    "ALIASES",
    "MAX_BACKFILL",
    "MAX_DELETE_IDS",
    "SUBCOMMANDS",
    "USAGE",
    "Add",
    "Command",
    "Connect",
    "Delete",
    "Disconnect",
    "Edit",
    "Help",
    "Invalid",
    "List",
    "Mute",
    "PhoneRef",
    "Setup",
    "Status",
    "Subscribe",
    "SubscriptionFilters",
    "Subscriptions",
    "ThreadId",
    "ThreadRef",
    "Unknown",
    "Unmute",
    "Unsubscribe",
    "parse",
    "parse_thread_ref",
    "render",
    "too_long_sentence",
]

_VALUE_LIMIT = 2000


def _bad_thread(name: str, word: str) -> Invalid:
    # Shown on one line: a quoted word may hold line breaks ('add "\n'), and the answer is one sentence.
    shown = " ".join(word.split())
    if not shown:
        return Invalid(name, f"`{name}` needs a thread id or a customer's phone number: {usage_form(name)}")
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    return Invalid(
        name, f"`{shown}` is not a thread id or a valid phone number; write it like this: {usage_form(name)}"
    )


def _note_text(name: str, raw: str) -> str | Invalid:
    text = raw.strip()
    if not text:
        what = "a thread and the note text" if name == "add" else "a note id and the new text"
        return Invalid(name, f"`{name}` needs {what}: {usage_form(name)}")
    if note_length(text) > NOTE_TEXT_MAX:
        return Invalid(name, too_long_sentence(note_length(text)))
    return text


def _parse_add(rest: str) -> Command:
    ref, where = take_thread(rest, 0)
    if ref is None:
        assert isinstance(where, str)
        if not where:
            return Invalid("add", f"`add` needs a thread and the note text: {usage_form('add')}")
        return _bad_thread("add", where)
    assert isinstance(where, int)
    text = _note_text("add", rest[where:])
    return text if isinstance(text, Invalid) else Add(ref, text)


def _parse_thread_only(name: str, rest: str) -> Command:
    ref, where = take_thread(rest, 0)
    if ref is None:
        assert isinstance(where, str)
        return _bad_thread(name, where)
    assert isinstance(where, int)
    if rest[where:].strip():
        return Invalid(name, f"`{name}` takes only a thread, nothing after it: {usage_form(name)}")
    if name == "list":
        return List(ref)
    return Mute(ref) if name == "mute" else Unmute(ref)


def _parse_edit(rest: str) -> Command:
    first = next_token(rest, 0)
    if first is None:
        return Invalid("edit", f"`edit` needs a note id and the new text: {usage_form('edit')}")
    note_id = parse_id(first.text)
    if note_id is None:
        return Invalid("edit", f"`edit` needs a note id first, then the new text: {usage_form('edit')}")
    text = _note_text("edit", rest[first.end :])
    return text if isinstance(text, Invalid) else Edit(note_id, text)


def _parse_delete(rest: str) -> Command:
    words = [w for tok in tokens(rest) for w in tok.text.split(",") if w.strip()]
    if not words:
        return Invalid("delete", f"`delete` needs one or more note ids: {usage_form('delete')}")
    ids: list[str] = []
    form = usage_form("delete")
    for word in words:
        note_id = parse_id(word.strip())
        if note_id is None:
            shown = word if len(word) <= 40 else word[:39] + "…"
            return Invalid("delete", f"`{shown}` is not a note id; write it like this: {form}")
        if note_id not in ids:
            ids.append(note_id)
        if len(ids) > MAX_DELETE_IDS:
            return Invalid("delete", f"You can delete up to {MAX_DELETE_IDS} notes at once: {form}")
    if len(json.dumps(ids, separators=(",", ":"))) > _VALUE_LIMIT:
        return Invalid("delete", f"Those note ids are too long to delete at once; try fewer: {form}")
    return Delete(tuple(ids))


def _no_arguments(name: str, rest: str, command: Command) -> Command:
    if rest.strip():
        return Invalid(name, f"`{name}` takes nothing after it: {usage_form(name)}")
    return command


def parse(text: str) -> Command:
    """Parse the text after `/thread-note`. Total: any string gives a command, `Unknown` or `Invalid`."""
    first = next_token(text, 0)
    if first is None:
        return Help()
    word = first.text
    name = word.lower()
    name = ALIASES.get(name, name)
    rest = text[first.end :]
    if first.quoted or name not in USAGE:
        return Unknown(word, _suggest(text, word, rest))
    match name:
        case "help":
            return Help()
        case "add":
            return _parse_add(rest)
        case "list" | "mute" | "unmute":
            return _parse_thread_only(name, rest)
        case "edit":
            return _parse_edit(rest)
        case "delete":
            return _parse_delete(rest)
        case "connect":
            return _no_arguments(name, rest, Connect())
        case "disconnect":
            return _no_arguments(name, rest, Disconnect())
        case "status":
            return _no_arguments(name, rest, Status())
        case "setup":
            return _no_arguments(name, rest, Setup())
        case "subscribe" | "unsubscribe":
            return parse_subscription(name, rest)
        case "subscriptions":
            arg = rest.strip().lower()
            if arg in ("", "all"):
                return Subscriptions(all=arg == "all")
            return Invalid(name, f"`subscriptions` takes only `all`: {usage_form(name)}")
    return Unknown(word, None)  # pragma: no cover - every USAGE key is matched above


def _suggest(text: str, word: str, rest: str) -> str | None:
    # "/thread-note +1 650 555 0101 waiting": a thread first means they forgot `add` (or `list`)
    if looks_like_phone(word) or UUID.match(word):
        ref, where = take_thread(text, 0)
        if ref is not None:
            assert isinstance(where, int)
            return "add" if text[where:].strip() else "list"
    names = [*SUBCOMMANDS, *ALIASES]
    near = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    if not near:
        return None
    return ALIASES.get(near[0], near[0])
