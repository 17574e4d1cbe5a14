"""`/thread-note`: parse, acknowledge at once, then do the work and answer the person privately.

Answers that need nothing from RingCentral (help, an unknown subcommand, a malformed one) go in the
acknowledgement itself; everything else is acknowledged with a short "working on it" line first, so a slow
RingCentral can never break Slack's 3-second rule. Failures are raised to the one error handler
(bot/slack/errors.py), which answers with one sentence and the person's own text to copy.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit.text import unescape
from bot.service.types import Actor
from bot.slack import grammar
from bot.slack.deps import Deps
from bot.slack.errors import error_message
from bot.slack.replies import GUEST_SENTENCE, Asker, Reply, from_elsewhere, plain_text, user_tz
from bot.slack.setup import setup_command
from bot.slack.views.connect import connect_prompt, disconnected
from bot.slack.views.home import status_card
from bot.slack.views.notes import delete_confirm, note_saved, notes_list
from bot.slack.views.sentences import notice
from bot.slack.views.usage import usage_card
from bot.store import UndecryptableSecret

PROGRESS = {
    grammar.Add: "Saving your note…",
    grammar.Edit: "Saving your change…",
    grammar.List: "Looking up the conversation…",
    grammar.Delete: "Looking up the notes…",
    grammar.Status: "Checking…",
    grammar.Disconnect: "Disconnecting…",
    grammar.Setup: "Checking…",
}


async def thread_note(
    deps: Deps, actor: Actor, ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient
) -> None:
    deps.metrics.slack_requests.labels("command").inc()
    parsed = grammar.parse(command.get("text") or "")
    if isinstance(parsed, grammar.Help):
        await ack(blocks=usage_card(), text="How to use /thread-note")
        return
    if isinstance(parsed, grammar.Unknown):
        await ack(blocks=usage_card(parsed.suggestion), text=f"Unknown subcommand {parsed.word!r}")
        return
    if isinstance(parsed, grammar.Invalid):
        await ack(
            blocks=error_message(
                "invalid_command", user_text=unescape(command.get("text") or ""), reason=parsed.reason
            ),
            text=parsed.reason,
        )
        return
    progress = PROGRESS.get(type(parsed))
    await (ack(text=progress) if progress else ack())
    await run(deps, parsed, Asker(actor, Reply(respond), client, command.get("channel_id")))


async def run(deps: Deps, cmd: grammar.Command, asker: Asker) -> None:
    """Carry out a parsed command as the person who asked. Shared by the slash command and "finish after
    connecting"."""
    actor, reply, client = asker.actor, asker.reply, asker.client
    if isinstance(cmd, grammar.Connect):
        if await from_elsewhere(client, actor):
            await reply(notice(GUEST_SENTENCE), GUEST_SENTENCE)
            return
        url = await deps.accounts.connect_url(actor)
        await reply(connect_prompt(url, None), "Connect your RingCentral account")
    elif isinstance(cmd, grammar.Disconnect):
        was = await deps.accounts.disconnect(actor)
        await reply(disconnected(was), "Disconnected from RingCentral" if was else "You were not connected")
    elif isinstance(cmd, grammar.Status):
        try:
            linked = await deps.accounts.linked(actor)
        except UndecryptableSecret:  # status must still show the admin the alarm (stored secrets)
            linked = None
        report = await deps.status(actor, client)
        await reply(status_card(connected_as=linked, health=report), "thread-note-bot status")
    elif isinstance(cmd, grammar.Setup):
        await setup_command(deps, asker)
    elif isinstance(cmd, grammar.Add):
        plain = await plain_text(client, cmd.text)
        note, thread = await deps.notes.add(actor, plain, **cmd.thread.as_kwargs())
        await reply(note_saved(note, thread), "Note saved")
    elif isinstance(cmd, grammar.List):
        thread, notes = await deps.notes.list_notes(actor, **cmd.thread.as_kwargs())
        me = await deps.accounts.extension_id(actor)
        tz = await user_tz(client, actor.user_id)
        await reply(notes_list(thread, notes, me, tz), f"{len(notes)} notes")
    elif isinstance(cmd, grammar.Edit):
        note = await deps.notes.edit(actor, cmd.note_id, await plain_text(client, cmd.text))
        thread = await deps.notes.find_thread(actor, thread_id=note.thread_id)
        await reply(note_saved(note, thread, edited=True), "Note updated")
    elif isinstance(cmd, grammar.Delete):
        notes = await deps.notes.get_notes(actor, list(cmd.note_ids))
        found = {n.id for n in notes}
        missing = [i for i in cmd.note_ids if i not in found]
        if missing:
            from bot.service.errors import NoteNotFound

            raise NoteNotFound(missing)
        await reply(delete_confirm(list(cmd.note_ids), notes), f"Delete {len(notes)} note(s)?")
    elif isinstance(
        cmd, grammar.Subscribe | grammar.Unsubscribe | grammar.Subscriptions | grammar.Mute | grammar.Unmute
    ):
        await deps.subscriptions.handle(cmd, asker)
    else:
        await reply(usage_card(), "How to use /thread-note")
