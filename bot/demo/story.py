"""The demo's steps, played through the real interfaces: Slack requests signed like Slack's to the bot, the
emulator's API as the people in RingCentral. Each step checks its outcome where a person would see it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from bot.blockkit.ids import (
    NOTE_DELETE_CONFIRM,
    SAVE_NOTE,
    SAVE_SHORTCUT,
    TAKE_OVER,
    TEXT_INPUT,
    THREAD_BLOCK,
    THREAD_SELECT,
)
from bot.demo.cast import (
    ANSWER,
    CHANNEL,
    EDITED,
    HANDLER_RC,
    HANDLER_SLACK,
    HANDOFF,
    MT,
    QUEUE,
    REPLIER_RC,
    STEP_TIMEOUT,
    TEAMMATE_RC,
    THREAD_ID,
    TWO_WAY_REPLY,
    WRITER_SLACK,
)
from bot.demo.reading import JSON, DemoFailed, click_link, find_button, note_id_of, texts
from bot.demo.stack import Stack
from bot.sandbox.slack.requests import SlackActor, SlackActorError, wait_for

T = TypeVar("T")


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
