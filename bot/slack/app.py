"""The Bolt app, and every route in one table (`register`: listener ← command, callback, action or event).

The listeners are module-level functions in the feature modules; `Routes` (bot/slack/listen.py) registers
each one guarded, hands it `deps` and who acted, and counts it in `InFlight` until it ends, so the Container
can wait for it when it stops.

One workspace (`SLACK_BOT_TOKEN`), or many (`SLACK_CLIENT_ID`/`SLACK_CLIENT_SECRET`: Bolt's OAuth flow with
the installation and state stores of `bot/slack/install.py` on our database; each request is served with the
token of the workspace it came from). Either way a request is served only by the token of its own team: a
payload naming another team than the one the token belongs to is dropped (403) before any listener runs,
and a team outside SLACK_ALLOWED_TEAMS is refused before its token is even looked up (`install.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit import ids
from bot.config import Settings
from bot.logs import get_logger
from bot.slack import actions, commands, home, install, modals, notifications, setup, subscriptions, two_way
from bot.slack.deps import Deps
from bot.slack.listen import InFlight, Routes
from bot.store.protocols import SlackInstallStore

log = get_logger(__name__)


class _OAuthClient(AsyncWebClient):
    """Sends the app's credentials to `oauth.v2.access` as form fields (Slack accepts both): slack-sdk's
    HTTP Basic path goes through aiohttp's deprecated `BasicAuth`."""

    async def oauth_v2_access(
        self, *, client_id: str, client_secret: str, code: str | None = None, **kwargs: Any
    ) -> Any:
        data = {"client_id": client_id, "client_secret": client_secret, "code": code, **kwargs}
        return await self.api_call("oauth.v2.access", data={k: v for k, v in data.items() if v is not None})


def create_bolt_app(
    settings: Settings, deps: Deps, in_flight: InFlight, store: SlackInstallStore | None = None
) -> AsyncApp:
    client = (_OAuthClient if settings.oauth else AsyncWebClient)(
        # many workspaces: no default token, Bolt gives each request its own workspace's
        token=None
        if settings.oauth or not settings.slack_bot_token
        else settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    signing = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    if settings.oauth:
        assert store is not None, "many workspaces keep their installations in the store"
        app = AsyncApp(
            client=client,
            signing_secret=signing,
            oauth_settings=install.oauth_settings(settings, store),
            process_before_response=False,
            raise_error_for_unhandled_request=False,
            before_authorize=install.allowed_teams_gate(settings),
        )
    else:
        assert settings.slack_bot_token is not None
        app = AsyncApp(
            client=client,
            signing_secret=signing,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
            before_authorize=install.allowed_teams_gate(settings),
        )
    app.middleware(_own_team_only)
    register(Routes(app, deps, in_flight))
    return app


def register(routes: Routes) -> None:
    """Every route of the app: listener ← id (the ids are bot/blockkit/ids.py's)."""
    routes.command(ids.COMMAND, commands.thread_note)
    routes.shortcut(ids.SAVE_SHORTCUT, modals.save_as_note)
    routes.options(ids.THREAD_SELECT, modals.thread_options)
    routes.action(ids.SAVE_NOTE_TRIM, modals.trim)
    routes.view(ids.SAVE_NOTE, modals.save_note)
    routes.view(ids.ADD_NOTE, modals.add_note)
    routes.view(ids.EDIT_NOTE, modals.edit_note)
    routes.action(ids.CONNECT_OPEN, actions.connect_open)
    routes.action(ids.NOTE_EDIT, actions.note_edit)
    routes.action(ids.ADD_NOTE_OPEN, actions.add_note_open)
    routes.action(ids.NOTE_DELETE, actions.note_delete)
    routes.action(ids.NOTE_DELETE_CONFIRM, actions.note_delete_confirm)
    routes.action(ids.NOTE_DELETE_CANCEL, actions.note_delete_cancel)
    routes.action(ids.THREAD_PICK, actions.thread_pick)
    routes.action(ids.PENDING_FINISH, actions.pending_finish)
    routes.action(ids.SUBSCRIPTION_CONFIRM, subscriptions.confirm)
    routes.action(ids.SUBSCRIPTION_CANCEL, subscriptions.cancel)
    routes.action(ids.TAKE_OVER, notifications.thread_button)
    routes.action(ids.RESOLVE, notifications.thread_button)
    routes.action(ids.TENANT_JWT_OPEN, setup.jwt_open)
    routes.action(ids.TENANT_SIGN_IN, setup.sign_in_open)
    routes.action(ids.TENANT_SIGN_IN_LINK, setup.sign_in_link)
    routes.action(ids.TENANT_REMOVE, setup.remove)
    routes.view(ids.TENANT_JWT, setup.jwt_submit)
    routes.event("app_home_opened", home.home_opened)
    routes.event("message", two_way.TwoWay(routes.deps).on_message)  # it remembers recent event ids
    if routes.deps.workspaces is not None:  # many workspaces (Slack OAuth): uninstalls and revocations
        routes.event("app_uninstalled", install.app_uninstalled)
        routes.event("tokens_revoked", install.tokens_revoked)


async def _own_team_only(
    req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[Any]]
) -> Any:
    """Serve a request only with its own workspace's token: the team the payload names must be the team
    the authorised token belongs to (Bolt's single-token mode does not check it)."""
    auth = req.context.authorize_result
    claimed = req.context.team_id
    if auth is not None and auth.team_id and claimed and auth.team_id != claimed and not auth.enterprise_id:
        log.warning("slack.foreign_team", claimed=claimed, served=auth.team_id)
        return BoltResponse(status=403, body="")
    return await next()
