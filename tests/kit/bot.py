"""The bot itself, running for real: `thread-note-bot serve`'s web app on a loopback port, wired to the
RingCentral emulator (`rc_sandbox`) and the Slack stand-in (`slack_standin`), with every request it sends to
RingCentral checked against the official spec (`spec_transport`).

    def test_x(bot):
        bot.connect("alice", "Ana Alvarez")            # real OAuth, through the emulator's authorize page
        replies = bot.command("list +14155550142")      # signed /thread-note; waits for the answers
        assert "Handoff" in replies.text
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.config import Settings, load_settings
from bot.demo import click_link
from bot.servers import BackgroundServer
from bot.store import Store
from bot.web import create_web_app
from tests.kit.openapi import validator_for
from tests.kit.rc import RcAdmin, RcSandbox, SpecTransport
from tests.kit.slack import SlackRequests, SlackStandin

JSON = dict[str, Any]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; the bot works after acknowledging, in its own thread."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def texts(node: Any) -> str:
    """Every piece of text in a Slack payload, joined: for assertions on what a person would read."""
    out: list[str] = []

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            for key, value in n.items():
                if key in ("text", "initial_value") and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(n, list):
            for item in n:
                walk(item)

    walk(node)
    return "\n".join(out)


@dataclass
class Replies:
    """What the bot answered one interaction: the acknowledgement and what it posted to the response_url."""

    ack: JSON | None
    bodies: list[JSON] = field(default_factory=list)

    @property
    def text(self) -> str:
        return texts([self.ack or {}, *self.bodies])

    @property
    def last(self) -> JSON:
        return self.bodies[-1]

    def buttons(self) -> list[JSON]:
        found: list[JSON] = []

        def walk(n: Any) -> None:
            if isinstance(n, dict):
                if n.get("type") == "button":
                    found.append(n)
                for value in n.values():
                    walk(value)
            elif isinstance(n, list):
                for item in n:
                    walk(item)

        walk(self.bodies)
        return found

    def button(self, action_id: str) -> JSON:
        return next(b for b in self.buttons() if b.get("action_id") == action_id)


def _ack_body(response: httpx.Response) -> JSON | None:
    """An acknowledgement's body: JSON, or plain text (Bolt sends a text-only ack as text/plain)."""
    if not response.content:
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        return dict(response.json())
    return {"text": response.text}


@dataclass
class RunningBot:
    """The running bot and what surrounds it; `rc_admin` drives the emulator's control routes."""

    url: str
    settings: Settings
    slack: SlackStandin
    rc: RcSandbox
    requests: SlackRequests
    database_url: str
    rc_admin: RcAdmin

    def metrics(self) -> str:
        """GET /metrics on the public port with the operators' token (the kit's bots have one; without it
        the public port serves no metrics). Figures are read at most every few seconds: poll with wait_for."""
        token = self.settings.metrics_token
        assert token is not None, "start this bot with THREAD_NOTE_METRICS_TOKEN to read /metrics"
        auth = {"Authorization": f"Bearer {token.get_secret_value()}"}
        response = httpx.get(f"{self.url}/metrics", headers=auth, timeout=10)
        response.raise_for_status()
        return response.text

    def health(self) -> JSON:
        """The detailed GET /healthz (the operators' token); the public one says only ok or not."""
        token = self.settings.metrics_token
        assert token is not None, "start this bot with THREAD_NOTE_METRICS_TOKEN to read the detail"
        auth = {"Authorization": f"Bearer {token.get_secret_value()}"}
        response = httpx.get(f"{self.url}/healthz", headers=auth, timeout=10)
        assert response.status_code in (200, 503), response.text
        return dict(response.json())

    def _answers(self, response_url: str, settle: Callable[[list[JSON]], bool], timeout: float) -> list[JSON]:
        rid = urlsplit(response_url).path.rstrip("/").rsplit("/", 1)[-1]

        def mine() -> list[JSON]:
            return [r["body"] for r in self.slack.responses() if r["id"] == rid]

        wait_for(lambda: settle(mine()), timeout, f"the bot's answer on {rid}")
        return mine()

    def command(
        self,
        text: str,
        *,
        user: str = "alice",
        channel: str = "general",
        answers: int = 1,
        timeout: float = 10.0,
    ) -> Replies:
        """Send `/thread-note <text>` signed like Slack; wait for `answers` posts to its response_url."""
        payload = self.requests.payloads.command(text, user=user, channel=channel)
        response = self.requests.send(self.requests.form(payload))
        assert response.status_code == 200, response.text
        ack = _ack_body(response)
        bodies = (
            self._answers(payload["response_url"], lambda got: len(got) >= answers, timeout)
            if answers
            else []
        )
        return Replies(ack, bodies)

    def click(
        self,
        button: JSON,
        *,
        user: str = "alice",
        channel: str = "general",
        answers: int = 1,
        timeout: float = 10.0,
        **kw: Any,
    ) -> Replies:
        """Click a button the bot posted (its action_id and value), from a message in `channel`."""
        payload = self.requests.payloads.block_action(
            button["action_id"], button.get("value"), user=user, channel=channel, **kw
        )
        response = self.requests.send(self.requests.interactive(payload))
        assert response.status_code == 200, response.text
        url = payload.get("response_url")
        bodies = self._answers(url, lambda got: len(got) >= answers, timeout) if url and answers else []
        return Replies(_ack_body(response), bodies)

    def authorize_url(self, user: str = "alice") -> str:
        replies = self.command("connect", user=user)
        return str(replies.button("connect_open")["url"])

    def connect(self, user: str, rc_user: str) -> httpx.Response:
        """The whole connect flow: `/thread-note connect`, then the emulator's authorize page signs `rc_user`
        in and redirects to the bot's callback. Returns the callback's page."""
        url = self.authorize_url(user)
        return self.visit_authorize(url, rc_user)

    def visit_authorize(self, url: str, rc_user: str, *, confirm: bool = True) -> httpx.Response:
        """Sign `rc_user` in on the emulator's authorize page; the bot's callback page then asks which Slack
        user to link, and (`confirm`) the person presses Link. Returns the last page."""
        ext = self.rc.user(rc_user).extension_id
        page = httpx.get(url + f"&sandbox_user={ext}", follow_redirects=True, timeout=10.0)
        return click_link(page) if confirm else page

    def modal(
        self,
        user: str = "alice",
        *,
        callback_id: str | None = None,
        where: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0,
    ) -> JSON:
        """The modal on top of `user`'s stack, once it has `callback_id` (and satisfies `where`)."""

        def top() -> JSON | None:
            state = self.slack.views(user)
            uid = self.slack.user_id(user)
            stack = state["modal_stacks"].get(uid) or []
            if not stack:
                return None
            view = next((v for v in state["views"] if v["id"] == stack[-1]), None)
            if view is None or (callback_id and view.get("callback_id") != callback_id):
                return None
            return view if where is None or where(view) else None

        return dict(wait_for(top, timeout, f"a {callback_id or 'modal'} view for {user}"))

    def home(self, user: str = "alice", timeout: float = 10.0) -> JSON:
        return dict(wait_for(lambda: self.slack.home_view(user), timeout, f"{user}'s Home tab"))

    def submit(self, view: JSON, values: JSON, *, user: str = "alice") -> httpx.Response:
        """Submit `view` (as the app last published it) with `values` ({block: {action: value}})."""
        payload = self.requests.payloads.view_submission(view, values, user=user)
        return self.requests.send(self.requests.interactive(payload))

    def rc_state_notes(self) -> list[JSON]:
        """Every note the emulator holds (all threads), as stored."""
        state = httpx.get(f"{self.rc.url}/sandbox/state", timeout=10.0).json()
        return list(state["notes"])

    def dms(self, user: str) -> list[JSON]:
        """Messages the bot sent `user` directly (channel = the user's id)."""
        uid = self.slack.user_id(user)
        return [c for c in self.slack.calls("chat.postMessage") if c["args"].get("channel") == uid]


KIT_METRICS_TOKEN = "kit-operators-token-0123456789"


def make_settings(
    *, slack: SlackStandin, rc: RcSandbox, database_url: str, public_url: str, **extra: Any
) -> Settings:
    service = rc.service_user
    values: JSON = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.api_url,
        "RINGCENTRAL_SERVER_URL": rc.url,
        "RINGCENTRAL_CLIENT_ID": rc.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc.client_secret,
        "RINGCENTRAL_JWT": service.jwt,
        "THREAD_NOTE_DATABASE_URL": database_url,
        "THREAD_NOTE_SECRET_KEY": Fernet.generate_key().decode(),
        "THREAD_NOTE_PUBLIC_URL": public_url,
        "THREAD_NOTE_POLL_INTERVAL": "1",
        # The public port serves /metrics only to this bearer (RunningBot.metrics() sends it).
        "THREAD_NOTE_METRICS_TOKEN": KIT_METRICS_TOKEN,
        **extra,
    }
    return load_settings(env_file=None, **{k: v for k, v in values.items()})


MigratedSqlite = Callable[[Path], str]


async def _migrate(path: Path) -> None:
    store = await Store.open(f"sqlite:///{path}", [Fernet.generate_key().decode()])
    await store.close()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> MigratedSqlite:
    """`url = migrated_sqlite(tmp_path / "bot.db")`: a SQLite file already at the schema's head, copied from
    one migrated once per worker. Migrating an empty file costs the bot's start-up 1-2 s (most of a short
    test's set-up); at head it finds nothing to do. Empty databases are migrated by tests/store (every
    backend), the CLI's and `check`'s tests. The file holds no rows: nothing of one test reaches another."""
    template = tmp_path_factory.mktemp("migrated") / "head.db"
    asyncio.run(_migrate(template))
    leftovers = [p.name for p in template.parent.iterdir() if p != template]
    assert not leftovers, f"the template's WAL was not checkpointed: {leftovers}"

    def copy(path: Path) -> str:
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    return copy


@pytest.fixture
def bot_database_url(tmp_path: Path, migrated_sqlite: MigratedSqlite) -> str:
    return migrated_sqlite(tmp_path / "bot.db")


class BotSpecTransport(SpecTransport):
    """Spec validation for the bot's RingCentral traffic. The bot closes its transport itself, in its own
    event loop, when it stops; so here closing really closes."""

    async def aclose(self) -> None:
        await self.really_close()


@contextmanager
def running_bot(
    rc: RcSandbox,
    rc_admin: RcAdmin,
    slack: SlackStandin,
    slack_request: SlackRequests,
    database_url: str,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> Iterator[RunningBot]:
    """The bot's web app on a free loopback port against both stand-ins; `env` adds settings (by their
    environment names), `overrides` go to `create_web_app` (e.g. `clock=`). Every RingCentral exchange it
    made must conform to the spec."""
    server = BackgroundServer()
    settings = make_settings(
        slack=slack, rc=rc, database_url=database_url, public_url=server.url, **(env or {})
    )
    transport = BotSpecTransport(validator=validator_for(rc.settings.profile))
    server.app = create_web_app(settings, rc_transport=transport, **overrides)
    server.start(timeout=30)
    slack_request.app_url = server.url
    try:
        yield RunningBot(server.url, settings, slack, rc, slack_request, database_url, rc_admin)
    finally:
        server.stop()
    assert not transport.violations, transport.report()


@pytest.fixture
def bot(
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    bot_database_url: str,
) -> Iterator[RunningBot]:
    with running_bot(rc_sandbox, rc_admin, slack_standin, slack_request, bot_database_url) as running:
        yield running


def button_value(button: JSON) -> Any:
    return json.loads(button["value"])


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)
