"""How a RingCentral conversation reads in Slack, the same in replies, views and channel notifications.

Plain text: escape it (`text.escape`, `text.fit`) before it goes into mrkdwn. The thread is described by the
attributes read here (`ThreadLike`), so this leaf does not import the RingCentral client package;
`bot.ringcentral.models.Thread` is one.
"""

from __future__ import annotations

from typing import Protocol

import phonenumbers

__all__ = ["ThreadLike", "last_message", "pretty", "thread_label"]


class _Person(Protocol):
    @property
    def extension_id(self) -> str: ...

    @property
    def name(self) -> str | None: ...


class ThreadLike(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def availability(self) -> str: ...

    @property
    def owner(self) -> _Person: ...

    @property
    def assignee(self) -> _Person | None: ...

    @property
    def guest_number(self) -> str | None: ...

    @property
    def label(self) -> str | None: ...


def pretty(e164: str | None) -> str:
    """A number as people read it (`+1 650-555-0101`); anything unparseable comes back as given."""
    if not e164:
        return "unknown number"
    try:
        number = phonenumbers.parse(e164, None if e164.startswith("+") else "US")
    except phonenumbers.NumberParseException:
        return e164
    if not phonenumbers.is_possible_number(number):
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def thread_label(thread: ThreadLike) -> str:
    """Plain text: "+1 650-555-0101 · Sales Queue · Open, assigned to Ann" (escape it for mrkdwn).

    RingCentral's `label` is the conversation's last message, not a name, so it is not part of the label;
    `last_message` shows it where it helps.
    """
    who = pretty(thread.guest_number)
    resource = thread.owner.name or f"resource {thread.owner.extension_id}"
    if thread.availability == "Deleted":
        state = "Deleted"
    elif thread.status == "Resolved":
        state = "Resolved"
    elif thread.assignee is not None:
        state = f"Open, assigned to {thread.assignee.name or thread.assignee.extension_id}"
    else:
        state = "Open, unassigned"
    return f"{who} · {resource} · {state}"


def last_message(thread: ThreadLike) -> str | None:
    """The customer conversation's latest text (RingCentral's thread `label`), one line, plain text."""
    text = " ".join((thread.label or "").split())
    return text or None
