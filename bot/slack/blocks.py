"""Block Kit for `/thread-note`, the "Save as thread note" modal and App Home: pure functions, data in, blocks
out.

Every builder stays inside Slack's limits (50 blocks per message, 100 per modal or Home tab, section text
3000, header 150, button and option text 75, button value 2000, `private_metadata` 3000) by truncating with
"…" and saying how much was left out, and escapes `&`, `<`, `>` in everything that came from people or from
RingCentral. User content goes into `mrkdwn` with `verbatim: true` (so a literal "@channel" is not
auto-parsed either) or into `plain_text`, which Slack never parses for mentions.

Ids the listeners route on:

- actions: `note_edit`, `note_delete` (value: note id), `note_delete_confirm` (value: JSON list of note ids),
  `note_delete_cancel`, `thread_pick` (value: thread id), `connect_open` (URL button), `add_note_open`
  (value: thread id), `thread_select` (external select in modals), `trim_text` (trim the modal text).
- modals: callback ids `save_note`, `edit_note`, `add_note`; input blocks `thread` (action `thread_select`),
  `thread_ref` (action `thread_ref_input`), `text` (action `text_input`; `text-<n>` after a trim, see
  `save_note_modal`). `read_note_input(view["state"]["values"])` reads them back.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.ringcentral.models import Note, Thread
from bot.slack import grammar
from bot.slack.phone import pretty
from bot.slack.text import escape, unescape

__all__ = [
    "ErrorKind",
    "NoteModalInput",
    "add_note_modal",
    "connect_failed",
    "connect_modal",
    "connect_prompt",
    "connected",
    "delete_confirm",
    "deleted",
    "disconnected",
    "done_modal",
    "error_message",
    "error_sentence",
    "escape",
    "format_time",
    "home_view",
    "message_modal",
    "note_edit_modal",
    "note_edit_modal_from",
    "note_saved",
    "notes_list",
    "progress",
    "progress_modal",
    "read_note_input",
    "save_note_modal",
    "status_card",
    "thread_choices",
    "thread_label",
    "thread_option",
    "usage_card",
]

# Slack's limits (../shared/slack/NOTES.md §4.2)
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
CONTEXT_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
OPTION_TEXT = 75
PRIVATE_METADATA = 3000
INPUT_INITIAL = 3000
# Slack also refuses messages whose blocks are too large in total (`msg_blocks_too_long`, undocumented, seen
# around 13k characters): lists stop adding notes beyond this many characters of text.
MESSAGE_TEXT_BUDGET = 12_000
NOTE_LIMIT = grammar.NOTE_MAX
ELLIPSIS = "…"

# action ids
NOTE_EDIT = "note_edit"
NOTE_DELETE = "note_delete"
NOTE_DELETE_CONFIRM = "note_delete_confirm"
NOTE_DELETE_CANCEL = "note_delete_cancel"
THREAD_PICK = "thread_pick"
CONNECT_OPEN = "connect_open"
PENDING_FINISH = "pending_finish"
HOME_ADD_NOTE = "add_note_open"  # same action as the notifications' "Add note"
THREAD_SELECT = "thread_select"
THREAD_REF_INPUT = "thread_ref_input"
TEXT_INPUT = "text_input"
SAVE_NOTE_TRIM = "trim_text"
# callback ids and block ids
SAVE_NOTE = "save_note"
EDIT_NOTE = "edit_note"
ADD_NOTE = "add_note"
THREAD_BLOCK = "thread"
THREAD_REF_BLOCK = "thread_ref"
TEXT_BLOCK = "text"

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# --- text helpers -------------------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """Plain text cut to `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def fit(raw: str, limit: int, *, quote: bool = False) -> str:
    """`raw` escaped for mrkdwn (and as a block quote when `quote`), cut so the result is ≤ `limit`.

    Cuts between characters of the raw text, so an escape such as `&amp;` is never split.
    """

    def piece(ch: str) -> str:
        if ch == "\n" and quote:
            return "\n>"
        return escape(ch)

    start = ">" if quote else ""
    whole = start + (escape(raw).replace("\n", "\n>") if quote else escape(raw))
    if len(whole) <= limit:
        return whole
    out = [start]
    size = len(start)
    for ch in raw:
        p = piece(ch)
        if size + len(p) > limit - len(ELLIPSIS):
            break
        out.append(p)
        size += len(p)
    return "".join(out).rstrip() + ELLIPSIS


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _section(text: str, accessory: ButtonElement | None = None, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=_md(clip(text, SECTION_TEXT)), accessory=accessory, block_id=block_id)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[_md(clip(text, CONTEXT_TEXT))])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_TEXT), emoji=True))


def _button(
    text: str,
    action_id: str,
    value: str | None = None,
    *,
    style: str | None = None,
    url: str | None = None,
) -> ButtonElement:
    if value is not None and len(value) > BUTTON_VALUE:
        raise ValueError(f"button value is {len(value)} characters; Slack allows {BUTTON_VALUE}")
    return ButtonElement(
        text=PlainTextObject(text=clip(text, BUTTON_TEXT), emoji=True),
        action_id=action_id,
        value=value,
        style=style,
        url=url,
    )


def _metadata(private_metadata: str) -> str:
    if len(private_metadata) > PRIVATE_METADATA:
        raise ValueError(
            f"private_metadata is {len(private_metadata)} characters; Slack allows {PRIVATE_METADATA}"
        )
    return private_metadata


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def format_time(moment: datetime, tz_name: str | None) -> str:
    """ "Mon 3 Nov, 14:05" in the reader's time zone (UTC when the zone is unknown); English, locale-free."""
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}, {local:%H:%M}"




def _channel_mention(channel_id: str) -> str:
    return f"<#{channel_id}>" if _CHANNEL_ID.match(channel_id) else escape(channel_id)


# --- threads ------------------------------------------------------------------------------------------------


def thread_label(thread: Thread) -> str:
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


def last_message(thread: Thread) -> str | None:
    """The customer conversation's latest text (RingCentral's thread `label`), one line, plain text."""
    text = " ".join((thread.label or "").split())
    return text or None


def thread_option(thread: Thread) -> Option:
    """An option for the thread picker (external select): the label within 75 characters, value the id."""
    return Option(
        text=PlainTextObject(text=clip(thread_label(thread), OPTION_TEXT), emoji=True), value=thread.id
    )


def thread_choices(
    threads: Sequence[Thread], reference: str | None = None, *, pending_text: str | None = None
) -> list[Block]:
    """Several open threads match a phone number: one "Choose" button (`thread_pick`) per thread. Its value is
    JSON `{"t": thread id, "c": pending_text}`: the command to carry on with travels with the choice. When the
    text does not fit a button value (2,000 characters) it is left out and shown to copy instead."""
    what = f"*{escape(reference)}*" if reference else "That number"
    blocks: list[Block] = [
        _section(f"{what} matches {_plural(len(threads), 'open conversation')}; which one?")
    ]

    def value(thread_id: str, with_text: bool) -> str:
        data = {"t": thread_id, "c": pending_text} if with_text and pending_text else {"t": thread_id}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    carry = all(len(value(t.id, True)) <= BUTTON_VALUE for t in threads)
    tail = 0 if carry or not pending_text else 3
    room = MESSAGE_BLOCKS - 2 - tail
    shown = threads if len(threads) <= room + 1 else threads[:room]
    for thread in shown:
        button = _button("Choose", THREAD_PICK, value(thread.id, carry))
        blocks.append(_section(fit(thread_label(thread), 500), accessory=button))
    if len(shown) < len(threads):
        more = len(threads) - len(shown)
        blocks.append(_context(f"… and {more:,} more; use the thread id to pick one of them."))
    if tail and pending_text:
        blocks.extend(
            error_message(
                "invalid_command",
                pending_text,
                reason="Your text is too long to carry "
                "over; copy it and run the command again with the thread id.",
            )[:3]
        )
    return blocks


# --- notes --------------------------------------------------------------------------------------------------


def _note_section(note: Note, tz_name: str | None, budget: int = SECTION_TEXT) -> SectionBlock:
    head = f"*{escape(note.author_name)}* · {format_time(note.creation_time, tz_name)}"
    if note.edited:
        head += " (edited)"
    body = fit(note.text or "", budget - len(head) - 1, quote=True) if note.text else "_(empty)_"
    return _section(f"{head}\n{body}")


def note_saved(
    note: Note, thread: Thread, *, edited: bool = False, tz_name: str | None = None
) -> list[Block]:
    """The confirmation after `add` or `edit`: the note as saved, and its id for later edits."""
    title = "Note updated" if edited else "Note saved"
    return [
        _section(f":white_check_mark: {title} on *{escape(thread_label(thread))}*"),
        _note_section(note, tz_name),
        _context(f"Note id `{escape(note.id)}` · thread id `{escape(thread.id)}`"),
    ]


def _own_open(note: Note, thread: Thread, viewer_extension_id: str | None) -> bool:
    return (
        thread.is_open
        and note.availability == "Alive"
        and viewer_extension_id is not None
        and note.author is not None
        and note.author.extension_id == viewer_extension_id
    )


def notes_list(
    thread: Thread, notes: Sequence[Note], viewer_extension_id: str | None, tz_name: str | None
) -> list[Block]:
    """A thread's notes, newest last, author and time in the reader's zone, "(edited)" when changed; Edit
    (`note_edit`) and Delete (`note_delete`) buttons, value the note id, only on the reader's own notes of an
    Open thread. When they do not all fit, the oldest are left out and counted."""
    alive = sorted((n for n in notes if n.availability == "Alive"), key=lambda n: (n.creation_time, n.id))
    head: list[Block] = [_section(f"*Notes on {escape(thread_label(thread))}*")]
    if not thread.is_open:
        head.append(_context(":lock: This conversation is resolved; notes are closed."))
    if not alive:
        return [*head, _context("No notes on this conversation yet.")]
    room = MESSAGE_BLOCKS - len(head) - 1  # one for "… N earlier notes"
    chars = MESSAGE_TEXT_BUDGET
    chosen: list[list[Block]] = []
    for note in reversed(alive):
        section = _note_section(note, tz_name)
        group: list[Block] = [section]
        if _own_open(note, thread, viewer_extension_id):
            group.append(
                ActionsBlock(
                    elements=[
                        _button("Edit", NOTE_EDIT, note.id),
                        _button("Delete", NOTE_DELETE, note.id, style="danger"),
                    ]
                )
            )
        size = len(section.text.text) if section.text is not None else 0
        if len(group) > room or (chosen and size > chars):
            break
        chosen.append(group)
        room -= len(group)
        chars -= size
    blocks = head
    left_out = len(alive) - len(chosen)
    if left_out:
        blocks.append(_context(f"… and {_plural(left_out, 'earlier note')} not shown."))
    for group in reversed(chosen):
        blocks.extend(group)
    return blocks


def delete_confirm(note_ids: Sequence[str], previews: Mapping[str, str] | Sequence[Note]) -> list[Block]:
    """ "Delete 2 notes?" with a preview of each; Delete (danger, `note_delete_confirm`, value a JSON list
    of the ids) and Cancel (`note_delete_cancel`). `previews` maps note id to text, or is the notes."""
    texts = {n.id: n.text or "" for n in previews} if not isinstance(previews, Mapping) else dict(previews)
    value = json.dumps(list(note_ids), separators=(",", ":"))
    count = len(note_ids)
    question = "Delete this note?" if count == 1 else f"Delete {count:,} notes?"
    lines = []
    shown = list(note_ids[:10])
    for note_id in shown:
        preview = texts.get(note_id)
        lines.append("• " + (fit(" ".join(preview.split()), 200) if preview else f"note `{escape(note_id)}`"))
    if count > len(shown):
        lines.append(f"… and {count - len(shown):,} more")
    return [
        _section(f"*{question}*"),
        _section("\n".join(lines)),
        _context("This cannot be undone."),
        ActionsBlock(
            elements=[
                _button("Delete", NOTE_DELETE_CONFIRM, value, style="danger"),
                _button("Cancel", NOTE_DELETE_CANCEL, "cancel"),
            ]
        ),
    ]


# --- connecting ---------------------------------------------------------------------------------------------


def connect_prompt(authorize_url: str, pending: str | None = None) -> list[Block]:
    """A "Connect RingCentral" URL button (`connect_open`, primary); `pending` says what will be finished."""
    blocks: list[Block] = [
        _section(
            "Connect your RingCentral account first, so the notes you write from Slack are yours and "
            "RingCentral's own rules apply."
        ),
    ]
    if pending:
        blocks.append(_section(f"After you connect, I'll finish what you started: {fit(pending, 500)}"))
    blocks.append(
        ActionsBlock(
            elements=[_button("Connect RingCentral", CONNECT_OPEN, style="primary", url=authorize_url)]
        )
    )
    blocks.append(
        _context("The link works once and for a few minutes; `/thread-note connect` makes a new one.")
    )
    return blocks


def connected(extension_name: str | None, extension_id: str, *, finish: str | None = None) -> list[Block]:
    """You're connected as …; `finish` is the `/thread-note` text the person was trying when asked to connect
    (as Slack sent it): offered as a button (`pending_finish`, value the text) rather than run unasked."""
    who = escape(extension_name) if extension_name else "your extension"
    blocks: list[Block] = [
        _section(
            f":white_check_mark: You're connected to RingCentral as *{who}* "
            f"(extension id `{escape(extension_id)}`)."
        ),
    ]
    if finish and len(finish) <= BUTTON_VALUE:
        shown = fit(f"/thread-note {unescape(finish)}".replace("```", "`\u200b`\u200b`"), SECTION_TEXT - 60)
        blocks.append(
            _section(
                f"You were about to run:\n```{shown}```",
                _button("Finish it", PENDING_FINISH, finish, style="primary"),
            )
        )
    blocks.append(
        _context("Notes you add from Slack are written as you. `/thread-note disconnect` undoes this.")
    )
    return blocks


_CONNECT_FAILURES = {
    "missing_state": "The connect link was incomplete",
    "bad_state": "The connect link had expired or was already used",
    "denied": "You declined access in RingCentral",
    "no_code": "RingCentral did not send the sign-in back",
    "exchange_failed": "RingCentral did not accept the sign-in",
}


def connect_failed(reason: str) -> list[Block]:
    """Connecting did not work: why, in one sentence, and how to try again."""
    why = _CONNECT_FAILURES.get(reason, "Connecting did not work")
    return [
        _section(f":x: {why}, so your RingCentral account is not connected."),
        _context("Run `/thread-note connect` for a fresh link and try again."),
    ]


def disconnected(was_connected: bool = True) -> list[Block]:
    if not was_connected:
        return [_section("You weren't connected to RingCentral, so there was nothing to disconnect.")]
    return [
        _section("Disconnected: your RingCentral account is no longer linked and its tokens are revoked."),
        _context("`/thread-note connect` links it again."),
    ]


# --- errors -------------------------------------------------------------------------------------------------

ErrorKind = Literal[
    "thread_resolved",
    "not_author",
    "not_handler",
    "thread_not_found",
    "note_not_found",
    "rate_limited",
    "unavailable",
    "disconnected",
    "not_connected",
    "too_long",
    "invalid_input",
    "invalid_command",
    "ambiguous_thread",
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
        case "not_connected":
            return "Connect your RingCentral account first with `/thread-note connect`."
        case "too_long":
            return grammar.too_long_sentence(
                int(details.get("length", 0)), int(details.get("limit", NOTE_LIMIT))
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
        case "ambiguous_thread":
            return f"Several open conversations match {ref or 'that number'}; pick one, or use its thread id."
    return "Something went wrong on our side; please try again."


def error_message(kind: str, user_text: str | None = None, **details: Any) -> list[Block]:
    """The sentence, and what the person typed in a code block so nothing is lost (`user_text` as typed,
    i.e. unescaped; long text is split over several blocks)."""
    blocks: list[Block] = [_section(f":warning: {escape(error_sentence(kind, **details))}")]
    if user_text and user_text.strip():
        shown = user_text.strip().replace("```", "`\u200b`\u200b`")  # a fence inside would end the block
        blocks.append(_context("Here's what you typed, so you can copy it:"))
        chunk = SECTION_TEXT - 8
        rest = shown
        while rest and len(blocks) < MESSAGE_BLOCKS - 1:
            piece = fit(rest, chunk)
            if piece.endswith(ELLIPSIS) and len(escape(rest)) > chunk:
                piece = piece[: -len(ELLIPSIS)]
            taken = _raw_length(rest, piece)
            blocks.append(_section(f"```{piece}```"))
            rest = rest[taken:]
        if rest:
            blocks.append(_context(f"… and {len(rest):,} more characters."))
    return blocks


def _raw_length(raw: str, escaped_prefix: str) -> int:
    """How many characters of `raw` the escaped `escaped_prefix` holds."""
    size = 0
    for count, ch in enumerate(raw):
        size += len(escape(ch))
        if size > len(escaped_prefix):
            return count
    return len(raw)


# --- usage --------------------------------------------------------------------------------------------------

_WHAT = {
    "add": "Add a note to a conversation",
    "list": "Show a conversation's notes",
    "edit": "Change one of your notes",
    "delete": "Delete your notes (asks first)",
    "subscribe": (
        "Post a queue's notes into a channel; `two-way` turns replies in its threads into notes, "
        "`digest:09:00` posts a daily handoff digest, `quiet:22:00-07:00` holds notes for one summary "
        "(your Slack time zone, or `tz:`)"
    ),
    "unsubscribe": "Stop posting them",
    "subscriptions": "What this channel (or `all` channels) receives",
    "mute": "Stop notifications about one conversation",
    "unmute": "Resume them",
    "connect": "Link your RingCentral account",
    "disconnect": "Unlink it",
    "status": "Who you're connected as, and how the bot is doing",
    "help": "This card",
}


def usage_card(suggestion: str | None = None, *, word: str | None = None) -> list[Block]:
    """Every subcommand with an example; `suggestion` (and the unknown `word`) when the first word was
    wrong."""
    blocks: list[Block] = []
    if suggestion or word:
        said = f"`{escape(clip(word, 40))}` isn't a subcommand." if word else "I didn't understand that."
        near = f" Did you mean `/thread-note {escape(suggestion)}`?" if suggestion else ""
        blocks.append(_section(f":thinking_face: {said}{near}"))
    blocks.append(_header("/thread-note"))
    lines = []
    for name, (form, example) in grammar.USAGE.items():
        lines.append(
            f"`/thread-note {escape(form)}`\n      {_WHAT[name]}, e.g. `/thread-note {escape(example)}`"
        )
    for start in range(0, len(lines), 5):
        blocks.append(_section("\n".join(lines[start : start + 5])))
    blocks.append(
        _context(
            "A *thread* is a thread id or the customer's phone number in any format. "
            "A number with spaces: the longest run of leading words that makes a valid number is the thread, "
            "the rest is the note; "
            'quote it to be sure: `add "+49 30 1234567" 89 boxes`. Aliases: `new`, `ls`, `rm`, `subs`, `?`.'
        )
    )
    return blocks


# --- modals -------------------------------------------------------------------------------------------------


def _text_input(initial: str, block_id: str, *, hint: str | None = None) -> InputBlock:
    # No max_length: a prefilled message longer than 1,000 characters must still open (Slack refuses an
    # initial value over max_length), and the modal then shows our own error with an offer to trim.
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text="Note"),
        hint=PlainTextObject(text=hint) if hint else None,
        element=PlainTextInputElement(
            action_id=TEXT_INPUT,
            multiline=True,
            initial_value=initial[:INPUT_INITIAL] or None,
            placeholder=PlainTextObject(text="What should the next person know?"),
        ),
    )


def _length_hint(text: str) -> str:
    if len(text) > NOTE_LIMIT:
        return f"{grammar.too_long_sentence(len(text))} Shorten it, or use Trim below."
    return f"Up to {NOTE_LIMIT:,} characters. Notes are internal: customers never see them."


def save_note_modal(
    *,
    prefill_text: str,
    thread_option: Option | None = None,
    has_files: bool = False,
    error: str | None = None,
    private_metadata: str,
    text_version: int = 0,
) -> View:
    """The "Save as thread note" modal (callback `save_note`): a thread picker (`external_select`, block
    `thread`, action `thread_select`, results before typing), a fallback field for a thread id or phone number
    (block `thread_ref`), and the note text (block `text`, action `text_input`), prefilled.

    Text over 1,000 characters: the hint says so and a button is offered (`trim_text`). Slack keeps what
    is typed in an input across `views.update` unless its block id changes, so after trimming the listener
    passes `text_version=n+1` (block id `text-<n>`); `read_note_input` finds the text under either.
    """
    text_block = TEXT_BLOCK if text_version == 0 else f"{TEXT_BLOCK}-{text_version}"
    prefill = prefill_text
    blocks: list[Block] = []
    if error:
        blocks.append(_section(f":warning: {escape(error)}"))
    blocks.append(
        InputBlock(
            block_id=THREAD_BLOCK,
            label=PlainTextObject(text="Conversation"),
            optional=True,
            hint=PlainTextObject(
                text="Your assigned conversations first; type a number, name or queue to search."
            ),
            element=ExternalDataSelectElement(
                action_id=THREAD_SELECT,
                min_query_length=0,
                initial_option=thread_option,
                placeholder=PlainTextObject(text="Pick a conversation"),
            ),
        )
    )
    blocks.append(
        InputBlock(
            block_id=THREAD_REF_BLOCK,
            label=PlainTextObject(text="…or a thread id or phone number"),
            optional=True,
            element=PlainTextInputElement(
                action_id=THREAD_REF_INPUT, placeholder=PlainTextObject(text="+1 650 555 0101")
            ),
        )
    )
    blocks.append(_text_input(prefill, text_block, hint=_length_hint(prefill)))
    if len(prefill) > NOTE_LIMIT:
        blocks.append(
            ActionsBlock(elements=[_button(f"Trim to {NOTE_LIMIT:,} characters", SAVE_NOTE_TRIM, "trim")])
        )
    if has_files:
        blocks.append(
            _context(":paperclip: The message's files can't be attached: thread notes are text only.")
        )
    return View(
        type="modal",
        callback_id=SAVE_NOTE,
        title=PlainTextObject(text="Save as thread note"),
        submit=PlainTextObject(text="Save note"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
        private_metadata=_metadata(private_metadata),
    )


def note_edit_modal(note: Note, private_metadata: str, *, error: str | None = None) -> View:
    """Edit one's own note (callback `edit_note`, text block `text`)."""
    return _edit_view(note.text or "", private_metadata, error)


def _edit_view(text: str, private_metadata: str, error: str | None) -> View:
    blocks: list[Block] = []
    if error:
        blocks.append(_section(f":warning: {escape(error)}"))
    blocks.append(_text_input(text, TEXT_BLOCK, hint=_length_hint(text)))
    return View(
        type="modal",
        callback_id=EDIT_NOTE,
        title=PlainTextObject(text="Edit note"),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
        private_metadata=_metadata(private_metadata),
    )


def add_note_modal(
    thread: Thread, private_metadata: str, *, prefill_text: str = "", error: str | None = None
) -> View:
    """Add a note to a known thread (callback `add_note`, text block `text`); the thread is shown."""
    blocks: list[Block] = [_section(f"*{escape(thread_label(thread))}*")]
    if error:
        blocks.append(_section(f":warning: {escape(error)}"))
    blocks.append(_text_input(prefill_text, TEXT_BLOCK, hint=_length_hint(prefill_text)))
    return View(
        type="modal",
        callback_id=ADD_NOTE,
        title=PlainTextObject(text="Add note"),
        submit=PlainTextObject(text="Save note"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
        private_metadata=_metadata(private_metadata),
    )


def note_edit_modal_from(meta: Mapping[str, Any], text: str, *, error: str | None = None) -> View:
    """The edit modal again after a failed save, from its metadata (`{"note": id, …}`) and what was typed."""
    return _edit_view(text, json.dumps(dict(meta), separators=(",", ":")), error)


def _simple_modal(title: str, blocks: list[Block], close: str = "Close") -> View:
    return View(
        type="modal",
        title=PlainTextObject(text=clip(title, 24)),
        close=PlainTextObject(text=close),
        blocks=blocks,
    )


def connect_modal(authorize_url: str, pending: str | None = None) -> View:
    """The connect prompt inside a modal (the shortcut was used before connecting)."""
    return _simple_modal("Connect RingCentral", connect_prompt(authorize_url, pending))


def progress_modal(title: str, text: str) -> View:
    """A modal that says work is under way ("Saving your note…"); updated in place with the outcome."""
    return _simple_modal(title, [_section(f":hourglass_flowing_sand: {escape(text)}")])


def message_modal(title: str, text: str) -> View:
    """A modal with one sentence (e.g. an error) and a Close button."""
    return _simple_modal(title, [_section(escape(text))])


def done_modal(title: str, text: str, note: Note, thread: Thread | None = None) -> View:
    """The outcome of a modal: what happened and the note as saved."""
    blocks: list[Block] = [_section(f":white_check_mark: {escape(text)}")]
    if thread is not None:
        blocks.append(_context(escape(thread_label(thread))))
    blocks.append(_note_section(note, None))
    return _simple_modal(title, blocks, close="Done")


def progress(text: str) -> list[Block]:
    """A message that says work is under way ("Deleting…")."""
    return [_context(f":hourglass_flowing_sand: {escape(text)}")]


def deleted(count: int) -> list[Block]:
    return [_section(f":wastebasket: Deleted {_plural(count, 'note')}.")]


@dataclass(frozen=True)
class NoteModalInput:
    thread_id: str | None  # picked in the external select
    thread_ref: str | None  # typed in the fallback field (parse with grammar.parse_thread_ref)
    text: str  # trimmed; may be empty or too long: the listener answers with response_action "errors"
    text_block_id: str  # where to attach an error about the text


def read_note_input(values: Mapping[str, Any]) -> NoteModalInput:
    """What was entered in one of the note modals (`view["state"]["values"]`)."""
    picked = (values.get(THREAD_BLOCK, {}).get(THREAD_SELECT) or {}).get("selected_option") or {}
    typed = (values.get(THREAD_REF_BLOCK, {}).get(THREAD_REF_INPUT) or {}).get("value")
    text_block = next(
        (b for b in values if b == TEXT_BLOCK or b.startswith(TEXT_BLOCK + "-")),
        TEXT_BLOCK,
    )
    text = (values.get(text_block, {}).get(TEXT_INPUT) or {}).get("value") or ""
    return NoteModalInput(
        thread_id=picked.get("value") or None,
        thread_ref=(typed or "").strip() or None,
        text=str(text).strip(),
        text_block_id=text_block,
    )


# --- App Home and status ------------------------------------------------------------------------------------


def _connected_name(connected_as: str | tuple[str, str] | None) -> str | None:
    if isinstance(connected_as, tuple):
        extension_id, name = connected_as
        return f"{name} (extension id {extension_id})" if name else f"extension id {extension_id}"
    return connected_as


def home_view(
    *,
    connected_as: str | tuple[str, str] | None,
    connect_url: str | None,
    threads: Sequence[tuple[Thread, Note | None]],
    subscriptions: Sequence[tuple[str, str]] = (),
    tz_name: str | None = None,
) -> View:
    """The App Home tab: connection state (a `connect_open` button when not connected), the person's open and
    assigned threads with their latest note and an "Add note" button (`add_note_open`, value thread id), and
    the channels subscribed to their resources as (channel id, resource name). `connected_as` is a name or
    `Accounts.linked`'s (extension id, name)."""
    blocks: list[Block] = [_header("Thread notes")]
    name = _connected_name(connected_as)
    if name:
        blocks.append(_context(f":large_green_circle: Connected to RingCentral as *{escape(name)}*."))
    else:
        button = (
            _button("Connect RingCentral", CONNECT_OPEN, style="primary", url=connect_url)
            if connect_url
            else None
        )
        blocks.append(
            _section(
                "Connect your RingCentral account to add and see thread notes from Slack.", accessory=button
            )
        )
    sub_blocks: list[Block] = [DividerBlock(), _header("Subscribed channels")]
    if subscriptions:
        lines = [f"{_channel_mention(c)} · {escape(r)}" for c, r in subscriptions]
        shown = lines[:40]
        text = "\n".join(shown)
        if len(lines) > len(shown):
            text += f"\n… and {len(lines) - len(shown):,} more"
        sub_blocks.append(_section(text))
    else:
        sub_blocks.append(
            _context("No channel receives your queues' notes yet: `/thread-note subscribe` in a channel.")
        )

    blocks += [DividerBlock(), _header("Your open conversations")]
    if not threads:
        blocks.append(_context("No open conversations are assigned to you or waiting in your queues."))
    room = VIEW_BLOCKS - len(blocks) - len(sub_blocks) - 1
    shown_threads = threads if len(threads) <= room + 1 else threads[:room]
    for thread, latest in shown_threads:
        text = f"*{escape(thread_label(thread))}*"
        if latest is not None and latest.text:
            when = format_time(latest.creation_time, tz_name)
            text += f"\n_{escape(latest.author_name)} · {when}:_ {fit(' '.join(latest.text.split()), 300)}"
        else:
            text += "\n_No notes yet._"
        button = _button("Add note", HOME_ADD_NOTE, thread.id) if thread.is_open else None
        blocks.append(_section(text, accessory=button))
    if len(shown_threads) < len(threads):
        blocks.append(_context(f"… and {len(threads) - len(shown_threads):,} more open conversations."))
    return View(type="home", blocks=[*blocks, *sub_blocks])


def _describe(value: object, tz_name: str | None) -> str:
    if isinstance(value, bool):
        return ":white_check_mark: ok" if value else ":x: failing"
    if isinstance(value, datetime):
        return format_time(value, tz_name)
    if value is None:
        return "—"
    return escape(clip(str(value), 300))


def status_card(
    *,
    connected_as: str | tuple[str, str] | None,
    health: Mapping[str, object] | None = None,
    tz_name: str | None = None,
) -> list[Block]:
    """`/thread-note status`: who you are connected as, and each health check by name (booleans as ok /
    failing, times in your zone, anything else as text)."""
    name = _connected_name(connected_as)
    who = (
        f"You're connected to RingCentral as *{escape(name)}*."
        if name
        else ("You're not connected to RingCentral: `/thread-note connect`.")
    )
    blocks: list[Block] = [_header("thread-note status"), _section(who)]
    if health:
        lines = [f"*{escape(str(k).replace('_', ' '))}*: {_describe(v, tz_name)}" for k, v in _items(health)]
        blocks.append(_section("\n".join(lines[:30])))
    return blocks


def _items(health: Mapping[str, object]) -> Iterable[tuple[str, object]]:
    for key, value in health.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                yield f"{key} {sub}", inner
        else:
            yield key, value
