"""`thread-note-bot demo` as a user runs it: a subprocess of the installed console script, no settings."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bot.console import Printer
from bot.demo import Stack, Story, play
from tests.demo.helpers import (
    ARTIFACTS,
    CHROMIUM,
    chromium,
    console_script,
    have_chromium,
    parse_html,
    read_until,
    user_env,
)

STEPS = 8


def test_demo_plays_every_step_and_exits_0_with_the_summary_in_well_under_a_minute(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [*console_script(), "demo"],
        cwd=tmp_path,  # no .env from anywhere
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - started
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"Summary: {STEPS} of {STEPS} steps passed" in out
    assert out.count("✓") == STEPS + 1  # the start, then every step
    assert "✗" not in out
    expected = ("Ben Okafor", "authorize page", "#support", "Support queue", "handoff", "Save as thread note")
    for said in (*expected, "(edited)", "struck through", "Take over", "two-way thread", "Chen Wei"):
        assert said in out, said
    assert took < 45, f"the demo took {took:.1f} s"


def test_a_step_that_does_not_happen_stops_the_demo_with_its_reason(tmp_path: Path) -> None:
    out = io.StringIO()
    stack = Stack(tmp_path)
    stack.start()
    try:
        # Slack refuses to open modals: the shortcut cannot show its form, so no note is saved.
        httpx.post(
            f"{stack.slack.url}/sandbox/slack/faults",
            json={"method": "views.open", "error": "internal_error", "count": 10},
            timeout=10,
        ).raise_for_status()
        story = Story(stack, timeout=2.0)
        try:
            assert play(story, Printer(out)) is False
        finally:
            story.close()
    finally:
        stack.stop()
    said = out.getvalue()
    assert said.count("✓") == 3
    assert "✗ A Slack message is saved as a note with the shortcut: " in said
    assert "Demo failed at step 4 of 8" in said and "no modal" in said
    assert "3 of 8 steps passed" in said and "Summary" not in said


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_of_a_kept_demo_shows_the_handoff_note_inside_its_thread_in_headless_chromium() -> None:
    assert have_chromium()
    demo = subprocess.Popen(
        [*console_script(), "demo", "--keep"],
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        lines = read_until(demo.stdout, "Press Ctrl-C")
        said = "\n".join(lines)
        assert f"Summary: {STEPS} of {STEPS} steps passed" in said, said
        page = re.search(r"(http://127\.0\.0\.1:\d+/sandbox/slack/)", said)
        assert page, said
        url = page.group(1) + "?channel=support"

        dom = chromium(url, "--dump-dom", "--virtual-time-budget=2000")
        assert dom.returncode == 0, dom.stderr[-2000:]
        root = parse_html(dom.stdout)
        handoff = [
            m for m in root.find_all("article", "msg") if "Handoff: the customer is waiting" in m.text()
        ]
        assert len(handoff) == 1, "the handoff note is shown once"
        parent = handoff[0]
        assert "reply" not in parent.classes, "the handoff opens the Slack thread"
        assert "Thread Notes" in parent.text() and "Ana Alvarez" in parent.text()
        assert "+1 415-555-0142" in parent.text() and "assigned to Ben Okafor" in parent.text()
        assert [b.text() for b in parent.find_all("span", "btn-primary")] == ["Take over"]
        thread = parent.find_all("div", "thread")
        assert len(thread) == 1
        replies = thread[0].find_all("article", "reply")
        assert any("Logistics confirmed" in r.text() and "Carol Chen" in r.text() for r in replies)
        struck = [s.text() for r in replies for s in r.find_all("s")]
        assert any("by express" in s for s in struck), "the deleted note is struck through in the thread"
        assert not root.find_all("script", None)[0].attrs.get("src"), "nothing loaded from elsewhere"

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "demo-page.png"
        shot.unlink(missing_ok=True)
        taken = chromium(url, f"--screenshot={shot}", "--window-size=1200,760")
        assert taken.returncode == 0, taken.stderr[-2000:]
        assert shot.exists() and shot.stat().st_size > 10_000
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        finally:
            if demo.poll() is None:
                demo.kill()
            for stream in (demo.stdout, demo.stderr):
                if stream is not None:
                    stream.close()
    assert demo.returncode == 0
