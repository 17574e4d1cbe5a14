"""The stand-ins and the bot, started in this process on free loopback ports."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography.fernet import Fernet

from bot.config import Settings, load_settings
from bot.demo.cast import CALLBACK_PATH, POLL_INTERVAL, STEP_TIMEOUT
from bot.demo.reading import JSON
from bot.servers import BackgroundServer

T = TypeVar("T")


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
