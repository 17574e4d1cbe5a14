"""Many workspaces: Slack's OAuth install flow with slack-sdk's store interfaces implemented on our database.

- `StoreInstallationStore` implements `AsyncInstallationStore` (save, find bot/installation, delete) over
  `bot/store/slack_installs.py`: installations and bots are kept as JSON encrypted whole with
  THREAD_NOTE_SECRET_KEY (slack-sdk's own stores keep tokens in plain text).
- `StoreOAuthStateStore` implements `AsyncOAuthStateStore`: one-time states, kept hashed, consumed atomically
  (a replayed or foreign `state` fails), so every replica shares them.
- `oauth_settings(settings, store)`: Bolt's `AsyncOAuthSettings` with both, `/slack/install` and
  `/slack/oauth_redirect`, the scopes of `manifest.yml`, and Slack's authorize page next to SLACK_API_URL.
- Only the workspaces (or Enterprise orgs) of SLACK_ALLOWED_TEAMS may install: the install page is refused
  while the setting is unset (`install_refused_page`), an installation of any other team is not stored
  (nothing of it, its token included, is kept) and the installer is shown why (`refused_install`); each
  refusal is logged.
- `allowed_teams_gate(settings)`: the `before_authorize` middleware that refuses every request (command,
  shortcut, action, event, options, view) of a team outside the list, even one with a stored installation,
  with a sentence where Slack shows one.
- the listeners `app_uninstalled` and `tokens_revoked` (routed only with many workspaces) pause the
  workspace's subscriptions (their rows wait; nothing is deleted) and forget its installation; a revoked user
  token forgets only that user's.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from logging import Logger, getLogger
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import (
    is_event,
    is_options,
    is_slash_command,
    is_view_submission,
)
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.config import Settings
from bot.logs import get_logger
from bot.pages import page
from bot.slack.deps import Deps
from bot.store import UndecryptableSecret
from bot.store.protocols import SlackInstallStore, UninstallStore

log = get_logger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_TTL = timedelta(minutes=10)
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe: slack-sdk's dicts carry datetimes (installed_at, token expiries) → epoch seconds."""
    return {k: v.timestamp() if isinstance(v, datetime) else v for k, v in data.items()}


ALLOWED_SETTING = "SLACK_ALLOWED_TEAMS"


class TeamNotAllowed(BoltError):
    """An installation of a team (or Enterprise org) that SLACK_ALLOWED_TEAMS does not list."""

    def __init__(self, team_id: str | None, enterprise_id: str | None) -> None:
        super().__init__(f"team {team_id} (enterprise {enterprise_id}) is not in {ALLOWED_SETTING}")
        self.team_id = team_id
        self.enterprise_id = enterprise_id


def not_allowed_sentence(team_id: str | None) -> str:
    return (
        f"This app is not enabled for this Slack workspace ({team_id or 'unknown'}): its operator lists the "
        f"workspaces it serves in {ALLOWED_SETTING}. Ask them to add this workspace's team id if it should "
        "be served."
    )


class StoreInstallationStore(AsyncInstallationStore):
    def __init__(
        self,
        store: SlackInstallStore,
        client_id: str,
        allowed: Callable[[str | None, str | None], bool] = lambda team_id, enterprise_id: True,
    ) -> None:
        self._store = store
        self.client_id = client_id
        self._allowed = allowed
        self._logger = getLogger(__name__)

    @property
    def logger(self) -> Logger:
        return self._logger

    async def async_save(self, installation: Installation) -> None:
        if not self._allowed(installation.team_id, installation.enterprise_id):
            log.warning(
                "slack.install_refused", team_id=installation.team_id,
                enterprise_id=installation.enterprise_id, reason=f"not in {ALLOWED_SETTING}",
            )  # fmt: skip
            raise TeamNotAllowed(installation.team_id, installation.enterprise_id)
        bot = _plain(installation.to_bot().to_dict()) if installation.bot_token else None
        await self._store.save_slack_installation(
            installation.enterprise_id,
            None if installation.is_enterprise_install else installation.team_id,
            installation.user_id,
            _plain(installation.to_dict()),
            bot,
        )
        log.info("slack.installed", team_id=installation.team_id, user_id=installation.user_id)

    async def async_save_bot(self, bot: Bot) -> None:
        team = None if bot.is_enterprise_install else bot.team_id
        await self._store.save_slack_bot(bot.enterprise_id, team, _plain(bot.to_dict()))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        team = None if is_enterprise_install else team_id
        try:
            data = await self._store.find_slack_bot(enterprise_id, team)
        except UndecryptableSecret as exc:
            _undecryptable(exc, enterprise_id, team)
            return None
        return Bot(**data) if data else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        team = None if is_enterprise_install else team_id
        try:
            data = await self._store.find_slack_installation(enterprise_id, team, user_id)
            # The user's own row may hold an older bot token: the workspace's bot is the current one.
            bot = await self._store.find_slack_bot(enterprise_id, team) if data and user_id else None
        except UndecryptableSecret as exc:
            _undecryptable(exc, enterprise_id, team)
            return None
        if data is None:
            return None
        installation = Installation(**data)
        if user_id is not None:
            if bot is None:
                return None
            installation.bot_token = bot.get("bot_token")
            installation.bot_id = bot.get("bot_id")
            installation.bot_user_id = bot.get("bot_user_id")
            installation.bot_scopes = bot.get("bot_scopes") or installation.bot_scopes
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._store.delete_slack_bot(enterprise_id, team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self._store.delete_slack_installations(enterprise_id, team_id, user_id)


def _undecryptable(exc: UndecryptableSecret, enterprise_id: str | None, team_id: str | None) -> None:
    """A workspace's installation that no key decrypts (a wrong THREAD_NOTE_SECRET_KEY): one clear error line,
    and the workspace is treated as not installed until the key is fixed or the app is installed again."""
    log.error(
        "slack.installation_undecryptable",
        enterprise_id=enterprise_id,
        team_id=team_id,
        hint=f"{exc}; or install the app in that workspace again",
    )


class StoreOAuthStateStore(AsyncOAuthStateStore):
    def __init__(self, store: SlackInstallStore, ttl: timedelta = STATE_TTL) -> None:
        self._store = store
        self.expiration_seconds = int(ttl.total_seconds())
        self._ttl = ttl
        self._logger = getLogger(__name__)

    @property
    def logger(self) -> Logger:
        return self._logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        await self._store.issue_slack_state(state, self._ttl)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self._store.consume_slack_state(state)


def manifest_scopes() -> list[str]:
    """The bot scopes of `manifest.yml` (one list to keep in step), or the same list if it is not shipped."""
    try:
        manifest = yaml.safe_load(MANIFEST.read_text())
        return list(manifest["oauth_config"]["scopes"]["bot"])
    except (OSError, KeyError, TypeError):
        return ["commands", "chat:write", "users:read", "channels:read", "groups:read", "channels:history",
                "groups:history"]  # fmt: skip


def authorize_url(api_url: str) -> str:
    """Slack's authorize page beside its Web API (`https://slack.com/api/` → `https://slack.com/oauth/v2/
    authorize`), so a stand-in named by SLACK_API_URL serves both."""
    return urljoin(api_url if api_url.endswith("/") else api_url + "/", "../oauth/v2/authorize")


def oauth_settings(settings: Settings, store: SlackInstallStore) -> AsyncOAuthSettings:
    assert settings.slack_client_id and settings.slack_client_secret
    base = settings.public_url or f"http://localhost:{settings.port}"
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=manifest_scopes(),
        installation_store=StoreInstallationStore(store, settings.slack_client_id, settings.team_allowed),
        callback_options=AsyncCallbackOptions(success=_installed, failure=_install_failed),
        state_store=StoreOAuthStateStore(store),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        redirect_uri=base + REDIRECT_PATH,
        authorization_url=authorize_url(settings.slack_api_url),
        state_expiration_seconds=int(STATE_TTL.total_seconds()),
    )


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    return await args.default.success(args)


async def _install_failed(args: AsyncFailureArgs) -> BoltResponse:
    """Bolt's own failure page, except for a team outside SLACK_ALLOWED_TEAMS: the installer is told why
    (its installation was not stored)."""
    if not isinstance(args.error, TeamNotAllowed):
        return await args.default.failure(args)
    return refused_install(args.error.team_id)


def refused_install(team_id: str | None) -> BoltResponse:
    return BoltResponse(
        status=403,
        body=page("Not installed", not_allowed_sentence(team_id)),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )


def install_refused_page() -> str:
    """The install page while SLACK_ALLOWED_TEAMS is unset with many workspaces."""
    return page(
        "Installing is closed",
        f"This app serves only the Slack workspaces its operator lists in {ALLOWED_SETTING}, and that "
        f"setting is empty, so no workspace can install it. Operator: set {ALLOWED_SETTING} to the "
        "comma-separated team ids (T…) or Enterprise org ids (E…) to serve, then restart.",
    )


def allowed_teams_gate(
    settings: Settings,
) -> Callable[[AsyncBoltRequest, BoltResponse, Callable[[], Awaitable[Any]]], Awaitable[Any]]:
    """Bolt `before_authorize` middleware: a request of a team SLACK_ALLOWED_TEAMS does not let in is
    answered with a refusal and goes no further (no listener, no token lookup). Slack's handshakes (no team)
    and uninstall events (they only remove what we hold) pass."""

    async def gate(req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[Any]]) -> Any:
        team_id, enterprise_id = req.context.team_id, req.context.enterprise_id
        event_type = (req.body.get("event") or {}).get("type") if is_event(req.body) else None
        if (team_id is None and enterprise_id is None) or event_type in ("app_uninstalled", "tokens_revoked"):
            return await next()
        if settings.team_allowed(team_id, enterprise_id):
            return await next()
        log.warning("slack.team_refused", team_id=team_id, enterprise_id=enterprise_id)
        return await _refusal(req.body, not_allowed_sentence(team_id))

    return gate


async def _refusal(body: dict[str, Any], sentence: str) -> BoltResponse:
    """The refusal as each kind of request can show it: the command's ephemeral answer, a modal on a view
    submission, an empty options list, an ephemeral through `response_url` for actions and shortcuts; an
    event is acknowledged (so Slack does not retry it) and dropped."""
    if is_slash_command(body):
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": sentence})
    if is_options(body):
        return BoltResponse(status=200, body={"options": []})
    if is_view_submission(body):
        view = {
            "type": "modal",
            "title": {"type": "plain_text", "text": "Thread notes"},
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": sentence}}],
        }
        return BoltResponse(status=200, body={"response_action": "update", "view": view})
    response_url = body.get("response_url") or next(
        (u.get("response_url") for u in body.get("response_urls") or [] if u.get("response_url")), None
    )
    if isinstance(response_url, str) and response_url.startswith(("https://", "http://")):
        try:
            await AsyncWebhookClient(response_url, timeout=2).send(
                text=sentence, response_type="ephemeral", replace_original=False
            )
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.info("slack.refusal_not_shown", error=type(exc).__name__)
    return BoltResponse(status=200, body="")


@dataclass
class Workspaces:
    """What the uninstall listeners do, handed in by the composition root."""

    store: UninstallStore
    forget_client: Callable[[str], None]

    async def uninstalled(self, enterprise_id: str | None, team_id: str) -> list[int]:
        paused = await self.store.pause_team_subscriptions(team_id, "token_revoked")
        await self.store.delete_slack_bot(enterprise_id, team_id)
        await self.store.delete_slack_installations(enterprise_id, team_id)
        self.forget_client(team_id)
        log.info("slack.uninstalled", team_id=team_id, paused=len(paused))
        return paused

    async def user_tokens_revoked(self, enterprise_id: str | None, team_id: str, user_ids: list[str]) -> None:
        for user_id in user_ids:
            await self.store.delete_slack_installations(enterprise_id, team_id, user_id)


def _ids(body: dict[str, Any]) -> tuple[str | None, str]:
    return body.get("enterprise_id"), str(body.get("team_id") or "")


async def app_uninstalled(deps: Deps, body: dict[str, Any]) -> None:
    assert deps.workspaces is not None  # registered only with many workspaces
    await deps.workspaces.uninstalled(*_ids(body))


async def tokens_revoked(deps: Deps, body: dict[str, Any], event: dict[str, Any]) -> None:
    assert deps.workspaces is not None  # registered only with many workspaces
    enterprise_id, team_id = _ids(body)
    tokens = event.get("tokens") or {}
    if tokens.get("bot"):
        await deps.workspaces.uninstalled(enterprise_id, team_id)
    if tokens.get("oauth"):
        await deps.workspaces.user_tokens_revoked(enterprise_id, team_id, list(tokens["oauth"]))
