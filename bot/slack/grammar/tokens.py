"""Tokens (whitespace-separated words; double-quoted parts may hold spaces) and thread references: a
thread id, or a customer's phone number that may span several words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.slack.grammar.model import PhoneRef, ThreadId, ThreadRef
from bot.slack.phone import looks_like_phone, normalise

_MAX_PHONE_WORDS = 6
_ID = re.compile(r"^[0-9A-Za-z-]{6,}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_OPEN_QUOTES = '"\u201c\u201d'
_CLOSE_QUOTES = '"\u201c\u201d'


@dataclass(frozen=True)
class Token:
    text: str  # quotes removed
    end: int  # index just after the token in the source
    quoted: bool  # began with a quote: taken literally, never as a phone number's part, channel or filter


def next_token(text: str, pos: int) -> Token | None:
    """The next whitespace-separated token from `pos`; double-quoted parts may hold spaces."""
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    if pos >= n:
        return None
    out: list[str] = []
    quoted = text[pos] in _OPEN_QUOTES
    while pos < n and not text[pos].isspace():
        if text[pos] in _OPEN_QUOTES:
            close = pos + 1
            while close < n and text[close] not in _CLOSE_QUOTES:
                close += 1
            out.append(text[pos + 1 : close])
            pos = min(close + 1, n)
        else:
            out.append(text[pos])
            pos += 1
    return Token("".join(out), pos, quoted)


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while (tok := next_token(text, pos)) is not None:
        out.append(tok)
        pos = tok.end
    return out


def parse_id(token: str) -> str | None:
    if token[:3].lower() == "id:":
        token = token[3:]
    if not _ID.match(token):
        return None
    return token.lower() if UUID.match(token) else token


def parse_thread_ref(token: str, default_region: str = "US") -> ThreadRef | None:
    """One token (or a quoted phrase) as a thread reference: a phone number first, then an id; else None."""
    token = token.strip()
    if token[:3].lower() != "id:":
        e164 = normalise(token, default_region)
        if e164 is not None:
            return PhoneRef(e164)
    ident = parse_id(token)
    return ThreadId(ident) if ident is not None else None


def take_thread(text: str, pos: int) -> tuple[ThreadRef, int] | tuple[None, str]:
    """The thread at the start of text[pos:] and where it ends, or (None, the offending word)."""
    first = next_token(text, pos)
    if first is None:
        return None, ""
    if not first.quoted and looks_like_phone(first.text):
        words: list[Token] = []
        cursor = pos
        while len(words) < _MAX_PHONE_WORDS and (tok := next_token(text, cursor)) is not None:
            if tok.quoted or not looks_like_phone(tok.text):
                break
            words.append(tok)
            cursor = tok.end
        for count in range(len(words), 0, -1):
            e164 = normalise(" ".join(w.text for w in words[:count]))
            if e164 is not None:
                return PhoneRef(e164), words[count - 1].end
    ref = parse_thread_ref(first.text)
    if ref is None:
        return None, first.text
    return ref, first.end
