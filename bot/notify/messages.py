"""Block Kit for channel notifications: pure functions, data in, (blocks, fallback text) out.

- The *parent* message opens the Slack thread of a RingCentral thread: the customer's number, the resource,
  the state and assignee, the first note, and the buttons `notify_take_over`, `add_note_open`,
  `notify_resolve` (value: thread id) while the thread is open.
- Every later note is a *reply*. An edited note shows "(edited)"; a deleted one is struck through.
- Everything from RingCentral is escaped (`&`, `<`, `>`) and sits in `verbatim` mrkdwn, so a note holding
  `<!channel>` or `<@U123>` pings nobody; the fallback `text` is escaped the same way. Note text is cut to fit
  a section (3000 characters after escaping).
- Each message carries `metadata` {event_type "thread_note", event_payload {note_id, version, thread_id,
  subscription_id}}: how a crash between posting and recording is repaired by lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ContextBlock, SectionBlock

from bot.blockkit.ids import ADD_NOTE_OPEN, RESOLVE, TAKE_OVER, THREAD_BUTTONS_BLOCK
from bot.blockkit.limits import BLOCK_ID, SECTION_TEXT
from bot.blockkit.primitives import button, md
from bot.blockkit.text import clip, escape, fit
from bot.blockkit.threads import last_message, thread_label
from bot.ringcentral.models import Note, Thread

EVENT_TYPE = "thread_note"
FALLBACK_TEXT = 3000


def metadata(*, subscription_id: int, note_id: str, version: str, thread_id: str) -> dict[str, Any]:
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {
            "note_id": note_id,
            "version": version,
            "thread_id": thread_id,
            "subscription_id": subscription_id,
        },
    }


def matches(message: dict[str, Any], subscription_id: int, note_id: str) -> bool:
    """Whether a message from `conversations.history`/`replies` is this subscription's post of `note_id`."""
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    return (
        meta.get("event_type") == EVENT_TYPE
        and str(payload.get("note_id")) == note_id
        and str(payload.get("subscription_id")) == str(subscription_id)
    )


def _struck(text: str) -> str:
    """Escaped mrkdwn text struck through line by line (Slack's `~` does not cross line breaks)."""
    return "\n".join(f"~{line}~" if line.strip() else line for line in text.split("\n"))


def note_blocks(note: Note, *, deleted: bool = False) -> list[Block]:
    """The note itself: author, text, "(edited)" / "(deleted)" marks."""
    raw = note.text or ""
    body = fit(raw, SECTION_TEXT - 200) if raw else "_(no text)_"
    if deleted:
        body = _struck(body)
    when = note.creation_time.strftime("%Y-%m-%d %H:%M UTC")
    marks = []
    if deleted:
        marks.append("(deleted)")
    elif note.edited:
        marks.append("(edited)")
    context = f"*{escape(note.author_name)}* · {when}" + (" " + " ".join(marks) if marks else "")
    return [
        SectionBlock(text=md(body)),
        ContextBlock(elements=[md(clip(context, 2000))]),
    ]


def _fallback(prefix: str, note: Note | None, *, deleted: bool = False) -> str:
    if note is None:
        return escape(clip(prefix, FALLBACK_TEXT))
    what = "(deleted note)" if deleted else (note.text or "")
    mark = " (edited)" if note.edited and not deleted else ""
    return escape(clip(f"{prefix}{note.author_name}: {what}{mark}", FALLBACK_TEXT))


def thread_header(thread: Thread) -> str:
    """mrkdwn: ":speech_balloon: *customer · resource · state*"."""
    icon = ":white_check_mark:" if thread.status == "Resolved" else ":speech_balloon:"
    return f"{icon} *{fit(thread_label(thread), 500)}*"


def thread_buttons(thread: Thread) -> ActionsBlock | None:
    if not thread.is_open:
        return None
    return ActionsBlock(
        block_id=f"{THREAD_BUTTONS_BLOCK}{thread.id}"[:BLOCK_ID],
        elements=[
            button("Take over", TAKE_OVER, thread.id, style="primary"),
            button("Add note", ADD_NOTE_OPEN, thread.id),
            button("Resolve", RESOLVE, thread.id),
        ],
    )


def parent_message(thread: Thread, note: Note | None, *, deleted: bool = False) -> tuple[list[Block], str]:
    """The message that opens a RingCentral thread's Slack thread (with its first note, when known)."""
    blocks: list[Block] = [SectionBlock(text=md(thread_header(thread)))]
    if last := last_message(thread):
        blocks.append(ContextBlock(elements=[md(f"Last message: “{fit(last, 300)}”")]))
    if note is not None:
        blocks += note_blocks(note, deleted=deleted)
    actions = thread_buttons(thread)
    if actions is not None:
        blocks.append(actions)
    return blocks, _fallback(f"{thread_label(thread)} — ", note, deleted=deleted)


def reply_message(note: Note, *, deleted: bool = False) -> tuple[list[Block], str]:
    return note_blocks(note, deleted=deleted), _fallback("", note, deleted=deleted)


def as_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]


PAUSE_REASONS = {
    "channel_not_found": "the channel was deleted, or I can't see it any more",
    "is_archived": "the channel was archived",
    "not_in_channel": "I'm not a member of the channel any more",
    "token_revoked": "the app's Slack token was revoked",
    "invalid_auth": "the app's Slack token is no longer valid",
    "account_inactive": "the app's Slack account is inactive",
    "not_authed": "the app has no Slack token",
    "ext_shared": (
        "the channel is now shared with another organisation (Slack Connect), whose people must not read "
        "internal notes; subscribe a channel only your organisation is in"
    ),
}


def pause_reason(reason: str | None) -> str:
    return PAUSE_REASONS.get(reason or "", reason or "unknown reason")


def paused_notice(channel_id: str, resource_name: str, reason: str) -> tuple[list[Block], str]:
    """The DM to a subscription's creator when it is paused."""
    text = (
        f":pause_button: Notifications of *{escape(resource_name)}* in <#{channel_id}> are paused: "
        f"{escape(pause_reason(reason))}. Nothing is lost: notes wait and are posted when it resumes. "
        f"Fix it (e.g. unarchive the channel or `/invite @thread-notes`), then run "
        f'`/thread-note subscribe "{escape(resource_name)}"` in the channel, or wait for the automatic '
        "re-check."
    )
    return [SectionBlock(text=md(text))], f"Notifications of {escape(resource_name)} are paused"


def feed_notice(failing: bool, watched: Sequence[tuple[str, str]], detail: str) -> tuple[list[Block], str]:
    """The DM to a subscriptions' creator when the change feed starts failing, and when it recovers.
    `watched` = (channel id, resource name) of that person's subscriptions; `detail` = since when and why."""
    where = ", ".join(f"*{escape(name)}* in <#{channel}>" for channel, name in watched[:10])
    if len(watched) > 10:
        where += f" and {len(watched) - 10} more"
    if failing:
        text = (
            f":warning: thread-note-bot cannot read RingCentral's changes: {escape(detail)}. New notes of "
            f"{where} are not posted meanwhile. Nothing is lost: the bot keeps trying, and catches up with a "
            "full sync when RingCentral answers again. `/thread-note status` shows where it stands; if it "
            "lasts, ask whoever runs the bot to run `thread-note-bot check`."
        )
        return [SectionBlock(text=md(text))], "Thread-note notifications are delayed"
    text = (
        f":white_check_mark: thread-note-bot reads RingCentral's changes again. Notes of {where} written "
        "meanwhile are being posted now."
    )
    return [SectionBlock(text=md(text))], "Thread-note notifications work again"
