"""Block Kit for the two round-up messages of a subscription, and what "handed off" means. Pure.

**Handoff digest** (`digest:HH:MM`): once a day at that local time, one message listing the resource's
*Open* conversations that need someone:

- *unassigned*: nobody is assigned; or
- *handed off*: the conversation is assigned, and its latest note is written by the assignee and says
  "handoff" (also `#handoff`, "hand off", "hand-off"; any case, as a whole word). "I'm out tomorrow,
  #handoff" by the assignee hands the conversation off; a later note by anyone else (say, the colleague who
  picked it up) ends the handoff.

Each listed conversation shows its latest note and a "Take over" button (`notify_take_over`, the
notifications' own action, value the thread id).

**Quiet-hours summary** (`quiet:HH:MM-HH:MM`): new notes that arrive in quiet hours are held; when the
hours end, one top-level message lists them, grouped by conversation, each note as it stands then (edits
applied and marked, notes deleted meanwhile left out). A conversation that already has a Slack thread in the
channel links to it; the summary creates no threads: the next note after quiet hours opens or continues the
conversation's thread as usual. Later edits or deletions of a listed note update the summary in place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block, ButtonElement, ContextBlock, SectionBlock

from bot.blockkit.ids import TAKE_OVER
from bot.blockkit.primitives import button, md, section
from bot.blockkit.text import clip, escape, fit
from bot.blockkit.threads import thread_label
from bot.ringcentral.models import Note, Thread

HANDOFF = re.compile(r"(?<![\w#])#?hand[\s-]?off(?!\w)", re.IGNORECASE)
MAX_LISTED = 20  # two blocks each, within Slack's 50 per message
NOTE_CHARS = 400


def handed_off(thread: Thread, latest: Note | None) -> bool:
    """Assigned, and the latest note is the assignee's own and says handoff (see the module's docstring)."""
    if thread.assignee is None or latest is None or latest.author is None:
        return False
    return latest.author.extension_id == thread.assignee.extension_id and bool(
        HANDOFF.search(latest.text or "")
    )


def needs_someone(thread: Thread, latest: Note | None) -> str | None:
    """Why an Open conversation belongs in the digest ("unassigned" / "handed off"), else None."""
    if not thread.is_open:
        return None
    if thread.assignee is None:
        return "unassigned"
    return "handed off" if handed_off(thread, latest) else None


def _take_over(thread: Thread) -> ButtonElement | None:
    if not thread.is_open:
        return None
    return button("Take over", TAKE_OVER, thread.id, style="primary")


def _note_line(note: Note, *, deleted: bool = False) -> str:
    text = fit(note.text or "", NOTE_CHARS) or "_(no text)_"
    mark = " (deleted)" if deleted else (" (edited)" if note.edited else "")
    if deleted:
        text = f"~{text}~"
    return f"*{escape(note.author_name)}*{mark}: {text}"


@dataclass(frozen=True)
class DigestItem:
    thread: Thread
    latest: Note | None
    why: str  # "unassigned" | "handed off"


def digest_message(resource_name: str, items: Sequence[DigestItem], when: str) -> tuple[list[Block], str]:
    """The daily handoff digest; `when` is the local time it is for ("Mon 5 Jan, 09:00 (Europe/Berlin)")."""
    count = len(items)
    head = f":sunrise: *Handoff digest · {escape(resource_name)}* · {escape(when)}\n"
    if not items:
        text = head + "Nothing waits: every open conversation has someone on it."
        return [SectionBlock(text=md(text))], f"Handoff digest of {escape(resource_name)}: nothing waits"
    plural = "conversation needs" if count == 1 else "conversations need"
    blocks: list[Block] = [
        SectionBlock(text=md(head + f"{count} open {plural} someone (unassigned or handed off):"))
    ]
    for item in items[:MAX_LISTED]:
        label = f"*{fit(thread_label(item.thread), 300)}* · {item.why}"
        latest = _note_line(item.latest) if item.latest else "_no notes yet_"
        blocks.append(section(f"{label}\n{latest}", accessory=_take_over(item.thread)))
        if item.latest is not None:
            stamp = item.latest.creation_time.strftime("%Y-%m-%d %H:%M UTC")
            blocks.append(ContextBlock(elements=[md(f"latest note {stamp}")]))
    if count > MAX_LISTED:
        blocks.append(ContextBlock(elements=[md(f"… and {count - MAX_LISTED} more.")]))
    fallback = f"Handoff digest of {escape(resource_name)}: {count} open {plural} someone"
    return blocks, clip(fallback, 3000)


@dataclass(frozen=True)
class SummaryLine:
    note: Note
    deleted: bool = False


def summary_message(
    resource_name: str,
    window: str,
    threads: Mapping[str, Thread],
    lines: Sequence[SummaryLine],
    links: Mapping[str, str],
) -> tuple[list[Block], str]:
    """The one message after quiet hours: the held notes grouped by conversation, oldest first. `window` is
    e.g. "22:00-07:00 Europe/Berlin"; `links` maps a thread id to its Slack thread's permalink."""
    groups: dict[str, list[SummaryLine]] = {}
    for line in sorted(lines, key=lambda x: (x.note.creation_time, x.note.id)):
        groups.setdefault(line.note.thread_id, []).append(line)
    alive = sum(1 for line in lines if not line.deleted)
    notes = "note" if alive == 1 else "notes"
    convs = "conversation" if len(groups) == 1 else "conversations"
    head = (
        f":crescent_moon: *Quiet hours are over ({escape(window)})* · {escape(resource_name)}: "
        f"{alive} {notes} arrived in {len(groups)} {convs}."
    )
    blocks: list[Block] = [SectionBlock(text=md(head))]
    shown = list(groups.items())[: MAX_LISTED * 2]
    for thread_id, group in shown:
        thread = threads.get(thread_id)
        label = fit(thread_label(thread), 300) if thread else escape(thread_id)
        link = links.get(thread_id)
        title = f"*{label}*" + (f" · <{link}|open its thread>" if link else "")
        body = "\n".join(_note_line(line.note, deleted=line.deleted) for line in group)
        accessory = _take_over(thread) if thread else None
        blocks.append(section(f"{title}\n{body}", accessory=accessory))
    if len(groups) > len(shown):
        blocks.append(ContextBlock(elements=[md(f"… and {len(groups) - len(shown)} more conversations.")]))
    fallback = f"Quiet hours are over: {alive} {notes} of {escape(resource_name)} in {len(groups)} {convs}"
    return blocks, fallback


def local_when(moment: datetime, zone: str) -> str:
    return f"{moment:%a %-d %b, %H:%M} ({zone})"
