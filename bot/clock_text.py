"""Times of day and time zones as people type them ("9:00", "Europe/Berlin"). Pure; a leaf.

One rule for both places that read them: the `/thread-note subscribe` grammar (`digest:`, `quiet:`, `tz:`) and
a subscription's stored options (bot/notify/options.py), so a time the command accepts is one the notifier
reads back the same way.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> str | None:
    """A time of day as "HH:MM" ("9:00" → "09:00"), else None."""
    m = _HHMM.match(text.strip())
    return f"{int(m.group(1)):02d}:{m.group(2)}" if m else None


def valid_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows ("UTC", "Europe/Berlin")."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
