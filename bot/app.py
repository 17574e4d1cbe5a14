"""Composition root: builds the store, RingCentral clients, use cases, channel notifications (notifier and
scheduler) and the Slack app from Settings, and wires them together once: the listeners get a frozen
`bot.slack.deps.Deps`. Routing stays visible here and in bot/slack/app.py. The web app (bot/web.py) holds a
Container; `thread-note-bot serve` (bot/serve.py) runs that app.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.notify import Notifier, Subscriptions
from bot.notify.webhook import WebhookSubscription
from bot.notify.workspaces import InstalledWorkspaces, NotInstalled, OneWorkspace, SlackClients
from bot.ringcentral.errors import RingCentralError
from bot.service.accounts import Accounts, SlackPerson, TenantSignIn
from bot.service.clients import ClientFactory
from bot.service.errors import ConnectFailed, LinkRefused
from bot.service.notes import Notes
from bot.service.tenant_link import TenantLinks
from bot.service.types import Actor
from bot.slack.app import create_bolt_app
from bot.slack.deps import Deps
from bot.slack.install import Workspaces
from bot.slack.listen import InFlight
from bot.slack.subscriptions import SlackSubscriptions
from bot.store import Store, StoreError
from bot.store.feed_state import DEPLOYMENT
from bot.store.tenant_accounts import ACTIVE

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

log = get_logger(__name__)

CALLBACK_PATH = "/ringcentral/oauth/callback"
HEALTH_CACHE_SECONDS = 1.0
METRICS_CACHE_SECONDS = 5.0
LISTENER_GRACE_SECONDS = 10.0  # how long `stop` lets listeners still at work finish (as the notifier's jobs)
WEBHOOK_PATH = "/ringcentral/webhook"
PAUSED_ACCOUNT = "paused: RingCentral refused its credential; an admin of its workspace must link it again"


@dataclass(frozen=True)
class ConnectOutcome:
    ok: bool
    title: str
    detail: str
    form_token: str | None = None  # set on the confirmation page: "Link" posts it back


class Container:
    """Everything with a lifetime, started inside the server's event loop and stopped in reverse. `start`
    builds every part once, in dependency order, and hands the listeners a frozen `Deps`."""

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
        # Built by start(), None before it:
        self.store: Store | None = None
        self.clients: ClientFactory | None = None
        self.accounts: Accounts | None = None
        self.tenant_links: TenantLinks | None = None  # a workspace's own RingCentral account (issue 16)
        self.notes: Notes | None = None
        self.notifier: Notifier | None = None  # channel notifications: feed, sender, scheduler, webhook
        self.subscriptions: Subscriptions | None = None  # who may see and make subscriptions
        self.bolt: AsyncApp | None = None
        self.listeners = InFlight()  # Slack listeners still working after their ack: `stop` waits for them
        self._slack: SlackClients | None = None  # the Web API client of each workspace
        self._socket: AsyncSocketModeHandler | None = None
        self._identity: str | None = None
        self._health: tuple[float, dict[str, Any]] | None = None  # (when, report) of the last health probe
        self._metrics_read = -METRICS_CACHE_SECONDS  # when the per-subscription gauges were last read

    @property
    def redirect_uri(self) -> str:
        if self._redirect_uri:
            return self._redirect_uri
        base = self.settings.public_url or f"http://localhost:{self.settings.port}"
        return base + CALLBACK_PATH

    async def start(self) -> None:
        s = self.settings
        self.store = store = await Store.open(
            s.database_url, [k.get_secret_value() for k in s.secret_keys], clock=self._clock
        )
        assert s.ringcentral_client_id and s.ringcentral_client_secret
        self.clients = clients = ClientFactory(
            s.ringcentral_server_url,
            s.ringcentral_client_id,
            s.ringcentral_client_secret.get_secret_value(),
            jwt=s.ringcentral_jwt.get_secret_value() if s.ringcentral_jwt else None,
            transport=self._rc_transport,
            clock=self._clock,
            tenants=store,
        )
        self.accounts = accounts = Accounts(store, clients, redirect_uri=self.redirect_uri, clock=self._clock)
        self.notes = notes = Notes(accounts, store.record_audit, clock=self._clock)
        self._slack = slack = self._slack_clients(store)
        self.notifier = notifier = self._notifier(store, clients, slack)
        self.tenant_links = tenant_links = TenantLinks(
            store, clients, redirect_uri=self.redirect_uri, clock=self._clock,
            on_unlinked=notifier.account_unlinked if notifier is not None else None,
        )  # fmt: skip
        self.subscriptions = subscriptions = Subscriptions(
            store, accounts, notifier,
            admin_subscribe=s.admin_subscribe_allowed, clock=self._clock,
        )  # fmt: skip
        deps = Deps(
            accounts=accounts,
            notes=notes,
            tenant_links=tenant_links,
            account_feed=self._account_feed,
            metrics=self.metrics,
            health=self.health,
            status=self.status_report,
            subscriptions=SlackSubscriptions(subscriptions, notes, store=store, notifier=notifier),
            notifier=notifier,
            store=store,
            tenants=store,
            workspaces=Workspaces(store, slack.forget) if s.oauth else None,
        )
        self.bolt = create_bolt_app(s, deps, self.listeners, store)
        if s.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.bolt, s.slack_app_token.get_secret_value())
            await self._socket.connect_async()  # type: ignore[no-untyped-call]  # slack_bolt: unannotated
        notifier.start()
        log.info("bot.started", mode="socket" if self._socket else "http")

    def _slack_clients(self, store: Store) -> SlackClients:
        """Each workspace's own bot token, from its installation (many workspaces), or the one token."""
        s = self.settings
        if s.oauth:
            return InstalledWorkspaces(store, s.slack_api_url, allowed=s.team_allowed)
        assert s.slack_bot_token is not None
        # no retry handler: the sender honours Retry-After per channel itself
        token = s.slack_bot_token.get_secret_value()
        return OneWorkspace(AsyncWebClient(token=token, base_url=s.slack_api_url, timeout=10))

    def _notifier(self, store: Store, clients: ClientFactory, slack: SlackClients) -> Notifier:
        """Channel notifications: feed, sender, scheduler and (with a public URL) the webhook."""
        s = self.settings
        holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        webhook = None
        if s.public_url:  # real time: RingCentral pushes "something changed", we poll at once
            webhook = WebhookSubscription(
                store, clients.service, address=s.public_url + WEBHOOK_PATH, holder=holder, clock=self._clock
            )
        return Notifier(
            store, clients.service, slack, self.metrics,
            poll_interval=s.poll_interval, clock=self._clock, holder=holder, webhook=webhook,
            lease_ttl=timedelta(seconds=s.lease_ttl) if s.lease_ttl else None,
            recheck_every=s.channel_check_interval, retention_days=s.retention_days,
            deployment_account=s.ringcentral_jwt is not None, service_for=clients.service_for,
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop in reverse. First the listeners still at work after their ack (Bolt runs them as tasks) may
        finish, for LISTENER_GRACE_SECONDS at most, while everything they use is still open: an answer on its
        way still arrives, and none is cancelled later holding a database connection."""
        late = await self.listeners.drain(LISTENER_GRACE_SECONDS)
        if late:
            log.warning("bot.listeners_cut_short", running=late, grace_seconds=LISTENER_GRACE_SECONDS)
        if self.notifier is not None:
            await self.notifier.stop()
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]  # slack_bolt: unannotated
        if self.clients is not None:
            await self.clients.aclose()
        if self.store is not None:
            await self.store.close()
        log.info("bot.stopped")

    # --- things the web routes ask for ----------------------------------------------------------------

    async def complete_connect(
        self, code: str | None, state: str | None, error: str | None
    ) -> ConnectOutcome:
        """RingCentral's redirect: check the sign-in, then ask the person to confirm who gets linked."""
        assert self.accounts is not None
        try:
            waiting = await self.accounts.complete(code, state, error, who=self._slack_person)
        except ConnectFailed as exc:
            return await self._connect_failed(exc)
        if isinstance(waiting, TenantSignIn):
            return await self._tenant_signed_in(waiting)
        ext, person = waiting.extension, waiting.person
        number = f"ext. {ext.extension_number}" if ext.extension_number else f"extension id {ext.id}"
        return ConnectOutcome(
            True,
            "Link your accounts?",
            f"Link Slack user {person.name} in {person.team_name} to RingCentral {ext.name or ext.id} "
            f"({number})? That Slack user will then write notes as this RingCentral user. "
            "If someone sent you this link, choose Cancel.",
            form_token=waiting.form_token,
        )

    async def confirm_connect(self, form_token: str | None, accept: bool) -> ConnectOutcome:
        """The confirmation page's answer: only "Link" stores the link."""
        from bot.slack.connect import announce_connected, announce_taken_over

        assert self.accounts is not None
        try:
            connected = await self.accounts.confirm(form_token, accept=accept)
        except ConnectFailed as exc:
            return await self._connect_failed(exc)
        if connected is None:
            self.metrics.connects.labels("cancelled").inc()
            return ConnectOutcome(False, "Not connected", "Nothing was linked. You can close this tab.")
        self.metrics.connects.labels("ok").inc()
        await announce_connected(await self._slack_for(connected.actor.team_id), connected)
        for other in connected.others:
            await announce_taken_over(await self._slack_for(other.team_id), other, connected)
        ext = connected.extension
        name = ext.name or f"extension id {ext.id}"
        who = f"{name} (ext. {ext.extension_number})" if ext.extension_number else name  # as on sign-in
        return ConnectOutcome(
            True,
            "Connected",
            f"You are connected to RingCentral as {who}. You can close this tab and go back to Slack.",
        )

    async def _tenant_signed_in(self, signed_in: TenantSignIn) -> ConnectOutcome:
        """A workspace admin signed in as the service user: link the workspace to that account, or say why
        not; either way the admin is told in Slack too, where App Home shows the link."""
        from bot.slack.setup import announce_linked

        assert self.tenant_links is not None
        admin = signed_in.actor
        slack = await self._slack_for(admin.team_id)
        try:
            linked = await self.tenant_links.complete_sign_in(admin, signed_in.tokens)
        except LinkRefused as exc:
            await announce_linked(slack, admin, None, exc.sentence)
            return ConnectOutcome(False, "RingCentral account not linked", exc.sentence)
        team = (await self._slack_person(admin)).team_name
        sentence = await announce_linked(slack, admin, linked, None)
        return ConnectOutcome(True, "RingCentral account linked", f"{team}: {sentence}")

    async def _connect_failed(self, exc: ConnectFailed) -> ConnectOutcome:
        from bot.slack.connect import announce_failed

        self.metrics.connects.labels(exc.reason).inc()
        actor = exc.details.get("actor")
        if actor is not None:
            await announce_failed(await self._slack_for(actor.team_id), actor, exc.reason)
        return ConnectOutcome(False, "Not connected", _FAILED.get(exc.reason, _FAILED["exchange_failed"]))

    async def _slack_person(self, actor: Actor) -> SlackPerson:
        """Who the Slack side of a link is: their name, their workspace's name, their email if shared."""
        from slack_sdk.errors import SlackApiError

        from bot.notify.shared import external_person

        slack = await self._slack_for(actor.team_id)
        name, team, email, external = actor.user_id, actor.team_id, None, False
        try:
            user = (await slack.users_info(user=actor.user_id)).get("user") or {}
            profile = user.get("profile") or {}
            name = str(user.get("real_name") or profile.get("real_name") or user.get("name") or name)
            email = profile.get("email") or None
            external = external_person(user, actor.team_id)
            team = str((await slack.auth_test()).get("team") or team)
        except SlackApiError as exc:  # the page then names the ids; the person still decides
            log.info("connect.slack_lookup_failed", error=exc.response.get("error"))
        return SlackPerson(name, team, email, external)

    async def _slack_for(self, team_id: str) -> AsyncWebClient:
        """The Web API client of `team_id`'s workspace (its own bot token when there are many)."""
        assert self.bolt is not None
        if self._slack is None or not self.settings.oauth:
            return self.bolt.client
        try:
            return await self._slack.for_team(team_id)
        except NotInstalled:
            return self.bolt.client  # no token: the message fails and is logged, the page still answers

    async def webhook_event(self, tokens: Sequence[str | None], body: bytes, account: str = "") -> bool:
        """A RingCentral push delivery for `account`'s feed (its subscription's address names it; "" the
        deployment's): with that account's secret in one of `tokens` (its `Verification-Token` and
        `Validation-Token` headers: the docs give both readings), only a hint to poll that account now (on
        whichever replica polls it). Without real time configured, for an account we do not read, or with a
        wrong or missing secret: refused, nothing triggered."""
        notifier = self.notifier
        if notifier is None or notifier.webhook is None:
            return False
        hook = await notifier.feeds.webhook(account)
        if hook is None or not await hook.verify(*tokens):
            log.warning("webhook.refused", token="missing" if not any(tokens) else "wrong", account=account)
            return False
        await notifier.request_poll(account)
        return True

    async def health(self) -> dict[str, Any]:
        """`/healthz` (and the top of `/thread-note status`), read at most once a second however often this is
        called (a public /healthz must not be a way to load the database). `feed` says "ok" or since when
        RingCentral's changes cannot be read; that leaves `ok` (and the 200) alone: the process serves Slack
        and keeps retrying, and restarting it would not help, so an orchestrator must not kill it over
        RingCentral."""
        now = time.monotonic()
        if self._health is None or now - self._health[0] >= HEALTH_CACHE_SECONDS:
            report: dict[str, Any] = {"ok": True, "mode": "socket" if self._socket else "http"}
            try:
                assert self.store is not None
                await self.store.get_state("health")
                report["database"] = "ok"
                if self.notifier is not None:
                    report["feed"] = (await self.notifier.feed_health()).describe()
                    accounts = await self.notifier.accounts_health()
                    if accounts:  # workspaces' own accounts: how many, and each one not well by name
                        report["accounts"] = {
                            "linked": len(accounts),
                            **{
                                a: PAUSED_ACCOUNT if paused else health.describe()
                                for a, (health, paused) in accounts.items()
                                if paused or health.failures
                            },
                        }
            except Exception as exc:  # health reports, never raises
                report.update(ok=False, database=type(exc).__name__)
            self._health = (now, report)
        return dict(self._health[1])

    async def status_report(self, actor: Actor, slack: AsyncWebClient) -> dict[str, Any]:
        """For `/thread-note status`: health, the bot's own RingCentral identity, and the figures of the
        subscriptions the person may see: their workspace's only, and of those the same ones as
        `subscriptions all` shows them (public channels, private ones they made, everything for an admin)."""
        report = await self.health()
        report.pop("accounts", None)  # the operators' view of every workspace's account: not one workspace's
        notifier, service = self.notifier, self.subscriptions
        if report.get("database") != "ok":
            report["ringcentral_identity"] = await self._service_identity()
            return report
        # A workspace that linked its own RingCentral account is told of that account only: its service
        # user, its feed and its webhook, never the deployment's (another company's, in a hosted deployment).
        assert self.store is not None
        own = await self.store.tenant_account(actor.team_id)
        account = own.account_id if own is not None else DEPLOYMENT
        if own is None:
            report["ringcentral_identity"] = await self._service_identity()
        else:
            report["ringcentral_identity"] = (
                f"{own.account_name or 'extension'} (extension id {own.extension_id}), "
                f"of this workspace's own account {own.account_id}"
            )
        report["stored_secrets"] = await self._secrets_alarm()
        if notifier is not None and own is not None:
            report["feed"] = (
                f"paused: {own.paused_reason or 'RingCentral refused the credential'}. An admin links the "
                "account again from App Home or `/thread-note setup`"
                if own.status != ACTIVE
                else (await notifier.feed_health(account)).describe()
            )
        if notifier is not None and service is not None:
            visible = await service.listed(actor, None, admin=await service.is_admin(actor, slack))
            report["notifications"] = await notifier.health(visible)
            if notifier.webhook is not None:
                hook = await notifier.feeds.webhook(account)
                alarm = (
                    await hook.alarm() if hook is not None else "off while this workspace's account is paused"
                )
                report["real_time"] = alarm or "on (RingCentral pushes changes; polling runs as well)"
        return report

    async def _account_feed(self, account: str) -> str:
        return (await self.notifier.feed_health(account)).describe() if self.notifier is not None else "ok"

    async def _secrets_alarm(self) -> str:
        """ "ok", or the alarm of a wrong THREAD_NOTE_SECRET_KEY with the next step."""
        assert self.store is not None
        bad, total = await self.store.undecryptable_secrets()
        self.metrics.undecryptable_secrets.set(bad)
        if not bad:
            return "ok"
        return (
            f"ALARM: {bad} of {total} can't be decrypted with THREAD_NOTE_SECRET_KEY (a wrong key?): the "
            "admin should run `thread-note-bot check`; people affected must connect again"
        )

    async def refresh_metrics(self) -> None:
        """Per-subscription gauges, the webhook's and the undecryptable-secrets gauge, read from the store at
        scrape time, at most once every METRICS_CACHE_SECONDS (scrapes in between get the same figures:
        scraping fast costs nothing)."""
        now = time.monotonic()
        if now - self._metrics_read < METRICS_CACHE_SECONDS:
            return
        self._metrics_read = now
        try:
            if self.store is not None:
                self.metrics.undecryptable_secrets.set((await self.store.undecryptable_secrets())[0])
            if self.notifier is not None:
                self.metrics.set_subscriptions(await self.notifier.status())
                self.metrics.set_feed(await self.notifier.feed_health())
                for account, (health, paused) in (await self.notifier.accounts_health()).items():
                    self.metrics.set_feed(health, account)
                    self.metrics.account_paused.labels(account).set(1 if paused else 0)
                if self.notifier.webhook is not None:
                    self.metrics.set_webhook(await self.notifier.webhook.status())
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
    "other_account": (
        "This RingCentral user belongs to another RingCentral account than the one your Slack workspace "
        "uses, so nothing was linked."
    ),
    "external_user": (
        "This Slack user belongs to another organisation than the workspace this app serves, so nothing was "
        "linked."
    ),
    "email_mismatch": (
        "The RingCentral user you signed in as has another email address than the Slack user who asked for "
        "this link, so nothing was linked: each person connects their own account."
    ),
}
