"""The Slack app end to end: signed requests in, the RingCentral emulator and the Slack stand-in behind it."""

from __future__ import annotations

from tests.kit.bot import RunningBot, texts, wait_for

HANDOFF_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"  # Support, +14155550142, assigned to Ana
SALES_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c03"  # Sales, Ana does not handle it
RESOLVED_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c04"


def test_connect_flow_links_the_person_and_tells_them_who_they_are(bot: RunningBot) -> None:
    page = bot.connect("alice", "Ana Alvarez")
    assert page.status_code == 200
    assert "Ana Alvarez" in page.text
    dm = wait_for(lambda: bot.dms("alice"), what="the connected DM")
    assert "Ana Alvarez" in texts(dm[-1]["args"])


def test_added_note_is_saved_in_ringcentral_as_the_person(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    replies = bot.command(f"add {HANDOFF_THREAD} Customer called back, waits for a refund")
    assert replies.ack is not None and "Saving" in texts(replies.ack)
    notes = [n for n in bot.rc_state_notes() if n["text"] == "Customer called back, waits for a refund"]
    assert len(notes) == 1
    assert notes[0]["author"]["extensionId"] == bot.rc.user("Ana Alvarez").extension_id
    assert "saved" in replies.text.lower()
