"""Modals: "Save as thread note" (the message shortcut), "Add note" and "Edit note".

The modal opens at once (a trigger_id lives 3 s); anything slow happens after, and the view is updated in
place (`loading_modal` for the buttons that open "Add note" and "Edit note"). A submission is acknowledged
by switching the modal to "Saving…"; the outcome then replaces it: a confirmation, or the form again with the
person's text and the reason beside the field (`attempt`, bot/slack/errors.py). Nothing is lost. The
conversation picker's options (`thread_options`) are answered within Slack's 3 s, empty rather than late.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Option
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot import note_text
from bot.blockkit.ids import THREAD_BLOCK, THREAD_REF_BLOCK, THREAD_SELECT
from bot.logs import get_logger
from bot.note_text import NOTE_TEXT_MAX
from bot.ringcentral.errors import RingCentralError
from bot.ringcentral.models import Thread
from bot.service.errors import NotConnected, ServiceError
from bot.service.notes import filter_threads
from bot.service.types import Actor
from bot.slack import grammar, text
from bot.slack.deps import Deps
from bot.slack.errors import Refusal, attempt
from bot.slack.replies import GUEST_SENTENCE, from_elsewhere, tell_user, update_view, user_names
from bot.slack.views.modals import (
    NoteModalInput,
    add_note_modal,
    connect_modal,
    done_modal,
    message_modal,
    note_edit_modal_from,
    progress_modal,
    read_note_input,
    save_note_modal,
    thread_option,
)
from bot.slack.views.notes import note_saved

log = get_logger(__name__)

OPTIONS_BUDGET = 2.5  # seconds: options must be answered within Slack's 3 s


def _input(view: dict[str, Any]) -> NoteModalInput:
    return read_note_input(view.get("state", {}).get("values", {}))


def _selected_option(view: dict[str, Any]) -> Option | None:
    """The picked conversation as an Option, to keep it selected when the modal is shown again."""
    values = view.get("state", {}).get("values", {})
    picked = values.get(THREAD_BLOCK, {}).get(THREAD_SELECT, {}).get("selected_option")
    if not picked:
        return None
    return Option(value=picked["value"], text=(picked.get("text") or {}).get("text") or picked["value"])


def _text_version(block_id: str) -> int:
    _, _, tail = block_id.partition("-")
    return int(tail) if tail.isdigit() else 0


async def suggestions(deps: Deps, actor: Actor) -> list[Thread]:
    cached = deps.thread_cache.get(actor)
    if cached is None:
        cached = await deps.notes.suggest_threads(actor)
        deps.thread_cache[actor] = cached
    return list(cached)


async def loading_modal(
    client: AsyncWebClient, trigger_id: str, title: str, loading: str, form: Callable[[], Awaitable[View]]
) -> None:
    """Open a modal saying `loading` at once (a trigger_id lives 3 s), then show the view `form` builds from
    RingCentral, or the sentence of its refusal."""
    opened = await client.views_open(trigger_id=trigger_id, view=progress_modal(title, loading))
    built = await attempt(form())
    shown = message_modal(title, built.sentence) if isinstance(built, Refusal) else built
    await update_view(client, opened["view"]["id"], shown)


async def save_as_note(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], client: AsyncWebClient
) -> None:
    """The message shortcut: the form opens at once, prefilled with the message; then the slower parts."""
    await ack()
    deps.metrics.slack_requests.labels("shortcut").inc()
    message = body.get("message") or {}
    channel = body.get("channel") or {}
    metadata = json.dumps(
        {
            "c": channel.get("id"),
            "ts": message.get("ts"),
            "tts": message.get("thread_ts") or message.get("ts"),
        }
    )
    has_files = bool(message.get("files"))
    first = text.message_to_plain(message.get("text") or "", {})
    opened = await client.views_open(
        trigger_id=body["trigger_id"],
        view=save_note_modal(
            prefill_text=note_text.cut(first), has_files=has_files, private_metadata=metadata
        ),
    )
    view = opened["view"]
    if await deps.accounts.linked(actor) is None:
        if await from_elsewhere(client, actor):  # a guest of another organisation: no connect link
            await update_view(client, view["id"], message_modal("Not available", GUEST_SENTENCE))
            return
        url = await deps.accounts.connect_url(actor, {"kind": "shortcut"})
        await update_view(client, view["id"], connect_modal(url))
        return
    # Now the slower parts: names for mentions, the permalink, a thread already linked to this conversation.
    mentioned = text.mentioned_user_ids(message.get("text") or "")
    names = await user_names(client, [*mentioned, *([message["user"]] if message.get("user") else [])])
    permalink = await _permalink(client, channel.get("id"), message.get("ts"))
    prefill = text.prefill_from_message(
        message, names, permalink, channel.get("name"), names.get(message.get("user") or "")
    )
    linked = await _linked_thread(deps, actor, channel.get("id"), message.get("thread_ts"))
    await update_view(
        client,
        view["id"],
        save_note_modal(
            prefill_text=prefill,
            has_files=has_files,
            private_metadata=metadata,
            thread_option=thread_option(linked) if linked else None,
        ),
        hash_=view.get("hash"),
    )


async def thread_options(deps: Deps, actor: Actor, ack: Any, body: dict[str, Any]) -> None:
    """The conversation picker's options, answered within Slack's 3 s: nothing rather than late."""
    deps.metrics.slack_requests.labels("options").inc()
    try:
        threads = await asyncio.wait_for(suggestions(deps, actor), OPTIONS_BUDGET)
    except (TimeoutError, NotConnected, RingCentralError) as exc:
        log.info("options.unavailable", error=type(exc).__name__)
        await ack(options=[])
        return
    matched = filter_threads(threads, str(body.get("value") or ""))
    await ack(options=[thread_option(t) for t in matched[:100]])


async def save_note(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
) -> None:
    await _submit_note(deps, actor, ack, body, view, client, fixed_thread=None, source="shortcut")


async def add_note(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
) -> None:
    meta = json.loads(view.get("private_metadata") or "{}")
    await _submit_note(deps, actor, ack, body, view, client, fixed_thread=meta.get("thread"), source="modal")


async def edit_note(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
) -> None:
    deps.metrics.slack_requests.labels("view_submission").inc()
    entered = _input(view)
    if problem := _text_problem(entered.text):
        await ack(response_action="errors", errors={entered.text_block_id: problem})
        return
    await ack(response_action="update", view=progress_modal("Edit note", "Saving your change…"))
    meta = json.loads(view.get("private_metadata") or "{}")
    edited = await attempt(deps.notes.edit(actor, meta["note"], entered.text))
    if isinstance(edited, Refusal):
        shown = note_edit_modal_from(meta, entered.text, error=edited.sentence)
    else:
        shown = done_modal("Edit note", "Your change is saved.", edited)
    await update_view(client, body["view"]["id"], shown)


async def trim(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
    """ "Trim to 1,000 characters": the form again, its text cut to the limit."""
    await ack()
    view = body["view"]
    await update_view(
        client, view["id"], _save_form(view, text.trim_to_limit(_input(view).text, NOTE_TEXT_MAX))
    )


def _text_problem(typed: str) -> str | None:
    if not typed.strip():
        return "Write the note first; it can't be empty."
    if not note_text.fits(typed, NOTE_TEXT_MAX):
        return grammar.too_long_sentence(note_text.note_length(typed), NOTE_TEXT_MAX)
    return None


async def _submit_note(
    deps: Deps,
    actor: Actor,
    ack: Any,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    *,
    fixed_thread: str | None,
    source: str,
) -> None:
    deps.metrics.slack_requests.labels("view_submission").inc()
    entered = _input(view)
    ref = _thread_ref(entered, fixed_thread)
    if ref is None:
        await ack(response_action="errors", errors=_no_thread(entered))
        return
    if (sent_back := _sent_back(entered, view, fixed_thread)) is not None:
        await ack(**sent_back)
        return
    title = "Save as thread note" if not fixed_thread else "Add note"
    await ack(response_action="update", view=progress_modal(title, "Saving your note…"))
    added = await attempt(deps.notes.add(actor, entered.text, source=source, **ref))
    if isinstance(added, Refusal):
        # The failure belongs in the modal the person is looking at, next to the form, with their text kept.
        again = await _form_again(deps, actor, view, title, added.sentence, fixed_thread)
        await update_view(client, body["view"]["id"], again)
        return
    note, thread = added
    deps.thread_cache.pop(actor, None)
    await update_view(client, body["view"]["id"], done_modal(title, "Your note is saved.", note, thread))
    meta = json.loads(view.get("private_metadata") or "{}")
    if meta.get("c"):
        await tell_user(
            client,
            actor.user_id,
            note_saved(note, thread),
            "Note saved",
            channel_id=meta["c"],
            thread_ts=meta.get("tts"),
        )


def _thread_ref(entered: NoteModalInput, fixed_thread: str | None) -> dict[str, str] | None:
    """The conversation to save under: the modal's own, the one picked, or a thread id or phone number."""
    if fixed_thread:
        return {"thread_id": fixed_thread}
    if entered.thread_id:
        return {"thread_id": entered.thread_id}
    parsed = grammar.parse_thread_ref(entered.thread_ref) if entered.thread_ref else None
    return parsed.as_kwargs() if parsed else None


def _no_thread(entered: NoteModalInput) -> dict[str, str]:
    """What to say beside the field when no conversation is given, or what was typed names none."""
    if entered.thread_ref:
        return {
            THREAD_REF_BLOCK: "That is neither a thread id "
            "nor a phone number; pick the conversation above instead."
        }
    return {THREAD_BLOCK: "Pick the conversation this note belongs to."}


def _sent_back(
    entered: NoteModalInput, view: dict[str, Any], fixed_thread: str | None
) -> dict[str, Any] | None:
    """The acknowledgement that sends a text that can't be saved back: over the limit in the shortcut's
    form, the count and an offer to trim; else the reason beside the field."""
    if not note_text.fits(entered.text) and not fixed_thread:
        return {
            "response_action": "update",
            "view": _save_form(view, entered.text, _text_problem(entered.text)),
        }
    if problem := _text_problem(entered.text):
        return {"response_action": "errors", "errors": {entered.text_block_id: problem}}
    return None


async def _form_again(
    deps: Deps, actor: Actor, view: dict[str, Any], title: str, sentence: str, fixed_thread: str | None
) -> View:
    """The form the person submitted, their text kept and `sentence` beside it (the conversation of "Add
    note" is looked up again; if that fails too, the sentence alone)."""
    entered = _input(view)
    if not fixed_thread:
        return _save_form(view, entered.text, sentence)
    metadata = view.get("private_metadata") or "{}"
    current = await attempt(deps.notes.find_thread(actor, thread_id=json.loads(metadata)["thread"]))
    if isinstance(current, Refusal):
        return message_modal(title, sentence)
    return add_note_modal(current, metadata, prefill_text=entered.text, error=sentence)


def _save_form(view: dict[str, Any], prefill: str, error: str | None = None) -> View:
    """The "Save as thread note" form again, with `prefill` and the conversation picked kept. A new text
    block id: Slack keeps what was typed in an input across views.update unless its id changes."""
    return save_note_modal(
        prefill_text=prefill,
        thread_option=_selected_option(view),
        private_metadata=view.get("private_metadata") or "{}",
        error=error,
        text_version=_text_version(_input(view).text_block_id) + 1,
    )


async def _permalink(client: AsyncWebClient, channel: str | None, ts: str | None) -> str | None:
    if not channel or not ts:
        return None
    try:
        return str((await client.chat_getPermalink(channel=channel, message_ts=ts)).get("permalink"))
    except SlackApiError:
        return None


async def _linked_thread(
    deps: Deps, actor: Actor, channel: str | None, thread_ts: str | None
) -> Thread | None:
    """The RingCentral thread whose notifications live in this Slack thread, if the feed knows one."""
    if not channel or not thread_ts:
        return None
    thread_id = await deps.subscriptions.thread_for_slack_thread(actor.team_id, channel, thread_ts)
    if not thread_id:
        return None
    try:
        return await deps.notes.find_thread(actor, thread_id=thread_id)
    except (ServiceError, RingCentralError):
        return None
