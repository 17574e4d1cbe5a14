"""Subscription filters: which new notes a channel wants. Pure.

- `tags`: the note must contain one of these words, with or without `#` (case-insensitive, whole words), so
  `tags:#handoff` matches "#handoff" and "Handoff:". Empty: every note.
- `exclude_authors`: notes by these authors (extension id, full name or first name, case-insensitive) are
  left out.
- `unassigned_only`: only notes on threads nobody is assigned to.

Filters decide whether a note is *posted*; once posted, its edits and deletion always follow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.ringcentral.models import Note, Thread


@dataclass(frozen=True)
class Filters:
    tags: tuple[str, ...] = ()
    exclude_authors: tuple[str, ...] = ()
    unassigned_only: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "exclude_authors": list(self.exclude_authors),
            "unassigned_only": self.unassigned_only,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Filters:
        data = data or {}
        return cls(
            tags=tuple(str(t).lstrip("#").lower() for t in data.get("tags") or () if str(t).strip("#")),
            exclude_authors=tuple(str(a) for a in data.get("exclude_authors") or ()),
            unassigned_only=bool(data.get("unassigned_only")),
        )

    def describe(self) -> str:
        """Plain text, e.g. "tags #handoff, #urgent · not by 101 · unassigned only" ("all notes" if none)."""
        parts = []
        if self.tags:
            parts.append("tags " + ", ".join(f"#{t}" for t in self.tags))
        if self.exclude_authors:
            parts.append("not by " + ", ".join(self.exclude_authors))
        if self.unassigned_only:
            parts.append("unassigned only")
        return " · ".join(parts) or "all notes"


def passes(filters: Filters, note: Note, thread: Thread | None) -> bool:
    """Whether a new note is posted under these filters."""
    if filters.tags:
        text = note.text or ""
        if not any(_word(tag).search(text) for tag in filters.tags):
            return False
    if filters.exclude_authors and note.author is not None:
        name = (note.author.name or "").lower()
        names = {note.author.extension_id.lower(), name, *name.split()[:1]}
        if any(a.strip().lower() in names for a in filters.exclude_authors):
            return False
    return not (filters.unassigned_only and thread is not None and thread.assignee is not None)


def _word(tag: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w#])#?{re.escape(tag)}(?!\w)", re.IGNORECASE)
