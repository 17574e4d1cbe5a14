"""The blocks every message and view is made of, each kept inside Slack's limits (`limits`).

User content goes into `mrkdwn` with `verbatim: true` (so a literal "@channel" is not auto-parsed either) or
into `plain_text`, which Slack never parses for mentions; escaping it is the caller's part (`text.escape`,
`text.fit`). Text is cut with "…" to fit; a button value or `private_metadata`, which carries data back to
us, is refused with ValueError instead, since a cut one would be wrong.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.blockkit.limits import (
    BUTTON_TEXT,
    BUTTON_VALUE,
    CONTEXT_TEXT,
    HEADER_TEXT,
    PRIVATE_METADATA,
    SECTION_TEXT,
)
from bot.blockkit.text import clip

__all__ = ["button", "checked_metadata", "context", "header", "md", "section"]


def md(text: str) -> MarkdownTextObject:
    """`verbatim` mrkdwn: Slack links and mentions nothing by itself."""
    return MarkdownTextObject(text=text, verbatim=True)


def section(text: str, accessory: ButtonElement | None = None, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=md(clip(text, SECTION_TEXT)), accessory=accessory, block_id=block_id)


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[md(clip(text, CONTEXT_TEXT))])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_TEXT), emoji=True))


def button(
    text: str,
    action_id: str,
    value: str | None = None,
    *,
    style: str | None = None,
    url: str | None = None,
) -> ButtonElement:
    if value is not None and len(value) > BUTTON_VALUE:
        raise ValueError(f"button value is {len(value)} characters; Slack allows {BUTTON_VALUE}")
    return ButtonElement(
        text=PlainTextObject(text=clip(text, BUTTON_TEXT), emoji=True),
        action_id=action_id,
        value=value,
        style=style,
        url=url,
    )


def checked_metadata(private_metadata: str) -> str:
    """A modal's `private_metadata`, refused when Slack would refuse it."""
    if len(private_metadata) > PRIVATE_METADATA:
        raise ValueError(
            f"private_metadata is {len(private_metadata)} characters; Slack allows {PRIVATE_METADATA}"
        )
    return private_metadata
