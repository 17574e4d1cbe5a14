"""One sentence from the bot, and a warning that hands back what the person typed so nothing is lost.

The wording of each failure is `bot.slack.errors.error_sentence`; this is how a sentence is shown.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blockkit.limits import MESSAGE_BLOCKS, SECTION_TEXT
from bot.blockkit.primitives import context, section
from bot.blockkit.text import ELLIPSIS, escape, fit


def notice(sentence: str) -> list[Block]:
    """One plain sentence from the bot (escaped)."""
    return [section(escape(sentence))]


def warning(sentence: str, user_text: str | None = None) -> list[Block]:
    """The sentence (plain text, escaped here), and what the person typed in a code block so nothing is lost
    (`user_text` as typed, i.e. unescaped; long text is split over several blocks)."""
    blocks: list[Block] = [section(f":warning: {escape(sentence)}")]
    if user_text and user_text.strip():
        shown = user_text.strip().replace("```", "`\u200b`\u200b`")  # a fence inside would end the block
        blocks.append(context("Here's what you typed, so you can copy it:"))
        chunk = SECTION_TEXT - 8
        rest = shown
        while rest and len(blocks) < MESSAGE_BLOCKS - 1:
            piece = fit(rest, chunk)
            if piece.endswith(ELLIPSIS) and len(escape(rest)) > chunk:
                piece = piece[: -len(ELLIPSIS)]
            taken = _raw_length(rest, piece)
            blocks.append(section(f"```{piece}```"))
            rest = rest[taken:]
        if rest:
            blocks.append(context(f"… and {len(rest):,} more characters."))
    return blocks


def _raw_length(raw: str, escaped_prefix: str) -> int:
    """How many characters of `raw` the escaped `escaped_prefix` holds."""
    size = 0
    for count, ch in enumerate(raw):
        size += len(escape(ch))
        if size > len(escaped_prefix):
            return count
    return len(raw)
