"""The commands the `/thread-note` grammar produces, and its usage table (the forms and examples shown in the
usage card, and quoted in every `Invalid` reason). Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from bot.note_text import NOTE_TEXT_MAX

MAX_DELETE_IDS = 50  # the confirm button carries the ids as JSON in its value (≤ 2000 characters)
MAX_BACKFILL = 50


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
class Setup:
    """The workspace's own RingCentral account (admins only)."""


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
    | Setup
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
    "setup": ("setup", "setup"),
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


def usage_form(name: str) -> str:
    return f"`/thread-note {USAGE[name][0]}`"


def too_long_sentence(length: int, limit: int = NOTE_TEXT_MAX) -> str:
    return f"Your note is {length:,} characters; RingCentral allows {limit:,}."
