"""Text for mrkdwn: `escape` what came from people or RingCentral, and cut it to fit Slack's limits.

Everything from people or from RingCentral is escaped (`&`, `<`, `>`) before it reaches mrkdwn, so a literal
"<!channel>" or "<@U123>" pings nobody; `fit` escapes and cuts in one step without splitting an escape.
"""

from __future__ import annotations

import re

__all__ = ["ELLIPSIS", "clip", "escape", "fit", "unescape"]

ELLIPSIS = "…"
_ESCAPED = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def escape(text: str) -> str:
    """Escape `&`, `<`, `>` so Slack shows the text literally (no mentions, no links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of `&`, `<`, `>` (slash command and message text arrive escaped)."""
    return _ESCAPED.sub(lambda m: _ENTITIES[m.group(1)], text)


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
