"""Slack message text (mrkdwn with Slack's `<...>` markup and `&amp;` escapes) to plain words for a note."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.blockkit.text import ELLIPSIS, unescape
from bot.note_text import NOTE_TEXT_MAX, cut, fits, note_length

__all__ = [
    "SOURCE_PREFIX",
    "mentioned_user_ids",
    "message_to_plain",
    "prefill_from_message",
    "trim_to_limit",
]

SOURCE_PREFIX = "— from "
_MARKUP = re.compile(r"<([^<>\n]*)>|&(amp|lt|gt);")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_NO_NAMES: Mapping[str, str] = {}


def _label(body: str) -> tuple[str, str | None]:
    target, sep, label = body.partition("|")
    return target, (unescape(label) if sep and label else None)


def _markup(body: str, user_names: Mapping[str, str], channel_names: Mapping[str, str]) -> str:
    target, label = _label(body)
    if target.startswith("@"):
        ident = target[1:]
        name = user_names.get(ident) or label or ident
        return name if name.startswith("@") else "@" + name
    if target.startswith("#"):
        ident = target[1:]
        name = channel_names.get(ident) or label or ident
        return name if name.startswith("#") else "#" + name
    if target.startswith("!"):
        special = target[1:]
        if special in ("here", "channel", "everyone"):
            return "@" + special
        if special.startswith("subteam^"):
            return label or "@group"
        return label or special.split("^", 1)[0]
    url = unescape(target)
    if url.lower().startswith("mailto:"):
        return label or url[len("mailto:") :]
    if label is None or label == url or url.split("://", 1)[-1] == label:
        return url
    return f"{label} ({url})"


def message_to_plain(
    text: str, user_names: Mapping[str, str], channel_names: Mapping[str, str] = _NO_NAMES
) -> str:
    """Slack message text as plain words: `<@U1>` → `@Ann`, `<#C1|general>` → `#general`,
    `<https://x|label>` → `label (https://x)`, `<!here>` → `@here`, `<!date^…|fallback>` → fallback,
    `&amp;`/`&lt;`/`&gt;` → `&`/`<`/`>`. Unknown users keep their id (`@U123`) or the label Slack sent."""

    def replace(m: re.Match[str]) -> str:
        if m.group(2):
            return unescape(m.group(0))
        return _markup(m.group(1), user_names, channel_names)

    return _MARKUP.sub(replace, text)


def mentioned_user_ids(text: str) -> list[str]:
    """The user ids mentioned in Slack message text, in order, each once (to look their names up)."""
    seen: list[str] = []
    for m in _USER.finditer(text):
        if m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def source_line(permalink: str | None, channel_name: str | None, author_name: str | None) -> str:
    """ "— from @Ann in #support: https://…" (parts that are unknown are left out)."""
    line = SOURCE_PREFIX.rstrip()
    if author_name:
        line += " " + (author_name if author_name.startswith("@") else "@" + author_name)
    if channel_name:
        line += " in " + (channel_name if channel_name.startswith("#") else "#" + channel_name)
    if permalink:
        line += ": " + permalink
    return line


def prefill_from_message(
    message: Mapping[str, Any],
    user_names: Mapping[str, str],
    permalink: str | None,
    channel_name: str | None,
    author_name: str | None,
    *,
    channel_names: Mapping[str, str] = _NO_NAMES,
) -> str:
    """The note text for "Save as thread note": the message in plain words and a line saying where it came
    from. Not trimmed: `trim_to_limit` does that, so the modal can say how long it was."""
    body = message_to_plain(str(message.get("text") or ""), user_names, channel_names).strip()
    source = source_line(permalink, channel_name, author_name)
    return f"{body}\n{source}" if body else source


def trim_to_limit(text: str, limit: int = NOTE_TEXT_MAX) -> str:
    """`text` cut to `limit` characters with "…", keeping a final "— from …" source line whole. Lengths are
    counted as RingCentral may count them (UTF-16 code units, bot/note_text.py)."""
    if fits(text, limit):
        return text
    body, sep, last = text.rpartition("\n")
    if sep and last.startswith(SOURCE_PREFIX) and note_length(last) + 2 <= limit:
        room = limit - note_length(last) - 2  # the "…" and the newline
        return cut(body, room).rstrip() + ELLIPSIS + "\n" + last
    return cut(text, limit - 1).rstrip() + ELLIPSIS
