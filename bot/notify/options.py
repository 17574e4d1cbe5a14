"""Per-subscription options beyond filters: two-way threads, the handoff digest and quiet hours. Pure.

- `two_way`: a person's reply in the Slack thread of a conversation becomes a note on it (off by default).
- `digest`: "HH:MM", the local time of the daily handoff digest (None: no digest).
- `quiet`: ("HH:MM", "HH:MM"), local quiet hours; the end is excluded and the window may cross midnight
  (`22:00-07:00`). New notes arriving inside are held and posted as one summary when it ends.
- `tz`: the IANA zone of `digest` and `quiet`: given explicitly (`tz:Europe/Berlin`), else the subscriber's
  Slack time zone (`users.info` `tz`) when subscribing, else UTC.

Stored as the subscription's `options` JSON (NULL when nothing is set).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock_text import parse_hhmm, valid_zone


def _clock_time(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Options:
    two_way: bool = False
    digest: str | None = None
    quiet: tuple[str, str] | None = None
    tz: str | None = None

    def to_json(self) -> dict[str, Any] | None:
        if self == Options():
            return None
        return {
            "two_way": self.two_way,
            "digest": self.digest,
            "quiet": list(self.quiet) if self.quiet else None,
            "tz": self.tz,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Options:
        data = data or {}
        quiet = data.get("quiet")
        return cls(
            two_way=bool(data.get("two_way")),
            digest=parse_hhmm(str(data["digest"])) if data.get("digest") else None,
            quiet=(str(quiet[0]), str(quiet[1]))
            if isinstance(quiet, list | tuple) and len(quiet) == 2
            else None,
            tz=str(data["tz"]) if data.get("tz") else None,
        )

    @property
    def zone(self) -> tzinfo:
        if self.tz and valid_zone(self.tz):
            return ZoneInfo(self.tz)
        return UTC

    def describe(self) -> list[str]:
        """Plain phrases for `/thread-note subscriptions`, e.g. ["two-way", "digest 09:00 Europe/Berlin"]."""
        zone = self.tz or "UTC"
        parts = []
        if self.two_way:
            parts.append("two-way: replies in its Slack threads become notes")
        if self.digest:
            parts.append(f"handoff digest daily at {self.digest} {zone}")
        if self.quiet:
            parts.append(f"quiet hours {self.quiet[0]}-{self.quiet[1]} {zone} (one summary after)")
        return parts

    # --- time ---------------------------------------------------------------------------------------------

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.zone)

    def in_quiet(self, now: datetime) -> bool:
        if not self.quiet:
            return False
        start, end = _clock_time(self.quiet[0]), _clock_time(self.quiet[1])
        t = self.local(now).time().replace(second=0, microsecond=0)
        if start == end:
            return False
        if start < end:
            return start <= t < end
        return t >= start or t < end

    def digest_moment(self, day: date) -> datetime:
        """The digest's instant (UTC) on the local `day`."""
        assert self.digest is not None
        return datetime.combine(day, _clock_time(self.digest), tzinfo=self.zone).astimezone(UTC)

    def digest_due(self, now: datetime, since: datetime) -> date | None:
        """The local day whose digest is due at `now`: its time has come today, and the subscription (or
        its last change) is older than that moment, so subscribing at 10:00 with `digest:09:00` waits for
        tomorrow. None when nothing is due."""
        if not self.digest:
            return None
        today = self.local(now).date()
        moment = self.digest_moment(today)
        if now < moment or since > moment or now - moment > timedelta(hours=12):
            return None
        return today
