"""The usage card: every `/thread-note` subcommand with an example (grammar.USAGE), and "did you mean" when
the first word was wrong."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blockkit.primitives import context, header, section
from bot.blockkit.text import clip, escape
from bot.slack import grammar

_WHAT = {
    "add": "Add a note to a conversation",
    "list": "Show a conversation's notes",
    "edit": "Change one of your notes",
    "delete": "Delete your notes (asks first)",
    "subscribe": (
        "Post a queue's notes into a channel; `two-way` turns replies in its threads into notes, "
        "`digest:09:00` posts a daily handoff digest, `quiet:22:00-07:00` holds notes for one summary "
        "(your Slack time zone, or `tz:`)"
    ),
    "unsubscribe": "Stop posting them",
    "subscriptions": "What this channel (or `all` channels) receives",
    "mute": "Stop notifications about one conversation",
    "unmute": "Resume them",
    "connect": "Link your RingCentral account",
    "disconnect": "Unlink it",
    "status": "Who you're connected as, and how the bot is doing",
    "setup": "Workspace admins: link this workspace's own RingCentral account, replace or remove it",
    "help": "This card",
}


def usage_card(suggestion: str | None = None, *, word: str | None = None) -> list[Block]:
    """Every subcommand with an example; `suggestion` (and the unknown `word`) when the first word was
    wrong."""
    blocks: list[Block] = []
    if suggestion or word:
        said = f"`{escape(clip(word, 40))}` isn't a subcommand." if word else "I didn't understand that."
        near = f" Did you mean `/thread-note {escape(suggestion)}`?" if suggestion else ""
        blocks.append(section(f":thinking_face: {said}{near}"))
    blocks.append(header("/thread-note"))
    lines = []
    for name, (form, example) in grammar.USAGE.items():
        lines.append(
            f"`/thread-note {escape(form)}`\n      {_WHAT[name]}, e.g. `/thread-note {escape(example)}`"
        )
    for start in range(0, len(lines), 5):
        blocks.append(section("\n".join(lines[start : start + 5])))
    blocks.append(
        context(
            "A *thread* is a thread id or the customer's phone number in any format. "
            "A number with spaces: the longest run of leading words that makes a valid number is the thread, "
            "the rest is the note; "
            'quote it to be sure: `add "+49 30 1234567" 89 boxes`. Aliases: `new`, `ls`, `rm`, `subs`, `?`.'
        )
    )
    return blocks
