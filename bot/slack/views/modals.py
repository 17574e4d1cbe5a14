"""The modals: "Save as thread note" (from the message shortcut), add a note to a known conversation, edit
one's own note, and the small ones that say work is under way, what failed, or what was saved; and what was
entered in a note modal, read back (`read_note_input`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ExternalDataSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot import note_text
from bot.blockkit import ids
from bot.blockkit.limits import INPUT_INITIAL, MODAL_TITLE, OPTION_TEXT
from bot.blockkit.primitives import button, checked_metadata, context, section
from bot.blockkit.text import clip, escape
from bot.blockkit.threads import thread_label
from bot.ringcentral.models import Note, Thread
from bot.slack import grammar
from bot.slack.views.connect import connect_prompt
from bot.slack.views.notes import note_section


def thread_option(thread: Thread) -> Option:
    """An option for the thread picker (external select): the label within 75 characters, value the id."""
    return Option(
        text=PlainTextObject(text=clip(thread_label(thread), OPTION_TEXT), emoji=True), value=thread.id
    )


def _text_input(initial: str, block_id: str, *, hint: str | None = None) -> InputBlock:
    # No max_length: a prefilled message longer than 1,000 characters must still open (Slack refuses an
    # initial value over max_length), and the modal then shows our own error with an offer to trim.
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text="Note"),
        hint=PlainTextObject(text=hint) if hint else None,
        element=PlainTextInputElement(
            action_id=ids.TEXT_INPUT,
            multiline=True,
            initial_value=initial[:INPUT_INITIAL] or None,
            placeholder=PlainTextObject(text="What should the next person know?"),
        ),
    )


def _optional_input(
    block_id: str,
    label: str,
    element: ExternalDataSelectElement | PlainTextInputElement,
    *,
    hint: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=True,
        hint=PlainTextObject(text=hint) if hint else None,
        element=element,
    )


def _length_hint(text: str) -> str:
    if not note_text.fits(text, note_text.NOTE_TEXT_MAX):
        return f"{grammar.too_long_sentence(note_text.note_length(text))} Shorten it, or use Trim below."
    return f"Up to {note_text.NOTE_TEXT_MAX:,} characters. Notes are internal: customers never see them."


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
    text_block = ids.TEXT_BLOCK if text_version == 0 else f"{ids.TEXT_BLOCK}-{text_version}"
    prefill = prefill_text
    blocks: list[Block] = []
    if error:
        blocks.append(section(f":warning: {escape(error)}"))
    picker = ExternalDataSelectElement(
        action_id=ids.THREAD_SELECT,
        min_query_length=0,
        initial_option=thread_option,
        placeholder=PlainTextObject(text="Pick a conversation"),
    )
    hint = "Your assigned conversations first; type a number, name or queue to search."
    blocks.append(_optional_input(ids.THREAD_BLOCK, "Conversation", picker, hint=hint))
    typed = PlainTextInputElement(
        action_id=ids.THREAD_REF_INPUT, placeholder=PlainTextObject(text="+1 650 555 0101")
    )
    blocks.append(_optional_input(ids.THREAD_REF_BLOCK, "…or a thread id or phone number", typed))
    blocks.append(_text_input(prefill, text_block, hint=_length_hint(prefill)))
    if not note_text.fits(prefill, note_text.NOTE_TEXT_MAX):
        blocks.append(
            ActionsBlock(
                elements=[
                    button(f"Trim to {note_text.NOTE_TEXT_MAX:,} characters", ids.SAVE_NOTE_TRIM, "trim")
                ]
            )
        )
    if has_files:
        blocks.append(
            context(":paperclip: The message's files can't be attached: thread notes are text only.")
        )
    return _note_form(ids.SAVE_NOTE, "Save as thread note", "Save note", blocks, private_metadata)


def note_edit_modal(note: Note, private_metadata: str, *, error: str | None = None) -> View:
    """Edit one's own note (callback `edit_note`, text block `text`)."""
    return _edit_view(note.text or "", private_metadata, error)


def _edit_view(text: str, private_metadata: str, error: str | None) -> View:
    blocks: list[Block] = []
    if error:
        blocks.append(section(f":warning: {escape(error)}"))
    blocks.append(_text_input(text, ids.TEXT_BLOCK, hint=_length_hint(text)))
    return _note_form(ids.EDIT_NOTE, "Edit note", "Save", blocks, private_metadata)


def add_note_modal(
    thread: Thread, private_metadata: str, *, prefill_text: str = "", error: str | None = None
) -> View:
    """Add a note to a known thread (callback `add_note`, text block `text`); the thread is shown."""
    blocks: list[Block] = [section(f"*{escape(thread_label(thread))}*")]
    if error:
        blocks.append(section(f":warning: {escape(error)}"))
    blocks.append(_text_input(prefill_text, ids.TEXT_BLOCK, hint=_length_hint(prefill_text)))
    return _note_form(ids.ADD_NOTE, "Add note", "Save note", blocks, private_metadata)


def _note_form(callback_id: str, title: str, submit: str, blocks: list[Block], private_metadata: str) -> View:
    """A modal that saves a note: Cancel closes it, `private_metadata` carries what the listener needs."""
    return View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=title),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
        private_metadata=checked_metadata(private_metadata),
    )


def note_edit_modal_from(meta: Mapping[str, Any], text: str, *, error: str | None = None) -> View:
    """The edit modal again after a failed save, from its metadata (`{"note": id, …}`) and what was typed."""
    return _edit_view(text, json.dumps(dict(meta), separators=(",", ":")), error)


def _simple_modal(title: str, blocks: list[Block], close: str = "Close") -> View:
    return View(
        type="modal",
        title=PlainTextObject(text=clip(title, MODAL_TITLE)),
        close=PlainTextObject(text=close),
        blocks=blocks,
    )


def connect_modal(authorize_url: str, pending: str | None = None) -> View:
    """The connect prompt inside a modal (the shortcut was used before connecting)."""
    return _simple_modal("Connect RingCentral", connect_prompt(authorize_url, pending))


def progress_modal(title: str, text: str) -> View:
    """A modal that says work is under way ("Saving your note…"); updated in place with the outcome."""
    return _simple_modal(title, [section(f":hourglass_flowing_sand: {escape(text)}")])


def message_modal(title: str, text: str) -> View:
    """A modal with one sentence (e.g. an error) and a Close button."""
    return _simple_modal(title, [section(escape(text))])


def done_modal(title: str, text: str, note: Note, thread: Thread | None = None) -> View:
    """The outcome of a modal: what happened and the note as saved."""
    blocks: list[Block] = [section(f":white_check_mark: {escape(text)}")]
    if thread is not None:
        blocks.append(context(escape(thread_label(thread))))
    blocks.append(note_section(note, None))
    return _simple_modal(title, blocks, close="Done")


@dataclass(frozen=True)
class NoteModalInput:
    thread_id: str | None  # picked in the external select
    thread_ref: str | None  # typed in the fallback field (parse with grammar.parse_thread_ref)
    text: str  # trimmed; may be empty or too long: the listener answers with response_action "errors"
    text_block_id: str  # where to attach an error about the text


def read_note_input(values: Mapping[str, Any]) -> NoteModalInput:
    """What was entered in one of the note modals (`view["state"]["values"]`)."""
    picked = (values.get(ids.THREAD_BLOCK, {}).get(ids.THREAD_SELECT) or {}).get("selected_option") or {}
    typed = (values.get(ids.THREAD_REF_BLOCK, {}).get(ids.THREAD_REF_INPUT) or {}).get("value")
    text_block = next(
        (b for b in values if b == ids.TEXT_BLOCK or b.startswith(ids.TEXT_BLOCK + "-")),
        ids.TEXT_BLOCK,
    )
    text = (values.get(text_block, {}).get(ids.TEXT_INPUT) or {}).get("value") or ""
    return NoteModalInput(
        thread_id=picked.get("value") or None,
        thread_ref=(typed or "").strip() or None,
        text=str(text).strip(),
        text_block_id=text_block,
    )
