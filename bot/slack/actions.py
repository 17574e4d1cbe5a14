"""Buttons on the bot's own messages: edit and delete a note, pick a conversation, finish after connecting."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit.ids import (
    ADD_NOTE_OPEN,
    CONNECT_OPEN,
    NOTE_DELETE,
    NOTE_DELETE_CANCEL,
    NOTE_DELETE_CONFIRM,
    NOTE_EDIT,
    PENDING_FINISH,
    THREAD_PICK,
)
from bot.ringcentral.errors import RingCentralError
from bot.service.errors import ServiceError
from bot.service.types import Actor
from bot.slack import grammar
from bot.slack.commands import run
from bot.slack.deps import Deps
from bot.slack.errors import classify, error_sentence, guarded
from bot.slack.replies import Reply, update_view
from bot.slack.views.modals import add_note_modal, message_modal, note_edit_modal, progress_modal
from bot.slack.views.notes import delete_confirm, deleted, progress


def _actor(body: dict[str, Any]) -> Actor:
    user = body["user"]
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return Actor(str(team), str(user["id"]))


def _value(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("value") or "")


async def _carry_on(
    deps: Deps, body: dict[str, Any], cmd: grammar.Command, respond: Any, client: AsyncWebClient
) -> None:
    """Run a command the person started earlier (from a button), answering where they clicked."""
    channel_id = (body.get("channel") or {}).get("id")
    await run(deps, _actor(body), cmd, Reply(respond), client=client, channel_id=channel_id)


def register(app: AsyncApp, deps: Deps) -> None:
    guard = guarded(deps)

    @app.action(CONNECT_OPEN)
    async def connect_open(ack: Any) -> None:
        await ack()  # a link button: Slack opens the URL; nothing to do here

    @app.action(NOTE_EDIT)
    @guard
    async def note_edit(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        deps.metrics.slack_requests.labels("action").inc()
        opened = await client.views_open(
            trigger_id=body["trigger_id"], view=progress_modal("Edit note", "Loading the note…")
        )
        view_id = opened["view"]["id"]
        actor = _actor(body)
        try:
            notes = await deps.notes.get_notes(actor, [_value(body)])
            if not notes:
                raise_kind = "note_not_found"
                await update_view(
                    client, view_id, message_modal("Edit note", error_sentence(raise_kind))
                )
                return
        except (ServiceError, RingCentralError) as exc:
            kind, details = classify(exc)
            await update_view(
                client, view_id, message_modal("Edit note", error_sentence(kind, **details))
            )
            return
        note = notes[0]
        meta = json.dumps({"note": note.id, "thread": note.thread_id})
        await update_view(client, view_id, note_edit_modal(note, private_metadata=meta))

    @app.action(NOTE_DELETE)
    @guard
    async def note_delete(ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        await ack()
        deps.metrics.slack_requests.labels("action").inc()
        actor = _actor(body)
        notes = await deps.notes.get_notes(actor, [_value(body)])
        await Reply(respond)(delete_confirm([n.id for n in notes], notes), "Delete this note?")

    @app.action(NOTE_DELETE_CONFIRM)
    @guard
    async def note_delete_confirm(
        ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        await ack()
        deps.metrics.slack_requests.labels("action").inc()
        ids = list(json.loads(_value(body)))
        await Reply(respond, replace_original=True)(progress("Deleting…"), "Deleting…")
        await deps.notes.delete(_actor(body), ids)
        await Reply(respond, replace_original=True)(deleted(len(ids)), f"Deleted {len(ids)} note(s)")

    @app.action(NOTE_DELETE_CANCEL)
    @guard
    async def note_delete_cancel(
        ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        await ack()
        await respond(delete_original=True)

    @app.action(THREAD_PICK)
    @guard
    async def thread_pick(ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        """Several conversations matched a phone number: carry on with the one the person picked."""
        await ack()
        picked = json.loads(_value(body))
        cmd = grammar.parse(picked.get("c") or "")
        if isinstance(cmd, grammar.Add | grammar.List):
            cmd = dataclasses.replace(cmd, thread=grammar.ThreadId(picked["t"]))
        await _carry_on(deps, body, cmd, respond, client)

    @app.action(PENDING_FINISH)
    @guard
    async def pending_finish(ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        """After connecting: finish the command the person was trying when we asked them to connect."""
        await ack()
        await _carry_on(deps, body, grammar.parse(_value(body)), respond, client)

    @app.action(ADD_NOTE_OPEN)
    @guard
    async def add_note_open(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        deps.metrics.slack_requests.labels("action").inc()
        opened = await client.views_open(
            trigger_id=body["trigger_id"], view=progress_modal("Add note", "Loading the conversation…")
        )
        view_id = opened["view"]["id"]
        try:
            thread = await deps.notes.find_thread(_actor(body), thread_id=_value(body))
        except (ServiceError, RingCentralError) as exc:
            kind, details = classify(exc)
            await update_view(
                client, view_id, message_modal("Add note", error_sentence(kind, **details))
            )
            return
        await update_view(
            client, view_id, add_note_modal(thread, private_metadata=json.dumps({"thread": thread.id}))
        )
