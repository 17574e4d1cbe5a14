"""`subscribe` and `unsubscribe`: a resource (a call queue or site, quoted when it holds an option-like word),
then in any order at most one channel, flags and `key:value` filters. `unsubscribe` takes no filters.

Every filter has one reader (`_FILTERS`); each answers the sentence saying what was wrong, or None, so the
parse loop stays one screen and a new filter is one function plus one entry.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from bot.clock_text import parse_hhmm, valid_zone
from bot.slack.grammar.model import (
    MAX_BACKFILL,
    Command,
    Invalid,
    Subscribe,
    SubscriptionFilters,
    Unsubscribe,
    usage_form,
)
from bot.slack.grammar.tokens import Token, tokens

_CHANNEL_ESCAPED = re.compile(r"^<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>$")
_CHANNEL_TYPED = re.compile(r"^#([a-z0-9][a-z0-9_\-]{0,79})$", re.IGNORECASE)
_FILTER = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)
_FLAG_WORDS = ("unassigned", "broadcast", "two-way", "twoway")


def channel(token: Token) -> tuple[str | None, str | None] | None:
    """(channel id, channel name) for a channel token, else None."""
    if token.quoted:
        return None
    m = _CHANNEL_ESCAPED.match(token.text)
    if m:
        return m.group(1), (m.group(2) or None)
    m = _CHANNEL_TYPED.match(token.text)
    if m:
        return None, m.group(1).lower()
    return None


def is_option(token: Token) -> bool:
    if token.quoted:
        return False
    if token.text.lower() in _FLAG_WORDS or channel(token) is not None:
        return True
    m = _FILTER.match(token.text)
    return bool(m) and not token.text.startswith("<")


def split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def clip(word: str, limit: int = 40) -> str:
    word = word.replace("`", "'")
    return word if len(word) <= limit else word[: limit - 1] + "…"


@dataclass
class _Options:
    """What the words after the resource said so far (filled in while they are read)."""

    channel: tuple[str | None, str | None] | None = None  # (id, name)
    tags: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    deleted: Literal["strike", "remove"] = "strike"
    backfill: int = 0
    digest: str | None = None
    quiet: tuple[str, str] | None = None
    tz: str | None = None

    def filters(self) -> SubscriptionFilters:
        return SubscriptionFilters(
            tags=tuple(self.tags),
            exclude_authors=tuple(self.exclude),
            unassigned_only="unassigned" in self.flags,
            broadcast="broadcast" in self.flags,
            deleted=self.deleted,
            backfill=self.backfill,
            two_way="two-way" in self.flags or "twoway" in self.flags,
            digest=self.digest,
            quiet=self.quiet,
            tz=self.tz,
        )


# --- one reader per filter: the value after `key:` into `_Options`, or what was wrong with it ------------


def _tags(value: str, found: _Options) -> str | None:
    new = [t.lstrip("#").lower() for t in split_list(value)]
    if not any(new):
        return "`tags:` needs one or more tags, like `tags:#handoff,#urgent`"
    found.tags += [t for t in new if t and t not in found.tags]
    return None


def _exclude(value: str, found: _Options) -> str | None:
    new = split_list(value)
    if not new:
        return "`exclude:` needs authors (extension ids or names), like `exclude:101`"
    found.exclude += [e for e in new if e not in found.exclude]
    return None


def _deleted(value: str, found: _Options) -> str | None:
    if value.lower() not in ("strike", "remove"):
        return "`deleted:` is `strike` or `remove`, like `deleted:remove`"
    found.deleted = "strike" if value.lower() == "strike" else "remove"
    return None


def _backfill(value: str, found: _Options) -> str | None:
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_BACKFILL:
        return f"`backfill:` takes a number from 0 to {MAX_BACKFILL}, like `backfill:5`"
    found.backfill = int(value)
    return None


def _digest(value: str, found: _Options) -> str | None:
    found.digest = parse_hhmm(value)
    if found.digest is None:
        return "`digest:` takes a time of day, like `digest:09:00`"
    return None


def _quiet(value: str, found: _Options) -> str | None:
    start, dash, end = value.partition("-")
    window = (parse_hhmm(start), parse_hhmm(end)) if dash else (None, None)
    if window[0] is None or window[1] is None or window[0] == window[1]:
        return "`quiet:` takes a start and an end time, like `quiet:22:00-07:00`"
    found.quiet = (window[0], window[1])
    return None


def _tz(value: str, found: _Options) -> str | None:
    if not valid_zone(value.strip()):
        return "`tz:` takes a time zone name, like `tz:Europe/Berlin` or `tz:UTC`"
    found.tz = value.strip()
    return None


_FILTERS: dict[str, Callable[[str, _Options], str | None]] = {
    "tags": _tags,
    "exclude": _exclude,
    "deleted": _deleted,
    "backfill": _backfill,
    "digest": _digest,
    "quiet": _quiet,
    "tz": _tz,
}


def _take_option(name: str, tok: Token, found: _Options) -> str | None:
    """Read one word after the resource into `found`; the sentence (without the form) when it is wrong."""
    where = channel(tok)
    if where is not None:
        if found.channel is not None:
            return f"`{name}` takes one channel at most"
        found.channel = where
        return None
    word = tok.text.strip()
    if name == "unsubscribe":
        return f"`{name}` takes a resource and a channel, no filters"
    if word.lower() in _FLAG_WORDS:
        found.flags.add(word.lower())
        return None
    m = _FILTER.match(word)
    if m is None or tok.quoted:
        return f"`{clip(word)}` is not a channel or a filter"
    key, value = m.group(1).lower(), m.group(2)
    read = _FILTERS.get(key)
    if read is None:
        near = difflib.get_close_matches(key, (*_FILTERS, *_FLAG_WORDS), n=1)
        hint = f" (did you mean `{near[0]}`?)" if near else ""
        return f"`{clip(key)}:` is not a filter{hint}"
    return read(value, found)


def parse_subscription(name: Literal["subscribe", "unsubscribe"], rest: str) -> Command:
    words = tokens(rest)
    if not words:
        return Invalid(name, f"`{name}` needs a resource (a call queue or site): {usage_form(name)}")
    if words[0].quoted:
        resource, options = words[0].text.strip(), words[1:]
    else:
        cut = next((i for i, tok in enumerate(words) if is_option(tok)), len(words))
        resource, options = " ".join(t.text for t in words[:cut]).strip(), words[cut:]
    if not resource:
        return Invalid(name, f"`{name}` needs a resource (a call queue or site) first: {usage_form(name)}")
    found = _Options()
    for tok in options:
        problem = _take_option(name, tok, found)
        if problem is not None:
            return Invalid(name, f"{problem}: {usage_form(name)}")
    channel_id, channel_name = found.channel or (None, None)
    if name == "unsubscribe":
        return Unsubscribe(resource, channel_id, channel_name)
    return Subscribe(resource, channel_id, found.filters(), channel_name)
