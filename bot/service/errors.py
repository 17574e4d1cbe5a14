"""Errors of the use cases. RingCentral's own errors (bot.ringcentral.errors) pass through unchanged."""

from __future__ import annotations

from typing import Any

from bot.ringcentral.models import Thread


class ServiceError(Exception):
    pass


class NotConnected(ServiceError):
    """The person has not connected a RingCentral account (or disconnected, or the link was revoked)."""

    def __init__(self, *, revoked: bool = False) -> None:
        super().__init__(
            "not connected to RingCentral" + (" (the connection was revoked)" if revoked else "")
        )
        self.revoked = revoked


class ThreadNotFound(ServiceError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no open conversation matches {reference}")
        self.reference = reference


class AmbiguousThread(ServiceError):
    """A phone number matches several open conversations: the person has to pick one."""

    def __init__(self, reference: str, threads: list[Thread]) -> None:
        super().__init__(f"{len(threads)} open conversations match {reference}")
        self.reference = reference
        self.threads = threads


class ConnectFailed(ServiceError):
    """The OAuth callback could not complete (forged, reused or expired state, refused consent, bad code)."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class NotAuthor(ServiceError):
    """RingCentral refused an edit or delete: only a note's author may change it."""

    def __init__(self, note_ids: list[str]) -> None:
        super().__init__("only the author can change this note")
        self.note_ids = note_ids


class NotHandler(ServiceError):
    """RingCentral refused: the person does not handle the resource (queue or site) of this conversation."""

    def __init__(self, thread_id: str | None = None) -> None:
        super().__init__("not a handler of this conversation's queue or site")
        self.thread_id = thread_id


class NoteNotFound(ServiceError):
    def __init__(self, note_ids: list[str]) -> None:
        super().__init__("no such note")
        self.note_ids = note_ids


class NoteTooLong(ServiceError):
    """The note's text, as it would be saved, is longer than RingCentral allows (1,000 characters)."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"note is {length} characters; the limit is {limit}")
        self.length = length
        self.limit = limit


class LinkRefused(ServiceError):
    """A workspace's RingCentral account was not linked (bot/service/tenant_link.py): `sentence` tells the
    admin why and what to do, in one sentence; `reason` is a short code for logs and metrics."""

    def __init__(self, reason: str, sentence: str) -> None:
        super().__init__(sentence)
        self.reason = reason
        self.sentence = sentence
