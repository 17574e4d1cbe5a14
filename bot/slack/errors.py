"""The one error path: every failure of a listener becomes one clear sentence for the person who acted.

Nothing the person typed is lost: the answer repeats their text so it can be copied. A person who is not
connected gets a one-click connect prompt that remembers what they were doing, instead of an error.
`classify` names the kind of failure and `error_sentence` words it; `report` answers the person, called by
the guard every listener is registered with (bot/slack/listen.py); `attempt` is for the modals, which show a
refusal inside the modal the person is looking at instead.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit.ids import PENDING_FINISH
from bot.blockkit.text import unescape as text_unescape
from bot.logs import get_logger
from bot.note_text import NOTE_TEXT_MAX
from bot.ringcentral.errors import (
    AuthError,
    InvalidInput,
    RateLimited,
    RingCentralError,
    ThreadResolved,
    Unavailable,
)
from bot.service.errors import (
    AmbiguousThread,
    ForeignMessage,
    NotAuthor,
    NotConnected,
    NoteNotFound,
    NoteTooLong,
    NotHandler,
    ServiceError,
    ThreadNotFound,
)
from bot.service.types import Actor
from bot.slack import grammar
from bot.slack.deps import Deps
from bot.slack.replies import GUEST_SENTENCE, from_elsewhere, tell_user
from bot.slack.views.connect import connect_prompt
from bot.slack.views.notes import thread_choices
from bot.slack.views.sentences import notice, warning
from bot.store import UndecryptableSecret

log = get_logger(__name__)
T = TypeVar("T")


def classify(error: BaseException) -> tuple[str, dict[str, Any]]:
    """Map an exception to the kind of sentence the person sees (`error_sentence`, below)."""
    match error:
        case UndecryptableSecret():
            return "undecryptable", {}
        case NoteTooLong():
            return "too_long", {"length": error.length, "limit": error.limit}
        case NotConnected() | AuthError():
            return "disconnected", {}
        case ThreadResolved():
            return "thread_resolved", {}
        case NotAuthor():
            return "not_author", {}
        case ForeignMessage():
            return "foreign_message", {}
        case NotHandler():
            return "not_handler", {}
        case ThreadNotFound():
            return "thread_not_found", {"reference": error.reference}
        case NoteNotFound():
            return "note_not_found", {"note_ids": error.note_ids}
        case RateLimited():
            return "rate_limited", {"retry_after": error.retry_after}
        case Unavailable():
            return "unavailable", {}
        case InvalidInput():
            return "invalid_input", {"parameter": error.parameter}
        case RingCentralError():
            return "unavailable", {}
        case SlackApiError() if _slack_error(error) == "expired_trigger_id":
            return "slack_expired", {}  # the form could not open in time: nothing of ours failed
        case SlackApiError() if _slack_error(error) == "ratelimited" or error.response.status_code == 429:
            return "slack_rate_limited", {}
    return "internal", {}


def _slack_error(error: SlackApiError) -> str:
    return str(error.response.get("error") or "")


ErrorKind = Literal[
    "thread_resolved",
    "not_author",
    "not_handler",
    "thread_not_found",
    "note_not_found",
    "rate_limited",
    "unavailable",
    "disconnected",
    "undecryptable",
    "not_connected",
    "too_long",
    "invalid_input",
    "invalid_command",
    "ambiguous_thread",
    "foreign_message",
]


def _when(seconds: float | None) -> str:
    if seconds is None or seconds <= 5:
        return "in a few seconds"
    if seconds < 55:
        return f"in about {min(50, math.ceil(seconds / 10) * 10)} seconds"
    if seconds < 90:
        return "in about a minute"
    if seconds < 3600:
        return f"in about {math.ceil(seconds / 60)} minutes"
    hours = math.ceil(seconds / 3600)
    return "in about an hour" if hours == 1 else f"in about {hours} hours"


def error_sentence(kind: str, **details: Any) -> str:
    """One plain sentence per kind of failure (not escaped: `error_message` escapes it for mrkdwn; modal
    `response_action: errors` show it as plain text)."""
    ref = details.get("reference") or details.get("thread")
    match kind:
        case "thread_resolved":
            return "This conversation is resolved, so its notes are closed: no adding, editing or deleting."
        case "not_author":
            return "Only the author of a note can edit or delete it."
        case "not_handler":
            return (
                "You don't handle this conversation's queue in RingCentral, so you can't write notes on it."
            )
        case "thread_not_found":
            if ref:
                return f"No open conversation matches {ref} in your queues; check it or use the thread id."
            return "That conversation wasn't found in your queues; check the number or use the thread id."
        case "note_not_found":
            ids = details.get("note_ids") or details.get("ids")
            if ids:
                listed = ", ".join(str(i) for i in ids)
                return f"No note with the id {listed} was found; it may have been deleted."
            return "That note wasn't found; it may have been deleted."
        case "rate_limited":
            when = _when(details.get("retry_after"))
            return f"RingCentral is asking us to slow down; please try again {when}."
        case "unavailable":
            return "RingCentral isn't answering right now; please try again in a minute."
        case "disconnected":
            return "Your RingCentral account was disconnected; connect it again with `/thread-note connect`."
        case "undecryptable":
            return (
                "Your saved RingCentral connection can't be read any more (the bot's encryption key "
                "changed), so please connect your account again."
            )
        case "not_connected":
            return "Connect your RingCentral account first with `/thread-note connect`."
        case "too_long":
            return grammar.too_long_sentence(
                int(details.get("length", 0)), int(details.get("limit", NOTE_TEXT_MAX))
            )
        case "invalid_input":
            parameter = details.get("parameter")
            reason = details.get("reason")
            if parameter and reason:
                return f"RingCentral refused the {parameter}: {reason}"
            if parameter:
                return f"RingCentral refused the {parameter}; please check it and try again."
            return "RingCentral refused the request as invalid; please check what you typed and try again."
        case "invalid_command":
            return str(
                details.get("reason") or "That command isn't quite right; `/thread-note help` shows how."
            )
        case "slack_expired":
            return "Slack took too long to open the form; please try again."
        case "slack_rate_limited":
            return "Slack is busy right now and didn't open the form; please try again in a few seconds."
        case "foreign_message":
            return (
                "This message isn't one of your workspace's notifications, so its buttons can't act for you."
            )
        case "ambiguous_thread":
            return f"Several open conversations match {ref or 'that number'}; pick one, or use its thread id."
    # An unexpected failure: the reference is the `ref` field of the bot's ERROR log line, so a person who
    # reports it lets the admin find that line.
    error_ref = details.get("ref")
    return "Something went wrong on our side; please try again" + (
        f" (ref: {error_ref})." if error_ref else "."
    )


@dataclass(frozen=True)
class Refusal:
    """RingCentral or the service said no: the sentence to show the person (`error_sentence`)."""

    sentence: str


async def attempt(work: Awaitable[T]) -> T | Refusal:
    """`work`'s result, or the sentence for its refusal (a `ServiceError` or `RingCentralError`, classified
    as `report` would) — for a modal that shows the refusal in place; anything else is raised."""
    try:
        return await work
    except (ServiceError, RingCentralError) as exc:
        kind, details = classify(exc)
        return Refusal(error_sentence(kind, **details))


def error_message(kind: str, user_text: str | None = None, **details: Any) -> list[Block]:
    """The sentence, and what the person typed in a code block so nothing is lost (`user_text` as typed,
    i.e. unescaped; long text is split over several blocks)."""
    return warning(error_sentence(kind, **details), user_text)


def event_of(body: dict[str, Any]) -> dict[str, Any]:
    """The Events API event of `body`: a person's message, the message after an edit, or the one deleted."""
    event = body.get("event") or {}
    if not isinstance(event, dict):
        return {}
    return dict(event.get("message") or event.get("previous_message") or event)


def typed_text(body: dict[str, Any]) -> str | None:
    """What the person typed, to hand back to them: the command text, a pending command's text, or the
    message they wrote (a reply in a two-way thread)."""
    if body.get("event"):
        return text_unescape(str(event_of(body).get("text") or "")) or None
    raw = _raw_command(body)  # Slack escapes &, <, > in command text: hand back what was really typed
    return text_unescape(raw) if raw else None


def _raw_command(body: dict[str, Any]) -> str | None:
    if body.get("command"):
        return str(body.get("text") or "") or None
    for action in body.get("actions") or []:
        if action.get("action_id") == PENDING_FINISH:
            return str(action.get("value") or "") or None
    return None


async def report(
    deps: Deps,
    error: Exception,
    body: dict[str, Any],
    actor: Actor | None,
    client: AsyncWebClient,
    respond: Any,
) -> None:
    """Answer `actor`, whose action failed: one sentence, their text kept, a connect prompt if needed
    (through `respond` where there is one, else privately in the channel or by DM)."""
    kind, details = classify(error)
    text = typed_text(body)
    if kind == "internal":
        ref = secrets.token_hex(4)
        log.error("listener.failed", ref=ref, error=type(error).__name__, exc_info=error)
        details = {"ref": ref}
    elif kind == "undecryptable":  # the admin's alarm; the person is asked to connect again
        deps.metrics.undecryptable_reads.inc()
        log.error("listener.undecryptable_link", hint="THREAD_NOTE_SECRET_KEY: run `thread-note-bot check`")
    else:
        log.info("listener.refused", kind=kind, error=type(error).__name__)
    if actor is None:
        return
    if kind in ("disconnected", "undecryptable") and await from_elsewhere(client, actor):
        out, fallback = notice(GUEST_SENTENCE), GUEST_SENTENCE  # no connect link for a guest
    elif kind in ("disconnected", "undecryptable"):
        raw = _raw_command(body)  # kept as Slack sent it, so it parses the same way when finished
        pending = {"kind": "command", "text": raw} if raw else None
        url = await deps.accounts.connect_url(actor, pending)
        reason = error_sentence(kind) if kind == "undecryptable" else None
        if body.get("event"):  # a message is not resumed after connecting: hand its text back instead
            out = connect_prompt(url, reason=reason) + error_message(kind, user_text=text)[1:]
        else:
            out = connect_prompt(url, f"/thread-note {text}" if text else None, reason=reason)
        fallback = reason or "Connect your RingCentral account first"
    elif isinstance(error, AmbiguousThread):
        out = thread_choices(error.threads, pending_text=text)
        fallback = "Several conversations match; pick one"
    else:
        out = error_message(kind, user_text=text, **details)
        fallback = error_sentence(kind, **details)
    try:
        if respond is not None and (body.get("response_url") or body.get("command")):
            await respond(blocks=out, text=fallback, response_type="ephemeral", replace_original=False)
        else:
            channel = (body.get("channel") or {}).get("id") or (body.get("event") or {}).get("channel")
            thread_ts = event_of(body).get("thread_ts")  # a reply in a thread is answered in that thread
            await tell_user(client, actor.user_id, out, fallback, channel_id=channel, thread_ts=thread_ts)
    except SlackApiError as exc:
        log.warning("listener.reply_failed", error=exc.response.get("error"))
