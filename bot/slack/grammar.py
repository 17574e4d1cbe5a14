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
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.note_text import NOTE_TEXT_MAX, note_length
from bot.slack.phone import looks_like_phone, normalise

__all__ = [
    "ALIASES",
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

MAX_DELETE_IDS = 50  # the confirm button carries the ids as JSON in its value (≤ 2000 characters)
MAX_BACKFILL = 50
_MAX_PHONE_WORDS = 6
_VALUE_LIMIT = 2000

# --- commands ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadId:
    """A RingCentral thread (or note) id as typed; UUIDs are lowercased."""

    value: str

    def __str__(self) -> str:
        return self.value

    def as_kwargs(self) -> dict[str, str]:
        """Keyword arguments for the note use cases (`thread_id=`)."""
        return {"thread_id": self.value}


@dataclass(frozen=True)
class PhoneRef:
    """A customer phone number in E.164: "that customer's Open thread in the user's resources"."""

    e164: str

    def __str__(self) -> str:
        return self.e164

    def as_kwargs(self) -> dict[str, str]:
        """Keyword arguments for the note use cases (`phone=`)."""
        return {"phone": self.e164}


ThreadRef: TypeAlias = ThreadId | PhoneRef


@dataclass(frozen=True)
class SubscriptionFilters:
    tags: tuple[str, ...] = ()  # lowercase, without '#': notes containing any of these words or #tags
    exclude_authors: tuple[str, ...] = ()  # extension ids or names whose notes are not posted
    unassigned_only: bool = False
    broadcast: bool = False  # replies also sent to the channel
    deleted: Literal["strike", "remove"] = "strike"
    backfill: int = 0  # post the last N notes when subscribing, 0-50
    two_way: bool = False  # replies in the channel's Slack threads become notes
    digest: str | None = None  # "HH:MM": a daily handoff digest at this local time
    quiet: tuple[str, str] | None = None  # ("HH:MM", "HH:MM"): quiet hours, one summary after them
    tz: str | None = None  # IANA zone for digest and quiet; None: the subscriber's Slack time zone


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Add:
    thread: ThreadRef
    text: str


@dataclass(frozen=True)
class List:
    thread: ThreadRef


@dataclass(frozen=True)
class Edit:
    note_id: str
    text: str


@dataclass(frozen=True)
class Delete:
    note_ids: tuple[str, ...]


@dataclass(frozen=True)
class Connect:
    pass


@dataclass(frozen=True)
class Disconnect:
    pass


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Subscribe:
    resource: str
    channel_id: str | None = None  # None and no channel_name: the channel the command was typed in
    filters: SubscriptionFilters = field(default_factory=SubscriptionFilters)
    channel_name: str | None = None  # a typed `#name` the caller must look up


@dataclass(frozen=True)
class Unsubscribe:
    resource: str
    channel_id: str | None = None
    channel_name: str | None = None


@dataclass(frozen=True)
class Subscriptions:
    all: bool = False


@dataclass(frozen=True)
class Mute:
    thread: ThreadRef


@dataclass(frozen=True)
class Unmute:
    thread: ThreadRef


@dataclass(frozen=True)
class Unknown:
    """The first word is no subcommand; `suggestion` is the nearest one, if any is near."""

    word: str
    suggestion: str | None


@dataclass(frozen=True)
class Invalid:
    """A known subcommand with bad arguments; `reason` is one sentence: what was wrong and the right form."""

    subcommand: str
    reason: str


Command: TypeAlias = (
    Help
    | Add
    | List
    | Edit
    | Delete
    | Connect
    | Disconnect
    | Status
    | Subscribe
    | Unsubscribe
    | Subscriptions
    | Mute
    | Unmute
    | Unknown
    | Invalid
)

# subcommand → (form, example); the order is the usage card's
USAGE: dict[str, tuple[str, str]] = {
    "add": ("add <thread> <text>", "add +1 650 555 0101 Customer waits for pricing, please take over"),
    "list": ("list <thread>", "list 650-555-0101"),
    "edit": ("edit <note-id> <text>", "edit 3f2a9c1e-8b7d-4e21-9a0b-5c6d7e8f9012 Pricing sent"),
    "delete": ("delete <note-id> [<note-id>…]", "delete 3f2a9c1e-8b7d-4e21-9a0b-5c6d7e8f9012"),
    "subscribe": (
        "subscribe <resource> [#channel] [tags:#a,#b] [exclude:<author>,…] [unassigned] [broadcast] "
        "[deleted:strike|remove] [backfill:N] [two-way] [digest:HH:MM] [quiet:HH:MM-HH:MM] [tz:Zone]",
        'subscribe "Sales Queue" #support tags:#handoff unassigned two-way digest:09:00 quiet:22:00-07:00',
    ),
    "unsubscribe": ("unsubscribe <resource> [#channel]", 'unsubscribe "Sales Queue" #support'),
    "subscriptions": ("subscriptions [all]", "subscriptions all"),
    "mute": ("mute <thread>", "mute +16505550101"),
    "unmute": ("unmute <thread>", "unmute +16505550101"),
    "connect": ("connect", "connect"),
    "disconnect": ("disconnect", "disconnect"),
    "status": ("status", "status"),
    "help": ("help", "help"),
}
SUBCOMMANDS: tuple[str, ...] = tuple(USAGE)
ALIASES: dict[str, str] = {
    "new": "add",
    "ls": "list",
    "rm": "delete",
    "remove": "delete",
    "subs": "subscriptions",
    "?": "help",
}

_ID = re.compile(r"^[0-9A-Za-z-]{6,}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CHANNEL_ESCAPED = re.compile(r"^<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>$")
_CHANNEL_TYPED = re.compile(r"^#([a-z0-9][a-z0-9_\-]{0,79})$", re.IGNORECASE)
_FILTER = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)
_FILTER_KEYS = ("tags", "exclude", "deleted", "backfill", "digest", "quiet", "tz")
_FLAG_WORDS = ("unassigned", "broadcast", "two-way", "twoway")
_OPEN_QUOTES = '"\u201c\u201d'
_CLOSE_QUOTES = '"\u201c\u201d'


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> str | None:
    """A time of day as "HH:MM" ("9:00" → "09:00"), else None (the same rule as bot/notify/options.py)."""
    m = _HHMM.match(text.strip())
    return f"{int(m.group(1)):02d}:{m.group(2)}" if m else None


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _form(name: str) -> str:
    return f"`/thread-note {USAGE[name][0]}`"


def too_long_sentence(length: int, limit: int = NOTE_TEXT_MAX) -> str:
    return f"Your note is {length:,} characters; RingCentral allows {limit:,}."


# --- tokens -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str  # quotes removed
    end: int  # index just after the token in the source
    quoted: bool  # began with a quote: taken literally, never as a phone number's part, channel or filter


def _next_token(text: str, pos: int) -> _Token | None:
    """The next whitespace-separated token from `pos`; double-quoted parts may hold spaces."""
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    if pos >= n:
        return None
    out: list[str] = []
    quoted = text[pos] in _OPEN_QUOTES
    while pos < n and not text[pos].isspace():
        if text[pos] in _OPEN_QUOTES:
            close = pos + 1
            while close < n and text[close] not in _CLOSE_QUOTES:
                close += 1
            out.append(text[pos + 1 : close])
            pos = min(close + 1, n)
        else:
            out.append(text[pos])
            pos += 1
    return _Token("".join(out), pos, quoted)


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while (tok := _next_token(text, pos)) is not None:
        out.append(tok)
        pos = tok.end
    return out


# --- thread references ------------------------------------------------------------------------------------


def _parse_id(token: str) -> str | None:
    if token[:3].lower() == "id:":
        token = token[3:]
    if not _ID.match(token):
        return None
    return token.lower() if _UUID.match(token) else token


def parse_thread_ref(token: str, default_region: str = "US") -> ThreadRef | None:
    """One token (or a quoted phrase) as a thread reference: a phone number first, then an id; else None."""
    token = token.strip()
    if token[:3].lower() != "id:":
        e164 = normalise(token, default_region)
        if e164 is not None:
            return PhoneRef(e164)
    ident = _parse_id(token)
    return ThreadId(ident) if ident is not None else None


def _take_thread(text: str, pos: int) -> tuple[ThreadRef, int] | tuple[None, str]:
    """The thread at the start of text[pos:] and where it ends, or (None, the offending word)."""
    first = _next_token(text, pos)
    if first is None:
        return None, ""
    if not first.quoted and looks_like_phone(first.text):
        words: list[_Token] = []
        cursor = pos
        while len(words) < _MAX_PHONE_WORDS and (tok := _next_token(text, cursor)) is not None:
            if tok.quoted or not looks_like_phone(tok.text):
                break
            words.append(tok)
            cursor = tok.end
        for count in range(len(words), 0, -1):
            e164 = normalise(" ".join(w.text for w in words[:count]))
            if e164 is not None:
                return PhoneRef(e164), words[count - 1].end
    ref = parse_thread_ref(first.text)
    if ref is None:
        return None, first.text
    return ref, first.end


def _bad_thread(name: str, word: str) -> Invalid:
    # Shown on one line: a quoted word may hold line breaks ('add "\n'), and the answer is one sentence.
    shown = " ".join(word.split())
    if not shown:
        return Invalid(name, f"`{name}` needs a thread id or a customer's phone number: {_form(name)}")
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    return Invalid(
        name, f"`{shown}` is not a thread id or a valid phone number; write it like this: {_form(name)}"
    )


# --- subcommands ------------------------------------------------------------------------------------------


def _note_text(name: str, raw: str) -> str | Invalid:
    text = raw.strip()
    if not text:
        what = "a thread and the note text" if name == "add" else "a note id and the new text"
        return Invalid(name, f"`{name}` needs {what}: {_form(name)}")
    if note_length(text) > NOTE_TEXT_MAX:
        return Invalid(name, too_long_sentence(note_length(text)))
    return text


def _parse_add(rest: str) -> Command:
    ref, where = _take_thread(rest, 0)
    if ref is None:
        assert isinstance(where, str)
        if not where:
            return Invalid("add", f"`add` needs a thread and the note text: {_form('add')}")
        return _bad_thread("add", where)
    assert isinstance(where, int)
    text = _note_text("add", rest[where:])
    return text if isinstance(text, Invalid) else Add(ref, text)


def _parse_thread_only(name: str, rest: str) -> Command:
    ref, where = _take_thread(rest, 0)
    if ref is None:
        assert isinstance(where, str)
        return _bad_thread(name, where)
    assert isinstance(where, int)
    if rest[where:].strip():
        return Invalid(name, f"`{name}` takes only a thread, nothing after it: {_form(name)}")
    if name == "list":
        return List(ref)
    return Mute(ref) if name == "mute" else Unmute(ref)


def _parse_edit(rest: str) -> Command:
    first = _next_token(rest, 0)
    if first is None:
        return Invalid("edit", f"`edit` needs a note id and the new text: {_form('edit')}")
    note_id = _parse_id(first.text)
    if note_id is None:
        return Invalid("edit", f"`edit` needs a note id first, then the new text: {_form('edit')}")
    text = _note_text("edit", rest[first.end :])
    return text if isinstance(text, Invalid) else Edit(note_id, text)


def _parse_delete(rest: str) -> Command:
    words = [w for tok in _tokens(rest) for w in tok.text.split(",") if w.strip()]
    if not words:
        return Invalid("delete", f"`delete` needs one or more note ids: {_form('delete')}")
    ids: list[str] = []
    form = _form("delete")
    for word in words:
        note_id = _parse_id(word.strip())
        if note_id is None:
            shown = word if len(word) <= 40 else word[:39] + "…"
            return Invalid("delete", f"`{shown}` is not a note id; write it like this: {_form('delete')}")
        if note_id not in ids:
            ids.append(note_id)
        if len(ids) > MAX_DELETE_IDS:
            return Invalid("delete", f"You can delete up to {MAX_DELETE_IDS} notes at once: {form}")
    if len(json.dumps(ids, separators=(",", ":"))) > _VALUE_LIMIT:
        return Invalid("delete", f"Those note ids are too long to delete at once; try fewer: {form}")
    return Delete(tuple(ids))


def _channel(token: _Token) -> tuple[str | None, str | None] | None:
    """(channel id, channel name) for a channel token, else None."""
    if token.quoted:
        return None
    m = _CHANNEL_ESCAPED.match(token.text)
    if m:
        return m.group(1), (m.group(2) or None)
    m = _CHANNEL_TYPED.match(token.text)
    if m:
        return None, m.group(1).lower()
    return None


def _is_option(token: _Token) -> bool:
    if token.quoted:
        return False
    if token.text.lower() in _FLAG_WORDS or _channel(token) is not None:
        return True
    m = _FILTER.match(token.text)
    return bool(m) and not token.text.startswith("<")


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_subscription(name: Literal["subscribe", "unsubscribe"], rest: str) -> Command:
    tokens = _tokens(rest)
    if not tokens:
        return Invalid(name, f"`{name}` needs a resource (a call queue or site): {_form(name)}")
    if tokens[0].quoted:
        resource, options = tokens[0].text.strip(), tokens[1:]
    else:
        cut = next((i for i, tok in enumerate(tokens) if _is_option(tok)), len(tokens))
        resource, options = " ".join(t.text for t in tokens[:cut]).strip(), tokens[cut:]
    if not resource:
        return Invalid(name, f"`{name}` needs a resource (a call queue or site) first: {_form(name)}")
    channel_id: str | None = None
    channel_name: str | None = None
    seen_channel = False
    tags: list[str] = []
    exclude: list[str] = []
    flags: set[str] = set()
    deleted: Literal["strike", "remove"] = "strike"
    backfill = 0
    digest: str | None = None
    quiet: tuple[str, str] | None = None
    tz: str | None = None
    form = _form(name)
    for tok in options:
        channel = _channel(tok)
        if channel is not None:
            if seen_channel:
                return Invalid(name, f"`{name}` takes one channel at most: {_form(name)}")
            seen_channel = True
            channel_id, channel_name = channel
            continue
        word = tok.text.strip()
        if name == "unsubscribe":
            return Invalid(name, f"`{name}` takes a resource and a channel, no filters: {_form(name)}")
        if word.lower() in _FLAG_WORDS:
            flags.add(word.lower())
            continue
        m = _FILTER.match(word)
        if m is None or tok.quoted:
            return Invalid(name, f"`{_clip(word)}` is not a channel or a filter: {_form(name)}")
        key, value = m.group(1).lower(), m.group(2)
        if key == "tags":
            new = [t.lstrip("#").lower() for t in _split_list(value)]
            if not any(new):
                return Invalid(name, f"`tags:` needs one or more tags, like `tags:#handoff,#urgent`: {form}")
            tags += [t for t in new if t and t not in tags]
        elif key == "exclude":
            new = _split_list(value)
            if not new:
                example = "like `exclude:101`"
                return Invalid(name, f"`exclude:` needs authors (extension ids or names), {example}: {form}")
            exclude += [e for e in new if e not in exclude]
        elif key == "deleted":
            if value.lower() not in ("strike", "remove"):
                return Invalid(name, f"`deleted:` is `strike` or `remove`, like `deleted:remove`: {form}")
            deleted = "strike" if value.lower() == "strike" else "remove"
        elif key == "backfill":
            if not (value.isascii() and value.isdigit()) or int(value) > MAX_BACKFILL:
                example = f"from 0 to {MAX_BACKFILL}, like `backfill:5`"
                return Invalid(name, f"`backfill:` takes a number {example}: {form}")
            backfill = int(value)
        elif key == "digest":
            digest = parse_hhmm(value)
            if digest is None:
                return Invalid(name, f"`digest:` takes a time of day, like `digest:09:00`: {form}")
        elif key == "quiet":
            start, dash, end = value.partition("-")
            window = (parse_hhmm(start), parse_hhmm(end)) if dash else (None, None)
            if window[0] is None or window[1] is None or window[0] == window[1]:
                example = "like `quiet:22:00-07:00`"
                return Invalid(name, f"`quiet:` takes a start and an end time, {example}: {form}")
            quiet = (window[0], window[1])
        elif key == "tz":
            if not valid_zone(value.strip()):
                example = "like `tz:Europe/Berlin` or `tz:UTC`"
                return Invalid(name, f"`tz:` takes a time zone name, {example}: {form}")
            tz = value.strip()
        else:
            near = difflib.get_close_matches(key, (*_FILTER_KEYS, *_FLAG_WORDS), n=1)
            hint = f" (did you mean `{near[0]}`?)" if near else ""
            return Invalid(name, f"`{_clip(key)}:` is not a filter{hint}: {_form(name)}")
    if name == "unsubscribe":
        return Unsubscribe(resource, channel_id, channel_name)
    filters = SubscriptionFilters(
        tags=tuple(tags),
        exclude_authors=tuple(exclude),
        unassigned_only="unassigned" in flags,
        broadcast="broadcast" in flags,
        deleted=deleted,
        backfill=backfill,
        two_way="two-way" in flags or "twoway" in flags,
        digest=digest,
        quiet=quiet,
        tz=tz,
    )
    return Subscribe(resource, channel_id, filters, channel_name)


def _clip(word: str, limit: int = 40) -> str:
    word = word.replace("`", "'")
    return word if len(word) <= limit else word[: limit - 1] + "…"


def _no_arguments(name: str, rest: str, command: Command) -> Command:
    if rest.strip():
        return Invalid(name, f"`{name}` takes nothing after it: {_form(name)}")
    return command


def parse(text: str) -> Command:
    """Parse the text after `/thread-note`. Total: any string gives a command, `Unknown` or `Invalid`."""
    first = _next_token(text, 0)
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
        case "subscribe" | "unsubscribe":
            return _parse_subscription(name, rest)
        case "subscriptions":
            arg = rest.strip().lower()
            if arg in ("", "all"):
                return Subscriptions(all=arg == "all")
            return Invalid(name, f"`subscriptions` takes only `all`: {_form(name)}")
    return Unknown(word, None)  # pragma: no cover - every USAGE key is matched above


def _suggest(text: str, word: str, rest: str) -> str | None:
    # "/thread-note +1 650 555 0101 waiting": a thread first means they forgot `add` (or `list`)
    if looks_like_phone(word) or _UUID.match(word):
        ref, where = _take_thread(text, 0)
        if ref is not None:
            assert isinstance(where, int)
            return "add" if text[where:].strip() else "list"
    names = [*SUBCOMMANDS, *ALIASES]
    near = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    if not near:
        return None
    return ALIASES.get(near[0], near[0])


# --- rendering (the inverse of parse: canonical text for a command) ---------------------------------------


def _render_ref(ref: ThreadRef) -> str:
    if isinstance(ref, PhoneRef):
        return f'"{ref.e164}"'
    if parse_thread_ref(ref.value) != ref:
        return f"id:{ref.value}"
    return ref.value


def _quote(text: str) -> str:
    return f'"{text}"'


def _render_channel(channel_id: str | None, channel_name: str | None) -> list[str]:
    if channel_id:
        return [f"<#{channel_id}|{channel_name}>" if channel_name else f"<#{channel_id}>"]
    if channel_name:
        return [f"#{channel_name}"]
    return []


def render(command: Command) -> str:
    """Canonical `/thread-note` text for a command: `parse(render(c)) == c` for every valid command.

    Useful to keep an action for later ("finish after connecting") as the text that would redo it.
    """
    match command:
        case Help():
            return "help"
        case Add(thread, text):
            return f"add {_render_ref(thread)} {text}"
        case List(thread):
            return f"list {_render_ref(thread)}"
        case Mute(thread):
            return f"mute {_render_ref(thread)}"
        case Unmute(thread):
            return f"unmute {_render_ref(thread)}"
        case Edit(note_id, text):
            return f"edit {note_id} {text}"
        case Delete(note_ids):
            return "delete " + " ".join(note_ids)
        case Connect():
            return "connect"
        case Disconnect():
            return "disconnect"
        case Status():
            return "status"
        case Subscriptions(all=every):
            return "subscriptions all" if every else "subscriptions"
        case Subscribe(resource, channel_id, filters, channel_name):
            parts = ["subscribe", _quote(resource), *_render_channel(channel_id, channel_name)]
            if filters.tags:
                parts.append("tags:" + ",".join(f"#{t}" for t in filters.tags))
            if filters.exclude_authors:
                parts.append("exclude:" + ",".join(_quote(e) for e in filters.exclude_authors))
            if filters.unassigned_only:
                parts.append("unassigned")
            if filters.broadcast:
                parts.append("broadcast")
            if filters.deleted != "strike":
                parts.append(f"deleted:{filters.deleted}")
            if filters.backfill:
                parts.append(f"backfill:{filters.backfill}")
            if filters.two_way:
                parts.append("two-way")
            if filters.digest:
                parts.append(f"digest:{filters.digest}")
            if filters.quiet:
                parts.append(f"quiet:{filters.quiet[0]}-{filters.quiet[1]}")
            if filters.tz:
                parts.append(f"tz:{filters.tz}")
            return " ".join(parts)
        case Unsubscribe(resource, channel_id, channel_name):
            return " ".join(["unsubscribe", _quote(resource), *_render_channel(channel_id, channel_name)])
        case Unknown(word, _):
            return word
        case Invalid(subcommand, _):
            return subcommand
