"""The one definition of how long a note's text may be, and how its length is counted.

RingCentral documents note text as "1-1000 characters" without saying what a character is. A server written
in Java or JavaScript counts UTF-16 code units, where an emoji outside the Basic Multilingual Plane counts 2;
Python's `len` counts code points, where it counts 1. We count the stricter way everywhere (the command
grammar, the modals, the service and the client), so a text we accepted is never refused by RingCentral.

A leaf module: it imports nothing from the bot, so every layer can use it.
"""

from __future__ import annotations

NOTE_TEXT_MAX = 1000  # RingCentral: note text is 1-1000 characters (counted here as UTF-16 code units)


def note_length(text: str) -> int:
    """The length of `text` in UTF-16 code units (a character outside the BMP counts 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def fits(text: str, limit: int = NOTE_TEXT_MAX) -> bool:
    return note_length(text) <= limit


def cut(text: str, limit: int = NOTE_TEXT_MAX) -> str:
    """The longest prefix of `text` of at most `limit` UTF-16 units; never splits a character."""
    if len(text) * 2 <= limit or note_length(text) <= limit:
        return text
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text
