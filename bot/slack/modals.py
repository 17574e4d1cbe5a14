"""Modals: "Save as thread note" (the message shortcut), "Add note" and "Edit note".

The modal opens at once (a trigger_id lives 3 s); anything slow happens after, and the view is updated in
place. A submission is acknowledged by switching the modal to "Saving…"; the outcome then replaces it: a
confirmation, or the form again with the person's text and the reason beside the field. Nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Option
from slack_sdk.web.async_client import AsyncWebClient

from bot import note_text
from bot.blockkit.ids import (
    ADD_NOTE,
    EDIT_NOTE,
    SAVE_NOTE,
    SAVE_NOTE_TRIM,
    SAVE_SHORTCUT,
    THREAD_BLOCK,
    THREAD_REF_BLOCK,
    THREAD_SELECT,
)
from bot.logs import get_logger
from bot.note_text import NOTE_TEXT_MAX
from bot.ringcentral.errors import RingCentralError
from bot.ringcentral.models import Thread
from bot.service.errors import NotConnected, ServiceError
from bot.service.notes import filter_threads
from bot.service.types import Actor
from bot.slack import grammar, text
from bot.slack.deps import Deps
from bot.slack.errors import classify, error_sentence, guarded
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


def _actor(body: dict[str, Any]) -> Actor:
    user = body["user"]
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return Actor(str(team), str(user["id"]))


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


def register(app: AsyncApp, deps: Deps) -> None:
    guard = guarded(deps)

    @app.shortcut(SAVE_SHORTCUT)
    @guard
    async def save_as_note(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        deps.metrics.slack_requests.labels("shortcut").inc()
        actor = _actor(body)
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
        # Now the slower parts: names for mentions, the permalink, a thread already linked to this
        # conversation.
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

    @app.options(THREAD_SELECT)
    async def thread_options(ack: Any, body: dict[str, Any]) -> None:
        deps.metrics.slack_requests.labels("options").inc()
        actor = _actor(body)
        try:
            threads = await asyncio.wait_for(suggestions(deps, actor), OPTIONS_BUDGET)
        except (TimeoutError, NotConnected, RingCentralError) as exc:
            log.info("options.unavailable", error=type(exc).__name__)
            await ack(options=[])
            return
        matched = filter_threads(threads, str(body.get("value") or ""))
        await ack(options=[thread_option(t) for t in matched[:100]])

    @app.view(SAVE_NOTE)
    @guard
    async def save_note(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        await _submit_note(ack, body, view, client, deps, fixed_thread=None, source="shortcut")

    @app.view(ADD_NOTE)
    @guard
    async def add_note(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        await _submit_note(ack, body, view, client, deps, fixed_thread=meta.get("thread"), source="modal")

    @app.view(EDIT_NOTE)
    @guard
    async def edit_note(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        deps.metrics.slack_requests.labels("view_submission").inc()
        entered = _input(view)
        if problem := _text_problem(entered.text):
            await ack(response_action="errors", errors={entered.text_block_id: problem})
            return
        await ack(response_action="update", view=progress_modal("Edit note", "Saving your change…"))
        meta = json.loads(view.get("private_metadata") or "{}")
        try:
            note = await deps.notes.edit(_actor(body), meta["note"], entered.text)
        except (ServiceError, RingCentralError) as exc:
            kind, details = classify(exc)
            again = note_edit_modal_from(
                meta, entered.text, error=error_sentence(kind, **details)
            )
            await update_view(client, body["view"]["id"], again)
            return
        await update_view(
            client, body["view"]["id"], done_modal("Edit note", "Your change is saved.", note)
        )

    @app.action(SAVE_NOTE_TRIM)
    @guard
    async def trim(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body["view"]
        entered = _input(view)
        trimmed = text.trim_to_limit(entered.text, NOTE_TEXT_MAX)
        # A new block id: Slack keeps what was typed in an input across views.update unless its id changes.
        await update_view(
            client,
            view["id"],
            save_note_modal(
                prefill_text=trimmed,
                thread_option=_selected_option(view),
                private_metadata=view.get("private_metadata") or "{}",
                text_version=_text_version(entered.text_block_id) + 1,
            ),
        )


def _text_problem(typed: str) -> str | None:
    if not typed.strip():
        return "Write the note first; it can't be empty."
    if not note_text.fits(typed, NOTE_TEXT_MAX):
        return grammar.too_long_sentence(note_text.note_length(typed), NOTE_TEXT_MAX)
    return None


async def _submit_note(
    ack: Any,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    deps: Deps,
    *,
    fixed_thread: str | None,
    source: str,
) -> None:
    deps.metrics.slack_requests.labels("view_submission").inc()
    entered = _input(view)
    metadata = view.get("private_metadata") or "{}"
    ref: dict[str, str] | None = {"thread_id": fixed_thread} if fixed_thread else None
    if ref is None and entered.thread_id:
        ref = {"thread_id": entered.thread_id}
    if ref is None and entered.thread_ref:
        parsed = grammar.parse_thread_ref(entered.thread_ref)
        if parsed is None:
            await ack(
                response_action="errors",
                errors={
                    THREAD_REF_BLOCK: "That is neither a thread id "
                    "nor a phone number; pick the conversation above instead."
                },
            )
            return
        ref = parsed.as_kwargs()
    if ref is None:
        await ack(
            response_action="errors",
            errors={THREAD_BLOCK: "Pick the conversation this note belongs to."},
        )
        return
    if not note_text.fits(entered.text) and not fixed_thread:  # the count, and an offer to trim
        await ack(
            response_action="update",
            view=save_note_modal(
                prefill_text=entered.text,
                thread_option=_selected_option(view),
                private_metadata=metadata,
                error=_text_problem(entered.text),
                text_version=_text_version(entered.text_block_id) + 1,
            ),
        )
        return
    if problem := _text_problem(entered.text):
        await ack(response_action="errors", errors={entered.text_block_id: problem})
        return
    title = "Save as thread note" if not fixed_thread else "Add note"
    await ack(response_action="update", view=progress_modal(title, "Saving your note…"))
    actor = _actor(body)
    view_id = body["view"]["id"]
    try:
        note, thread = await deps.notes.add(actor, entered.text, source=source, **ref)
    except (ServiceError, RingCentralError) as exc:
        # The failure belongs in the modal the person is looking at, next to the form, with their text kept.
        kind, details = classify(exc)
        sentence = error_sentence(kind, **details)
        if fixed_thread:
            thread_meta = json.loads(metadata)
            again = message_modal(title, sentence)
            with contextlib.suppress(ServiceError, RingCentralError):
                current = await deps.notes.find_thread(actor, thread_id=thread_meta["thread"])
                again = add_note_modal(current, metadata, prefill_text=entered.text, error=sentence)
        else:
            again = save_note_modal(
                prefill_text=entered.text,
                thread_option=_selected_option(view),
                private_metadata=metadata,
                error=sentence,
                text_version=_text_version(entered.text_block_id) + 1,
            )
        await update_view(client, view_id, again)
        return
    deps.thread_cache.pop(actor, None)
    await update_view(client, view_id, done_modal(title, "Your note is saved.", note, thread))
    meta = json.loads(metadata)
    if meta.get("c"):
        await tell_user(
            client,
            actor.user_id,
            note_saved(note, thread),
            "Note saved",
            channel_id=meta["c"],
            thread_ts=meta.get("tts"),
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
