"""Composition root: builds the store, RingCentral clients, use cases, the Slack app and (later) the
scheduler from Settings, and wires them together. Routing stays visible here and in bot/slack/app.py.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp

from bot.config import Settings, load_settings, serve_required
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.ringcentral.errors import RingCentralError
from bot.service.accounts import Accounts
from bot.service.clients import ClientFactory
from bot.service.errors import ConnectFailed
from bot.service.notes import Notes
from bot.service.types import Actor
from bot.store import Store, StoreError

log = get_logger(__name__)

CALLBACK_PATH = "/ringcentral/oauth/callback"
WEBHOOK_PATH = "/ringcentral/webhook"


@dataclass(frozen=True)
class ConnectOutcome:
    ok: bool
    title: str
    detail: str


class Container:
    """Everything with a lifetime, started inside the server's event loop and stopped in reverse."""

    def __init__(
        self,
        settings: Settings,
        *,
        rc_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        redirect_uri: str | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self._rc_transport = rc_transport
        self._clock = clock
        self._redirect_uri = redirect_uri
        self.store: Store | None = None
        self.clients: ClientFactory | None = None
        self.accounts: Accounts | None = None
        self.notes: Notes | None = None
        self.bolt: AsyncApp | None = None
        self._socket: Any = None
        self._identity: str | None = None
        self.notifier: Any = None  # bot.notify.Notifier (channel notifications)

    @property
    def redirect_uri(self) -> str:
        if self._redirect_uri:
            return self._redirect_uri
        base = self.settings.public_url or f"http://localhost:{self.settings.port}"
        return base + CALLBACK_PATH

    async def start(self) -> None:
        s = self.settings
        self.store = await Store.open(
            s.database_url, [k.get_secret_value() for k in s.secret_keys], clock=self._clock
        )
        assert s.ringcentral_client_id and s.ringcentral_client_secret
        self.clients = ClientFactory(
            s.ringcentral_server_url,
            s.ringcentral_client_id,
            s.ringcentral_client_secret.get_secret_value(),
            jwt=s.ringcentral_jwt.get_secret_value() if s.ringcentral_jwt else None,
            transport=self._rc_transport,
            clock=self._clock,
        )
        self.accounts = Accounts(self.store, self.clients, redirect_uri=self.redirect_uri, clock=self._clock)
        self.notes = Notes(self.accounts, self.store.record_audit, clock=self._clock)

        from bot.slack.app import create_bolt_app
        from bot.slack.deps import Deps

        deps = Deps(
            accounts=self.accounts,
            notes=self.notes,
            metrics=self.metrics,
            health=self.health,
            status=self.status_report,
        )
        self.notifier, deps.subscriptions = self._notifications()
        if s.oauth:
            from bot.slack.install import Workspaces

            deps.workspaces = Workspaces(self.store, self.notifier.clients.forget)
        self.bolt = create_bolt_app(s, deps, self.store)
        if s.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.bolt, s.slack_app_token.get_secret_value())
            await self._socket.connect_async()
        self.notifier.start()
        log.info("bot.started", mode="socket" if self._socket else "http")

    def _notifications(self) -> tuple[Any, Any]:
        """Channel notifications: the notifier (feed, sender, scheduler, webhook) and its Slack side."""
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.notify import Notifier, Subscriptions
        from bot.notify.webhook import WebhookSubscription
        from bot.notify.workspaces import InstalledWorkspaces, OneWorkspace, SlackClients
        from bot.slack.subscriptions import SlackSubscriptions

        assert self.store and self.clients and self.accounts and self.notes
        s = self.settings
        slack: SlackClients
        if s.oauth:  # each workspace's own bot token, from its installation
            slack = InstalledWorkspaces(self.store, s.slack_api_url, allowed=s.team_allowed)
        else:
            assert s.slack_bot_token is not None
            # no retry handler: the sender honours Retry-After per channel itself
            token = s.slack_bot_token.get_secret_value()
            slack = OneWorkspace(AsyncWebClient(token=token, base_url=s.slack_api_url, timeout=10))
        holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        webhook = None
        if s.public_url:  # real time: RingCentral pushes "something changed", we poll at once
            webhook = WebhookSubscription(
                self.store, self.clients.service, address=s.public_url + WEBHOOK_PATH, holder=holder,
                clock=self._clock,
            )  # fmt: skip
        notifier = Notifier(
            self.store, self.clients.service, slack, self.metrics,
            poll_interval=s.poll_interval, clock=self._clock, holder=holder, webhook=webhook,
            lease_ttl=timedelta(seconds=s.lease_ttl) if s.lease_ttl else None,
        )  # fmt: skip
        service = Subscriptions(
            self.store, self.accounts, self.clients.service, notifier,
            admin_subscribe=s.admin_subscribe_allowed, clock=self._clock,
        )  # fmt: skip
        return notifier, SlackSubscriptions(service, self.notes)

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
        if self._socket is not None:
            await self._socket.close_async()
        if self.clients is not None:
            await self.clients.aclose()
        if self.store is not None:
            await self.store.close()
        log.info("bot.stopped")

    # --- things the web routes ask for ----------------------------------------------------------------

    async def complete_connect(
        self, code: str | None, state: str | None, error: str | None
    ) -> ConnectOutcome:
        assert self.accounts is not None and self.bolt is not None
        from bot.slack.connect import announce_connected, announce_failed

        try:
            connected = await self.accounts.complete(code, state, error)
        except ConnectFailed as exc:
            self.metrics.connects.labels(exc.reason).inc()
            actor = exc.details.get("actor")
            if actor is not None:
                await announce_failed(await self._slack_for(actor.team_id), actor, exc.reason)
            return ConnectOutcome(False, "Not connected", _FAILED.get(exc.reason, _FAILED["exchange_failed"]))
        self.metrics.connects.labels("ok").inc()
        await announce_connected(await self._slack_for(connected.actor.team_id), connected)
        name = connected.extension.name or connected.extension.id
        return ConnectOutcome(
            True,
            "Connected",
            f"You are connected to RingCentral as {name} (extension {connected.extension.id}). "
            "You can close this tab and go back to Slack.",
        )

    async def _slack_for(self, team_id: str) -> Any:
        """The Web API client of `team_id`'s workspace (its own bot token when there are many)."""
        from bot.notify.workspaces import NotInstalled

        assert self.bolt is not None
        if self.notifier is None or not self.settings.oauth:
            return self.bolt.client
        try:
            return await self.notifier.clients.for_team(team_id)
        except NotInstalled:
            return self.bolt.client  # no token: the message fails and is logged, the page still answers

    async def webhook_event(self, verification_token: str | None, body: bytes) -> bool:
        """A RingCentral push delivery: with the right Verification-Token, only a hint to poll now (on
        whichever replica polls). Without real time configured, or with a wrong or missing token: refused,
        nothing triggered."""
        notifier = self.notifier
        if notifier is None or notifier.webhook is None:
            return False
        if not await notifier.webhook.verify(verification_token):
            log.warning("webhook.refused", token="missing" if not verification_token else "wrong")
            return False
        await notifier.request_poll()
        return True

    async def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {"ok": True, "mode": "socket" if self._socket else "http"}
        try:
            assert self.store is not None
            await self.store.get_state("health")
            report["database"] = "ok"
        except Exception as exc:  # health reports, never raises
            report.update(ok=False, database=type(exc).__name__)
        return report

    async def status_report(self, actor: Actor) -> dict[str, Any]:
        """For `/thread-note status`: health, the bot's own RingCentral identity, and the figures of the
        person's workspace's subscriptions (never another workspace's)."""
        report = await self.health()
        report["ringcentral_identity"] = await self._service_identity()
        if self.notifier is not None and report.get("database") == "ok":
            report["notifications"] = await self.notifier.health(actor.team_id)
        return report

    async def refresh_metrics(self) -> None:
        """Per-subscription gauges, read from the store at scrape time."""
        if self.notifier is not None:
            try:
                self.metrics.set_subscriptions(await self.notifier.status())
            except StoreError as exc:  # a scrape reports what it can
                log.warning("metrics.refresh_failed", error=type(exc).__name__)

    async def _service_identity(self) -> str:
        if self._identity is None:
            assert self.clients is not None
            try:
                ext = await self.clients.service().get_extension()
            except RingCentralError as exc:
                return f"unknown ({type(exc).__name__}: RingCentral did not answer)"
            self._identity = f"{ext.name or 'extension'} (extension id {ext.id})"
        return self._identity


_FAILED = {
    "missing_state": "This sign-in link is incomplete. Start again with /thread-note connect in Slack.",
    "bad_state": "This sign-in link has expired or was already used. Start again with /thread-note connect.",
    "denied": (
        "You declined access in RingCentral, so nothing was connected. Use /thread-note connect to retry."
    ),
    "no_code": "RingCentral did not send a sign-in code. Start again with /thread-note connect in Slack.",
    "exchange_failed": (
        "RingCentral did not accept the sign-in. Start again with /thread-note connect in Slack."
    ),
}


def run_serve(host: str, port: int | None) -> int:
    settings = load_settings()
    settings.require(*serve_required(settings))
    from bot.web import serve

    return serve(settings, host=host, port=port if port is not None else settings.port)
