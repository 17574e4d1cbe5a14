"""The pure rules behind a subscription's options (two-way, quiet hours, digests): the subscribe grammar's
options, quiet windows, when a digest is due, and what "handed off" means."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.notify.options import Options
from bot.notify.roundups import handed_off, needs_someone
from bot.ringcentral.models import Note, Thread
from bot.slack import grammar


def test_subscribe_takes_two_way_digest_quiet_hours_and_a_zone_and_renders_them_back() -> None:
    cmd = grammar.parse("subscribe Support two-way digest:9:00 quiet:22:00-07:00 tz:Europe/Berlin")
    assert isinstance(cmd, grammar.Subscribe) and cmd.resource == "Support"
    f = cmd.filters
    assert (f.two_way, f.digest, f.quiet, f.tz) == (True, "09:00", ("22:00", "07:00"), "Europe/Berlin")
    assert grammar.parse(grammar.render(cmd)) == cmd
    plain = grammar.parse("subscribe Support")
    assert isinstance(plain, grammar.Subscribe) and plain.filters.two_way is False  # off by default


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("subscribe Support digest:25:00", "`digest:` takes a time of day"),
        ("subscribe Support quiet:22:00", "`quiet:` takes a start and an end time"),
        ("subscribe Support quiet:07:00-07:00", "`quiet:` takes a start and an end time"),
        ("subscribe Support tz:Mars/Olympus", "`tz:` takes a time zone name"),
        ("subscribe Support digets:09:00", "did you mean `digest`"),
    ],
)
def test_bad_options_are_refused_with_the_right_form(text: str, says: str) -> None:
    cmd = grammar.parse(text)
    assert isinstance(cmd, grammar.Invalid) and says in cmd.reason


def _at(hhmm: str, day: int = 5) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime(2026, 1, day, int(hours), int(minutes), tzinfo=UTC)


def test_quiet_hours_may_cross_midnight_and_end_exclusive_in_the_subscriptions_zone() -> None:
    night = Options(quiet=("22:00", "07:00"))
    assert [night.in_quiet(_at(t)) for t in ("21:59", "22:00", "03:00", "06:59", "07:00")] == [
        False, True, True, True, False,
    ]  # fmt: skip
    berlin = Options(quiet=("22:00", "07:00"), tz="Europe/Berlin")  # UTC+1 in January
    assert berlin.in_quiet(_at("21:30")) and not berlin.in_quiet(_at("06:30"))
    assert not Options().in_quiet(_at("23:00"))


def test_digest_is_due_from_its_local_time_and_not_on_the_day_it_was_subscribed_after_that_time() -> None:
    options = Options(digest="09:00", tz="America/New_York")  # 14:00 UTC in January
    created = _at("08:00", day=4)
    assert options.digest_due(_at("13:59"), created) is None
    assert str(options.digest_due(_at("14:00"), created)) == "2026-01-05"
    late = Options(digest="09:00")  # UTC
    assert late.digest_due(_at("10:00"), _at("09:30")) is None  # subscribed after today's digest time
    assert str(late.digest_due(_at("09:00", day=6), _at("09:30"))) == "2026-01-06"


def _thread(assignee: str | None = None, status: str = "Open") -> Thread:
    data = {
        "id": "t1",
        "status": status,
        "availability": "Alive",
        "owner": {"extensionId": "601"},
        "creationTime": "2026-01-05T08:00:00Z",
        "lastModifiedTime": "2026-01-05T08:00:00Z",
    }
    if assignee:
        data["assignee"] = {"extensionId": assignee}
    return Thread.model_validate(data)


def _note(author: str, text: str) -> Note:
    return Note.model_validate(
        {
            "id": "n1",
            "threadId": "t1",
            "availability": "Alive",
            "creationTime": "2026-01-05T08:00:00Z",
            "lastModifiedTime": "2026-01-05T08:00:00Z",
            "text": text,
            "author": {"extensionId": author},
        }
    )


def test_handed_off_means_the_assignees_own_latest_note_says_handoff() -> None:
    assert handed_off(_thread("101"), _note("101", "Out tomorrow, #handoff please"))
    assert handed_off(_thread("101"), _note("101", "Hand-off: customer waits for pricing"))
    assert not handed_off(_thread("101"), _note("102", "#handoff"))  # someone else's note
    assert not handed_off(_thread("101"), _note("101", "Calling back at 3"))
    assert not handed_off(_thread("101"), _note("101", "see #handoffs channel"))  # not the word
    assert needs_someone(_thread(), None) == "unassigned"
    assert needs_someone(_thread("101"), _note("101", "handoff")) == "handed off"
    assert needs_someone(_thread(status="Resolved"), None) is None
