"""Buttons on the bot's own messages: edit and delete a note, pick a conversation, finish after connecting."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.service.errors import NoteNotFound
from bot.service.types import Actor
from bot.slack import grammar
from bot.slack.commands import run
from bot.slack.deps import Deps
from bot.slack.modals import loading_modal
from bot.slack.notifications import own_notification
from bot.slack.replies import Asker, Reply
from bot.slack.views.modals import add_note_modal, note_edit_modal
from bot.slack.views.notes import delete_confirm, deleted, progress


def _value(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("value") or "")


async def connect_open(ack: Any) -> None:
    await ack()  # a link button: Slack opens the URL; nothing to do here


async def note_edit(deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
    await ack()
    deps.metrics.slack_requests.labels("action").inc()

    async def form() -> View:
        notes = await deps.notes.get_notes(actor, [_value(body)])
        if not notes:
            raise NoteNotFound([])
        meta = json.dumps({"note": notes[0].id, "thread": notes[0].thread_id})
        return note_edit_modal(notes[0], private_metadata=meta)

    await loading_modal(client, body["trigger_id"], "Edit note", "Loading the note…", form)


async def add_note_open(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await ack()
    deps.metrics.slack_requests.labels("action").inc()

    async def form() -> View:
        await own_notification(deps, actor, body)  # "Add note" on a channel notification
        thread = await deps.notes.find_thread(actor, thread_id=_value(body))
        return add_note_modal(thread, private_metadata=json.dumps({"thread": thread.id}))

    await loading_modal(client, body["trigger_id"], "Add note", "Loading the conversation…", form)


async def note_delete(deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], respond: Any) -> None:
    await ack()
    deps.metrics.slack_requests.labels("action").inc()
    notes = await deps.notes.get_notes(actor, [_value(body)])
    await Reply(respond)(delete_confirm([n.id for n in notes], notes), "Delete this note?")


async def note_delete_confirm(deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], respond: Any) -> None:
    await ack()
    deps.metrics.slack_requests.labels("action").inc()
    ids = list(json.loads(_value(body)))
    await Reply(respond, replace_original=True)(progress("Deleting…"), "Deleting…")
    await deps.notes.delete(actor, ids)
    await Reply(respond, replace_original=True)(deleted(len(ids)), f"Deleted {len(ids)} note(s)")


async def note_delete_cancel(ack: Any, respond: Any) -> None:
    await ack()
    await respond(delete_original=True)


async def thread_pick(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
) -> None:
    """Several conversations matched a phone number: carry on with the one the person picked."""
    await ack()
    picked = json.loads(_value(body))
    cmd = grammar.parse(picked.get("c") or "")
    if isinstance(cmd, grammar.Add | grammar.List):
        cmd = dataclasses.replace(cmd, thread=grammar.ThreadId(picked["t"]))
    await run(deps, cmd, _where_clicked(actor, body, respond, client))


async def pending_finish(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
) -> None:
    """After connecting: finish the command the person was trying when we asked them to connect."""
    await ack()
    await run(deps, grammar.parse(_value(body)), _where_clicked(actor, body, respond, client))


def _where_clicked(actor: Actor, body: dict[str, Any], respond: Any, client: AsyncWebClient) -> Asker:
    """A command the person started earlier, carried on from a button: answered where they clicked."""
    return Asker(actor, Reply(respond), client, (body.get("channel") or {}).get("id"))
