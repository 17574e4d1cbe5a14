"""A conversation's notes and the answers about them: a note as saved, a thread's notes, "Delete these?",
"which conversation?" when a number matches several, and progress and outcome lines. Pure functions, data in,
blocks out; times in the reader's zone, English and locale-free.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.blocks import ActionsBlock, Block, SectionBlock

from bot.blockkit import ids
from bot.blockkit.limits import BUTTON_VALUE, MESSAGE_BLOCKS, MESSAGE_TEXT_BUDGET, SECTION_TEXT
from bot.blockkit.primitives import button, context, section
from bot.blockkit.text import escape, fit
from bot.blockkit.threads import thread_label
from bot.ringcentral.models import Note, Thread
from bot.slack.views.sentences import warning

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


def thread_choices(
    threads: Sequence[Thread], reference: str | None = None, *, pending_text: str | None = None
) -> list[Block]:
    """Several open threads match a phone number: one "Choose" button (`thread_pick`) per thread. Its value is
    JSON `{"t": thread id, "c": pending_text}`: the command to carry on with travels with the choice. When the
    text does not fit a button value (2,000 characters) it is left out and shown to copy instead."""
    what = f"*{escape(reference)}*" if reference else "That number"
    blocks: list[Block] = [
        section(f"{what} matches {_plural(len(threads), 'open conversation')}; which one?")
    ]

    def value(thread_id: str, with_text: bool) -> str:
        data = {"t": thread_id, "c": pending_text} if with_text and pending_text else {"t": thread_id}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    carry = all(len(value(t.id, True)) <= BUTTON_VALUE for t in threads)
    tail = 0 if carry or not pending_text else 3
    room = MESSAGE_BLOCKS - 2 - tail
    shown = threads if len(threads) <= room + 1 else threads[:room]
    for thread in shown:
        choose = button("Choose", ids.THREAD_PICK, value(thread.id, carry))
        blocks.append(section(fit(thread_label(thread), 500), accessory=choose))
    if len(shown) < len(threads):
        more = len(threads) - len(shown)
        blocks.append(context(f"… and {more:,} more; use the thread id to pick one of them."))
    if tail and pending_text:
        blocks.extend(
            warning(
                "Your text is too long to carry over; copy it and run the command again with the thread id.",
                pending_text,
            )[:3]
        )
    return blocks


def note_section(note: Note, tz_name: str | None, budget: int = SECTION_TEXT) -> SectionBlock:
    head = f"*{escape(note.author_name)}* · {format_time(note.creation_time, tz_name)}"
    if note.edited:
        head += " (edited)"
    body = fit(note.text or "", budget - len(head) - 1, quote=True) if note.text else "_(empty)_"
    return section(f"{head}\n{body}")


def note_saved(
    note: Note, thread: Thread, *, edited: bool = False, tz_name: str | None = None
) -> list[Block]:
    """The confirmation after `add` or `edit`: the note as saved, and its id for later edits."""
    title = "Note updated" if edited else "Note saved"
    return [
        section(f":white_check_mark: {title} on *{escape(thread_label(thread))}*"),
        note_section(note, tz_name),
        context(f"Note id `{escape(note.id)}` · thread id `{escape(thread.id)}`"),
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
    head: list[Block] = [section(f"*Notes on {escape(thread_label(thread))}*")]
    if not thread.is_open:
        head.append(context(":lock: This conversation is resolved; notes are closed."))
    if not alive:
        return [*head, context("No notes on this conversation yet.")]
    room = MESSAGE_BLOCKS - len(head) - 1  # one for "… N earlier notes"
    chars = MESSAGE_TEXT_BUDGET
    chosen: list[list[Block]] = []
    for note in reversed(alive):
        note_block = note_section(note, tz_name)
        group: list[Block] = [note_block]
        if _own_open(note, thread, viewer_extension_id):
            group.append(
                ActionsBlock(
                    elements=[
                        button("Edit", ids.NOTE_EDIT, note.id),
                        button("Delete", ids.NOTE_DELETE, note.id, style="danger"),
                    ]
                )
            )
        size = len(note_block.text.text) if note_block.text is not None else 0
        if len(group) > room or (chosen and size > chars):
            break
        chosen.append(group)
        room -= len(group)
        chars -= size
    blocks = head
    left_out = len(alive) - len(chosen)
    if left_out:
        blocks.append(context(f"… and {_plural(left_out, 'earlier note')} not shown."))
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
        section(f"*{question}*"),
        section("\n".join(lines)),
        context("This cannot be undone."),
        ActionsBlock(
            elements=[
                button("Delete", ids.NOTE_DELETE_CONFIRM, value, style="danger"),
                button("Cancel", ids.NOTE_DELETE_CANCEL, "cancel"),
            ]
        ),
    ]


def progress(text: str) -> list[Block]:
    """A message that says work is under way ("Deleting…")."""
    return [context(f":hourglass_flowing_sand: {escape(text)}")]


def deleted(count: int) -> list[Block]:
    return [section(f":wastebasket: Deleted {_plural(count, 'note')}.")]
