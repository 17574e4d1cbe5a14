"""`thread-note-bot demo [--keep]`: the whole loop on this machine, with no account anywhere.

Starts the RingCentral emulator (demo seed), the Slack stand-in and the bot itself on free loopback ports
(SQLite in a temporary folder, a generated secret key), then plays the real flows through the real
interfaces, printing each step as it happens:

1. Bob connects his RingCentral account (`/thread-note connect`, the emulator's authorize page with
   `sandbox_user=`, the bot's OAuth callback).
2. `#support` is subscribed to the Support queue (`/thread-note subscribe Support`, the public-channel
   confirmation button).
3. Ana writes a handoff note in RingCentral (the emulator's API, signed in with her JWT); the bot's poll posts
   it into `#support`, opening a Slack thread for the customer's conversation.
4. Carol answers in that Slack thread; Bob saves her message as a note with the "Save as thread note" shortcut
   (the shortcut and the modal submission are signed like Slack's); it shows as a reply in the thread.
5. Bob edits that note (`/thread-note edit`), then 6. deletes it (`/thread-note delete` and its confirm
   button); the thread shows "(edited)", then the note struck through.
7. Bob takes over the customer's conversation with the "Take over" button on the thread's first message.
8. Two-way: Carol connects (as Chen Wei), Bob makes the subscription two-way, and Carol's reply in the Slack
   thread reaches the bot as the `message` event the Slack stand-in sends itself (signed like Slack, to the
   bot's /slack/events): it becomes a note by Chen Wei in RingCentral.

The bot's poll is driven with the notifier's `run_once` (deterministic, no waiting for the interval). Every
step checks its outcome where a person would see it (the Slack stand-in, the emulator's state); a step that
does not happen stops the demo with the reason and exit status 1. Nothing is faked: without channel
notifications in the bot, steps 2 to 8 fail and say so.

`--keep` leaves everything running and prints the addresses (the channel page, a RingCentral sign-in link,
the bot) and credentials until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography.fernet import Fernet

from bot.blockkit.ids import (
    NOTE_DELETE_CONFIRM,
    SAVE_NOTE,
    SAVE_SHORTCUT,
    TAKE_OVER,
    TEXT_INPUT,
    THREAD_BLOCK,
    THREAD_SELECT,
)
from bot.config import Settings, load_settings
from bot.sandbox.slack.requests import SlackActor, SlackActorError, wait_for
from bot.servers import BackgroundServer

T = TypeVar("T")
JSON = dict[str, Any]

CALLBACK_PATH = "/ringcentral/oauth/callback"
MT = "/restapi/v1.0/account/~/message-threads"
POLL_INTERVAL = 5  # seconds, for the bot's own scheduler while --keep runs; the steps drive polls themselves
STEP_TIMEOUT = 15.0

# The cast (demo seed of the emulator, default workspace of the stand-in)
HANDLER_SLACK, HANDLER_RC = "bob", "Ben Okafor"
TEAMMATE_RC = "Ana Alvarez"
WRITER_SLACK = "carol"
REPLIER_RC = "Chen Wei"  # Carol's RingCentral user, a handler of Support
TWO_WAY_REPLY = "Customer called back: the Friday delivery works, no need to call again."
CHANNEL = "support"
QUEUE = "Support"
THREAD_ID = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"  # Support, customer +1 415-555-0142, assigned to Ana
HANDOFF = (
    "Handoff: the customer is waiting for the shipping date of the replacement pole (order A-20931). "
    "I'm out from tomorrow, please take this thread."
)
ANSWER = "Logistics confirmed: the replacement pole ships Friday, tracking follows by email."
EDITED = "Logistics confirmed: the replacement pole ships Friday by express; tracking follows by email."


class DemoFailed(Exception):
    """A step did not happen; the message is one line saying what was expected and what was seen."""


def texts(node: Any) -> str:
    """Every `text` in a Slack payload, joined: what a person would read."""
    out: list[str] = []

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            for key, value in n.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(n, list):
            for item in n:
                walk(item)

    walk(node)
    return "\n".join(out)


def find_button(node: Any, action_id: str) -> JSON | None:
    if isinstance(node, dict):
        if node.get("type") == "button" and node.get("action_id") == action_id:
            return node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = find_button(item, action_id)
            if found is not None:
                return found
    return None


def note_id_of(message: JSON) -> str | None:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    value = payload.get("note_id")
    return str(value) if value is not None else None


class _LoopCapture:
    """Wraps the bot's ASGI app to learn the event loop it runs in, so the demo can drive its notifier."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self.state = app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            self.loop = asyncio.get_running_loop()
        await self.app(scope, receive, send)


@dataclass
class Stack:
    """The RingCentral emulator, the Slack stand-in and the bot, each on a free loopback port."""

    folder: Path
    rc: BackgroundServer = field(default_factory=BackgroundServer)
    slack: BackgroundServer = field(default_factory=BackgroundServer)
    bot: BackgroundServer = field(default_factory=BackgroundServer)
    settings: Settings | None = None
    rc_credentials: JSON = field(default_factory=dict)
    profile: str = "default"
    _app: _LoopCapture | None = None

    def start(self) -> None:
        from bot.sandbox.profiles import get_profile
        from bot.sandbox.ringcentral.app import create_app
        from bot.sandbox.ringcentral.settings import SandboxSettings
        from bot.sandbox.slack import create_slack_app
        from bot.web import create_web_app

        profile = get_profile(self.profile)
        self.rc.app = create_app(
            "demo",
            settings=SandboxSettings(redirect_uris=[self.bot.url + CALLBACK_PATH], profile=profile),
        )
        self.rc.start()
        self.slack.app = create_slack_app(profile=profile)
        self.slack.start()
        self.rc_credentials = httpx.get(f"{self.rc.url}/sandbox/credentials", timeout=10).json()
        workspace = httpx.get(f"{self.slack.url}/sandbox/slack/workspaces", timeout=10).json()["workspaces"][
            0
        ]
        service = next(u for u in self.rc_credentials["users"] if u["service"])
        # Every setting is given here, so nothing from the shell or a .env file leaks into the demo.
        self.settings = load_settings(
            env_file=None,
            SLACK_BOT_TOKEN=workspace["bot_token"],
            SLACK_SIGNING_SECRET=workspace["signing_secret"],
            SLACK_APP_TOKEN="",
            SLACK_API_URL=f"{self.slack.url}/api/",
            RINGCENTRAL_SERVER_URL=self.rc.url,
            RINGCENTRAL_CLIENT_ID=self.rc_credentials["clientId"],
            RINGCENTRAL_CLIENT_SECRET=self.rc_credentials["clientSecret"],
            RINGCENTRAL_JWT=service["jwt"],
            THREAD_NOTE_DATABASE_URL=f"sqlite:///{self.folder / 'thread-note-bot.db'}",
            THREAD_NOTE_SECRET_KEY=Fernet.generate_key().decode(),
            THREAD_NOTE_PUBLIC_URL=self.bot.url,
            THREAD_NOTE_POLL_INTERVAL=POLL_INTERVAL,
            THREAD_NOTE_METRICS_TOKEN=secrets.token_urlsafe(24),
            PORT=self.bot.port,
        )
        self._app = _LoopCapture(create_web_app(self.settings))
        self.bot.app = self._app
        self.bot.start(timeout=30)
        # Slack's Events API: people's messages reach the bot's Request URL, signed like Slack's.
        httpx.post(
            f"{self.slack.url}/sandbox/slack/event-subscriptions",
            json={"url": f"{self.bot.url}/slack/events"},
            timeout=10,
        ).raise_for_status()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = STEP_TIMEOUT) -> T:
        """Run `coro` in the bot's own event loop (where its store and clients live) and wait for it."""
        assert self._app is not None and self._app.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._app.loop).result(timeout)

    @property
    def container(self) -> Any:
        assert self._app is not None
        return self._app.state.container

    def env(self) -> dict[str, str]:
        """The settings as environment variables (for `check`, or a `serve` of your own against these)."""
        s = self.settings
        assert s is not None and s.slack_bot_token and s.slack_signing_secret and s.ringcentral_jwt
        assert s.ringcentral_client_secret
        return {
            "SLACK_BOT_TOKEN": s.slack_bot_token.get_secret_value(),
            "SLACK_SIGNING_SECRET": s.slack_signing_secret.get_secret_value(),
            "SLACK_API_URL": s.slack_api_url,
            "RINGCENTRAL_SERVER_URL": s.ringcentral_server_url,
            "RINGCENTRAL_CLIENT_ID": s.ringcentral_client_id or "",
            "RINGCENTRAL_CLIENT_SECRET": s.ringcentral_client_secret.get_secret_value(),
            "RINGCENTRAL_JWT": s.ringcentral_jwt.get_secret_value(),
            "THREAD_NOTE_DATABASE_URL": s.database_url,
            "THREAD_NOTE_SECRET_KEY": ",".join(k.get_secret_value() for k in s.secret_keys),
            "THREAD_NOTE_PUBLIC_URL": s.public_url or "",
        }

    def stop(self) -> None:
        for server in (self.bot, self.slack, self.rc):
            server.stop()


class RingCentralPerson:
    """A RingCentral user acting through the real API, signed in with their JWT (as their phone app would)."""

    def __init__(self, server_url: str, credentials: JSON, name: str) -> None:
        user = next(u for u in credentials["users"] if u["name"] == name)
        self.name = name
        self.extension_id = str(user["extensionId"])
        self.http = httpx.Client(base_url=server_url, timeout=10)
        token = self.http.post(
            "/restapi/oauth/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": user["jwt"]},
            auth=(credentials["clientId"], credentials["clientSecret"]),
        )
        if token.status_code != 200:
            raise DemoFailed(f"{name} could not sign in to RingCentral (HTTP {token.status_code})")
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def add_note(self, thread_id: str, text: str) -> JSON:
        response = self.http.post(f"{MT}/notes", json={"threadId": thread_id, "text": text})
        if not response.is_success:
            raise DemoFailed(f"RingCentral refused {self.name}'s note: HTTP {response.status_code}")
        return dict(response.json())

    def close(self) -> None:
        self.http.close()


class Story:
    """The steps, in order; each returns the line to print and raises DemoFailed when it did not happen."""

    def __init__(self, stack: Stack, *, timeout: float = STEP_TIMEOUT) -> None:
        self.stack = stack
        self.timeout = timeout
        assert stack.settings is not None
        self.slack = SlackActor(stack.slack.url, app_url=stack.bot.url)
        self.rc_url = stack.rc.url
        self.handoff: JSON = {}
        self.saved_note_id = ""
        self.polls = 0

    def close(self) -> None:
        self.slack.close()

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("A handler connects their RingCentral account", self.connect),
            (f"#{CHANNEL} is subscribed to the {QUEUE} queue", self.subscribe),
            ("A teammate's handoff note appears in the channel", self.handoff_note),
            ("A Slack message is saved as a note with the shortcut", self.save_with_shortcut),
            ("The note is edited", self.edit),
            ("The note is deleted", self.delete),
            ("A colleague takes over the conversation with the button", self.take_over),
            ("A reply in a two-way Slack thread becomes a note", self.two_way_reply),
        ]

    # -- helpers ---------------------------------------------------------------------------------------------

    def _rc(self, path: str) -> JSON:
        data: JSON = httpx.get(f"{self.rc_url}{path}", timeout=10).json()
        return data

    def _rc_user(self, name: str) -> str:
        return str(next(u["extensionId"] for u in self.stack.rc_credentials["users"] if u["name"] == name))

    def _command(self, text: str, user: str = HANDLER_SLACK, answers: int = 1) -> list[JSON]:
        interaction = self.slack.command(text, user=user, channel=CHANNEL)
        return self.slack.answers(interaction, answers, timeout=self.timeout)

    def _poll_until(self, found: Callable[[], T | None], what: str) -> T:
        """Let the bot poll RingCentral and post (its notifier's `run_once`) until `found()` gives a value."""
        notifier = getattr(self.stack.container, "notifier", None)
        run_once = getattr(notifier, "run_once", None)
        deadline = time.monotonic() + self.timeout
        while True:
            if run_once is not None:
                self.stack.run(run_once(send_seconds=1.5))
                self.polls += 1
            value = found()
            if value is not None:
                return value
            if time.monotonic() > deadline:
                hint = "" if run_once is not None else " (this bot has no channel notifications yet)"
                raise DemoFailed(f"{what} did not show in #{CHANNEL} within {self.timeout:g} s{hint}")
            if run_once is None:
                time.sleep(0.2)

    def _channel_messages(self) -> list[JSON]:
        out = []
        for message in self.slack.messages(CHANNEL):
            out.append(message)
            out.extend(message.get("replies") or [])
        return out

    def _message_of(self, note_id: str, must_show: str = "") -> JSON | None:
        for message in self._channel_messages():
            if note_id_of(message) == note_id and must_show in texts(message.get("blocks") or []):
                return message
        return None

    def _parent(self) -> JSON:
        for message in self.slack.messages(CHANNEL):
            if note_id_of(message) == self.handoff.get("id"):
                return message
        raise DemoFailed(f"the conversation's thread is gone from #{CHANNEL}")

    # -- the steps -------------------------------------------------------------------------------------------

    def _connect(self, user: str, rc_name: str) -> str:
        """`/thread-note connect` as `user`, sign in as `rc_name` on the emulator's page and press Link on the
        bot's confirmation page; returns how the bot names the RingCentral user ("Ben Okafor (ext. 102)")."""
        bodies = self._command("connect", user=user)
        button = find_button(bodies, "connect_open")
        if button is None or not button.get("url"):
            raise DemoFailed(f"/thread-note connect answered {user} without a sign-in link")
        page = httpx.get(
            f"{button['url']}&sandbox_user={self._rc_user(rc_name)}", follow_redirects=True, timeout=10
        )
        if page.status_code != 200 or rc_name not in page.text:
            raise DemoFailed(f"the sign-in ended on HTTP {page.status_code} without naming {rc_name}")
        page = click_link(page)
        if page.status_code != 200 or "Connected" not in page.text:
            raise DemoFailed(f"confirming the link ended on HTTP {page.status_code}")
        named = re.search(rf"as ({re.escape(rc_name)}(?: \(ext\. \d+\))?)", page.text)
        return named.group(1) if named else rc_name  # as the sign-in page and the bot name them

    def connect(self) -> str:
        who = self._connect(HANDLER_SLACK, HANDLER_RC)
        return (
            f"Bob connected his RingCentral account: signed in as {who} on the authorize page, then "
            "confirmed on the bot's page which Slack user it links"
        )

    def subscribe(self) -> str:
        bodies = self._command(f"subscribe {QUEUE}")
        button = find_button(bodies, "subscription_confirm")
        if button is None:
            said = texts(bodies).splitlines()[0] if texts(bodies) else "nothing"
            raise DemoFailed(f"/thread-note subscribe {QUEUE} did not ask to confirm (it said: {said})")
        interaction = self.slack.click(button, user=HANDLER_SLACK, channel=CHANNEL)
        confirmed = texts(self.slack.answers(interaction, 1, timeout=self.timeout))
        if "now receives" not in confirmed:
            raise DemoFailed(
                f"subscribing did not succeed: {confirmed.splitlines()[0] if confirmed else '?'}"
            )
        self._poll_until(lambda: True, "the first poll")  # the subscription starts from now
        return f"Bob subscribed #{CHANNEL} to the {QUEUE} queue (confirming it is a public channel)"

    def handoff_note(self) -> str:
        ana = RingCentralPerson(self.rc_url, self.stack.rc_credentials, TEAMMATE_RC)
        try:
            self.handoff = ana.add_note(THREAD_ID, HANDOFF)
        finally:
            ana.close()
        message = self._poll_until(lambda: self._message_of(self.handoff["id"]), "Ana's handoff note")
        if HANDOFF.split(":")[0] not in texts(message.get("blocks") or []):
            raise DemoFailed("the channel's message does not show the note's text")
        return (
            f"Ana wrote a handoff note in RingCentral \u2192 a new thread in #{CHANNEL} for +1 415-555-0142"
        )

    def save_with_shortcut(self) -> str:
        parent = self._parent()
        said = self.slack.post_as(WRITER_SLACK, CHANNEL, ANSWER, thread_ts=parent["ts"])
        message = next(
            (r for r in self._parent().get("replies") or [] if r["ts"] == said["ts"]), {**said, "user": None}
        )
        self.slack.message_shortcut(message, callback_id=SAVE_SHORTCUT, user=HANDLER_SLACK, channel=CHANNEL)

        def ready() -> JSON | None:
            view = self.slack.modal(HANDLER_SLACK)
            if not view or view.get("callback_id") != SAVE_NOTE:
                return None
            picker = next((b for b in view["blocks"] if b.get("block_id") == THREAD_BLOCK), None)
            if picker is None or not (picker.get("element") or {}).get("initial_option"):
                return None  # the bot fills in the conversation this Slack thread belongs to
            return view

        try:
            view = wait_for(ready, self.timeout, "modal with the conversation picked")
        except SlackActorError as exc:
            raise DemoFailed(f"the shortcut opened {exc}") from None
        picker = next(b for b in view["blocks"] if b.get("block_id") == THREAD_BLOCK)
        option = picker["element"]["initial_option"]
        if option.get("value") != THREAD_ID:
            raise DemoFailed("the modal picked another conversation than the thread's")
        text_block = next(
            b for b in view["blocks"] if (b.get("element") or {}).get("action_id") == TEXT_INPUT
        )
        prefilled = str(text_block["element"].get("initial_value") or "")
        if "ships Friday" not in prefilled:
            raise DemoFailed("the modal was not prefilled with Carol's message")
        values = {
            THREAD_BLOCK: {THREAD_SELECT: {"type": "external_select", "selected_option": option}},
            text_block["block_id"]: {TEXT_INPUT: {"type": "plain_text_input", "value": prefilled}},
        }
        self.slack.submit(view, values, user=HANDLER_SLACK)
        ben = self._rc_user(HANDLER_RC)

        def saved() -> JSON | None:
            notes = self._rc("/sandbox/state")["notes"]
            return next(
                (n for n in notes if n.get("authorId") == ben and "ships Friday" in str(n.get("text"))), None
            )

        try:
            note = wait_for(saved, self.timeout, f"note by {HANDLER_RC} in RingCentral")
        except SlackActorError as exc:
            raise DemoFailed(f"submitting the modal saved {exc}") from None
        self.saved_note_id = str(note["id"])
        self._poll_until(lambda: self._message_of(self.saved_note_id), "The saved note")
        return (
            "Bob saved Carol's reply with \u201cSave as thread note\u201d \u2192 a note, shown in the thread"
        )

    def edit(self) -> str:
        bodies = self._command(f"edit {self.saved_note_id} {EDITED}")
        if "updated" not in texts(bodies).lower() and "saved" not in texts(bodies).lower():
            raise DemoFailed(f"/thread-note edit answered: {texts(bodies).splitlines()[:1]}")
        self._poll_until(lambda: self._message_of(self.saved_note_id, "(edited)"), "The edit")
        return "Bob edited the note (/thread-note edit) \u2192 the thread shows it (edited)"

    def delete(self) -> str:
        bodies = self._command(f"delete {self.saved_note_id}")
        button = find_button(bodies, NOTE_DELETE_CONFIRM)
        if button is None:
            raise DemoFailed("/thread-note delete did not ask to confirm")
        interaction = self.slack.click(button, user=HANDLER_SLACK, channel=CHANNEL)
        try:
            wait_for(
                lambda: "Deleted" in texts(self.slack.answers(interaction, 1)), self.timeout, "confirmation"
            )
        except SlackActorError as exc:
            raise DemoFailed(f"deleting gave {exc}") from None
        self._poll_until(lambda: self._message_of(self.saved_note_id, "(deleted)"), "The deletion")
        return "Bob deleted the note (/thread-note delete) \u2192 struck through in the thread"

    def take_over(self) -> str:
        parent = self._parent()
        button = find_button(parent.get("blocks") or [], TAKE_OVER)
        if button is None:
            raise DemoFailed("the thread's first message has no Take over button")
        self.slack.click(button, user=HANDLER_SLACK, channel=CHANNEL, message=parent)
        ben = self._rc_user(HANDLER_RC)

        def assigned() -> bool:
            thread = next(t for t in self._rc("/sandbox/state")["threads"] if t["id"] == THREAD_ID)
            return str((thread.get("assignee") or {}).get("extensionId")) == ben

        try:
            wait_for(assigned, self.timeout, f"assignment to {HANDLER_RC} in RingCentral")
            wait_for(
                lambda: f"assigned to {HANDLER_RC}" in texts(self._parent().get("blocks") or []),
                self.timeout,
                "new assignee on the thread's first message",
            )
        except SlackActorError as exc:
            raise DemoFailed(f"taking over gave {exc}") from None
        return (
            f"Bob pressed \u201cTake over\u201d \u2192 RingCentral assigns the conversation to {HANDLER_RC}"
        )

    def two_way_reply(self) -> str:
        self._connect(WRITER_SLACK, REPLIER_RC)
        bodies = self._command(f"subscribe {QUEUE} two-way")
        button = find_button(bodies, "subscription_confirm")
        if button is not None:
            bodies = self.slack.answers(self.slack.click(button, user=HANDLER_SLACK, channel=CHANNEL), 1)
        if "two-way" not in texts(bodies):
            raise DemoFailed(f"the subscription did not become two-way: {texts(bodies).splitlines()[:1]}")
        self.slack.post_as(WRITER_SLACK, CHANNEL, TWO_WAY_REPLY, thread_ts=self._parent()["ts"])
        chen = self._rc_user(REPLIER_RC)

        def noted() -> JSON | None:
            notes = self._rc("/sandbox/state")["notes"]
            return next(
                (n for n in notes if n.get("authorId") == chen and n.get("text") == TWO_WAY_REPLY), None
            )

        try:
            wait_for(noted, self.timeout, f"note by {REPLIER_RC} in RingCentral")
        except SlackActorError as exc:
            raise DemoFailed(f"Carol's reply (a Slack message event) made {exc}") from None
        return f"Carol replied in the two-way thread \u2192 a note by {REPLIER_RC} in RingCentral"


class Printer:
    """Short lines with ✓/✗ (plain OK/FAIL where the terminal cannot show them), green and red on a tty."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        encoding = getattr(self.out, "encoding", None) or "utf-8"  # a StringIO has none
        try:
            "✓✗·".encode(encoding)
            self.ok, self.bad, self.skip = "✓", "✗", "·"
        except (UnicodeEncodeError, LookupError):
            self.ok, self.bad, self.skip = "OK", "FAIL", "--"
        color = hasattr(self.out, "isatty") and self.out.isatty() and not os.environ.get("NO_COLOR")
        self._green, self._red, self._dim, self._off = (
            ("\033[32m", "\033[31m", "\033[2m", "\033[0m") if color else ("", "", "", "")
        )

    def line(self, text: str = "") -> None:
        try:
            print(text, file=self.out, flush=True)
        except UnicodeEncodeError:
            print(text.encode("ascii", "replace").decode(), file=self.out, flush=True)

    def passed(self, text: str, seconds: float | None = None) -> None:
        took = f" {self._dim}({seconds:.1f} s){self._off}" if seconds is not None else ""
        self.line(f"  {self._green}{self.ok}{self._off} {text}{took}")

    def failed(self, text: str) -> None:
        self.line(f"  {self._red}{self.bad}{self._off} {text}")

    def skipped(self, text: str) -> None:
        self.line(f"  {self._dim}{self.skip} {text}{self._off}")


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


_FORM_TOKEN = re.compile(r"name='form_token' value='([^']*)'")


def click_link(page: httpx.Response) -> httpx.Response:
    """On the bot's connect confirmation page ("Link Slack user … to RingCentral …?"), press Link as a person
    would: post the page's form back to it. A page without the form (a refusal) is returned as it is."""
    found = _FORM_TOKEN.search(page.text)
    if found is None:
        return page
    token = html.unescape(found.group(1))
    url = str(page.url.copy_with(query=None))
    return httpx.post(url, data={"form_token": token, "decision": "link"}, timeout=10)
