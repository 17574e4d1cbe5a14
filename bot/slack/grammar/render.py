"""Rendering, the inverse of parsing: the canonical `/thread-note` text for a command."""

from __future__ import annotations

from bot.slack.grammar import model
from bot.slack.grammar.tokens import parse_thread_ref


def _render_ref(ref: model.ThreadRef) -> str:
    if isinstance(ref, model.PhoneRef):
        return f'"{ref.e164}"'
    if parse_thread_ref(ref.value) != ref:
        return f"id:{ref.value}"
    return ref.value


def _quote(text: str) -> str:
    return f'"{text}"'


def _render_channel(channel_id: str | None, channel_name: str | None) -> list[str]:
    if channel_id:
        return [f"<#{channel_id}|{channel_name}>" if channel_name else f"<#{channel_id}>"]
    if channel_name:
        return [f"#{channel_name}"]
    return []


def render(command: model.Command) -> str:
    """Canonical `/thread-note` text for a command: `parse(render(c)) == c` for every valid command.

    Useful to keep an action for later ("finish after connecting") as the text that would redo it.
    """
    match command:
        case model.Help():
            return "help"
        case model.Add(thread, text):
            return f"add {_render_ref(thread)} {text}"
        case model.List(thread):
            return f"list {_render_ref(thread)}"
        case model.Mute(thread):
            return f"mute {_render_ref(thread)}"
        case model.Unmute(thread):
            return f"unmute {_render_ref(thread)}"
        case model.Edit(note_id, text):
            return f"edit {note_id} {text}"
        case model.Delete(note_ids):
            return "delete " + " ".join(note_ids)
        case model.Connect():
            return "connect"
        case model.Disconnect():
            return "disconnect"
        case model.Status():
            return "status"
        case model.Setup():
            return "setup"
        case model.Subscriptions(all=every):
            return "subscriptions all" if every else "subscriptions"
        case model.Subscribe(resource, channel_id, filters, channel_name):
            parts = ["subscribe", _quote(resource), *_render_channel(channel_id, channel_name)]
            if filters.tags:
                parts.append("tags:" + ",".join(f"#{t}" for t in filters.tags))
            if filters.exclude_authors:
                parts.append("exclude:" + ",".join(_quote(e) for e in filters.exclude_authors))
            if filters.unassigned_only:
                parts.append("unassigned")
            if filters.broadcast:
                parts.append("broadcast")
            if filters.deleted != "strike":
                parts.append(f"deleted:{filters.deleted}")
            if filters.backfill:
                parts.append(f"backfill:{filters.backfill}")
            if filters.two_way:
                parts.append("two-way")
            if filters.digest:
                parts.append(f"digest:{filters.digest}")
            if filters.quiet:
                parts.append(f"quiet:{filters.quiet[0]}-{filters.quiet[1]}")
            if filters.tz:
                parts.append(f"tz:{filters.tz}")
            return " ".join(parts)
        case model.Unsubscribe(resource, channel_id, channel_name):
            return " ".join(["unsubscribe", _quote(resource), *_render_channel(channel_id, channel_name)])
        case model.Unknown(word, _):
            return word
        case model.Invalid(subcommand, _):
            return subcommand
