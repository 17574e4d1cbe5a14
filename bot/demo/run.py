"""`thread-note-bot demo` itself: start the stack, play the story printing each step, and with `--keep` show
where everything is until Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bot.console import Printer
from bot.demo.cast import CHANNEL, HANDLER_RC
from bot.demo.reading import DemoFailed, find_button
from bot.demo.stack import Stack
from bot.demo.story import Story
from bot.sandbox.slack.requests import SlackActorError


def run_demo(keep: bool = False, out: Any = None, profile: str | None = None) -> int:
    from bot import logs

    logs.configure(os.environ.get("LOG_LEVEL", "WARNING") if keep else "WARNING")
    p = Printer(out)
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="thread-note-demo-"))
    from bot.sandbox.profiles import UnknownProfile, get_profile

    try:
        chosen = get_profile(profile)
    except UnknownProfile as exc:
        p.failed(str(exc))
        return 2
    p.line("thread-note-bot demo: a RingCentral emulator, a Slack stand-in and the bot, all on this machine.")
    if chosen.name != "default":
        p.line(f"  Stand-ins play the {chosen.name!r} profile: {chosen.describe()}.")
    stack = Stack(folder, profile=chosen.name)
    story: Story | None = None
    try:
        t0 = time.monotonic()
        try:
            stack.start()
        except Exception as exc:
            p.failed(f"Starting the stand-ins and the bot failed: {exc}")
            return 1
        p.passed(
            "Started the RingCentral emulator, the Slack stand-in and the bot (SQLite in a temp folder)",
            time.monotonic() - t0,
        )
        story = Story(stack)
        ok = play(story, p, started)
        if ok and not keep:
            p.line("  To look at it in a browser: thread-note-bot demo --keep")
        if keep:
            _keep_running(p, stack, story)
        return 0 if ok else 1
    finally:
        if story is not None:
            story.close()
        stack.stop()
        shutil.rmtree(folder, ignore_errors=True)


def play(story: Story, p: Printer, started: float | None = None) -> bool:
    """Run the story's steps in order, printing each; stop at the first that fails. True when all passed."""
    started = time.monotonic() if started is None else started
    steps = story.steps()
    for n, (title, step) in enumerate(steps, 1):
        t0 = time.monotonic()
        try:
            said = step()
        except (DemoFailed, SlackActorError) as exc:
            reason = str(exc)
        except Exception as exc:  # the demo reports, it does not crash with a traceback
            reason = f"unexpected {type(exc).__name__}: {exc}"
        else:
            p.passed(said, time.monotonic() - t0)
            continue
        p.failed(f"{title}: {reason}")
        p.line()
        p.line(f"Demo failed at step {n} of {len(steps)} ({title.lower()}): {reason}")
        p.line(f"{n - 1} of {len(steps)} steps passed in {time.monotonic() - started:.1f} s.")
        return False
    p.line()
    p.line(f"Summary: {len(steps)} of {len(steps)} steps passed in {time.monotonic() - started:.1f} s.")
    p.line(f"  #{CHANNEL}: one Slack thread per customer conversation, kept in step with RingCentral.")
    p.line(f"  RingCentral: Ana's handoff is taken over; the conversation is {HANDLER_RC}'s now.")
    return True


def _keep_running(p: Printer, stack: Stack, story: Story | None) -> None:
    """Print where everything is, then wait for Ctrl-C (or SIGTERM)."""
    env_file = stack.folder / "demo.env"
    env = stack.env()
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    sign_in = ""
    if story is not None:
        try:
            bodies = story._command("connect", user="alice")
            button = find_button(bodies, "connect_open")
            sign_in = str(button["url"]) if button else ""
        except (SlackActorError, DemoFailed):
            sign_in = ""
    p.line()
    p.line("Everything keeps running. Open in a browser:")
    p.line(f"  The story, in #{CHANNEL}                 {stack.slack.url}/sandbox/slack/?channel={CHANNEL}")
    p.line(f"  Every Slack channel (refreshes itself) {stack.slack.url}/sandbox/slack/")
    if sign_in:
        p.line(f"  Sign Alice in to RingCentral           {sign_in}")
    p.line(f"  The bot's health                       {stack.bot.url}/healthz")
    assert stack.settings is not None and stack.settings.metrics_token is not None
    bearer = stack.settings.metrics_token.get_secret_value()
    p.line(f'  Its metrics   curl -H "Authorization: Bearer {bearer}" {stack.bot.url}/metrics')
    p.line(f"  RingCentral emulator                   {stack.rc.url}  (users and JWTs: /sandbox/credentials)")
    p.line(f"  Slack stand-in Web API                 {stack.slack.url}/api/")
    p.line("Credentials:")
    p.line(f"  Slack bot token       {env['SLACK_BOT_TOKEN']}")
    p.line(f"  Slack signing secret  {env['SLACK_SIGNING_SECRET']}")
    p.line(f"  RingCentral app       {env['RINGCENTRAL_CLIENT_ID']} / {env['RINGCENTRAL_CLIENT_SECRET']}")
    p.line(f"  Every setting, for `thread-note-bot check`: {env_file}")
    p.line(f"    (thread-note-bot check --env-file {env_file})")
    p.line("Press Ctrl-C to stop.")
    stop = threading.Event()
    # Ctrl-C and SIGTERM both stop it (also when started in the background, where SIGINT starts out ignored).
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    p.line("Stopped.")
