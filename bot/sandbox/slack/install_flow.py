"""Slack's OAuth v2 install flow, strict: the authorize page and `oauth.v2.access`.

The stand-in is one Slack app with fixed credentials (`DEFAULT_CLIENT_ID`, `DEFAULT_CLIENT_SECRET`; `GET
/sandbox/slack/app` lists them) that can be installed into any of its workspaces.

- `GET /oauth/v2/authorize?client_id=&scope=&state=&redirect_uri=&team=&user=`: like a person clicking
  "Allow" at once (`team` picks the workspace, default the first; `user` the installer, default `alice`):
  redirects to `redirect_uri?code=…&state=…`. An unknown `client_id` or a missing `redirect_uri` is a 400
  page, like Slack's. Denied consent: `deny=1` → `redirect_uri?error=access_denied&state=…`.
- `POST /api/oauth.v2.access` (client id and secret by HTTP Basic auth or form fields; `code`,
  `redirect_uri`): `invalid_client_id`, `bad_client_secret`, `invalid_code` (unknown, used or older than
  10 minutes: codes are single use), `bad_redirect_uri` (must equal the authorize request's). On success the
  workspace's bot token (`token_type: bot`), `bot_user_id`, `app_id`, `team`, `authed_user`, `scope`; the
  workspace's tokens work again if it had uninstalled the app.
- `POST /sandbox/slack/uninstall {team_id}`: the app is removed from the workspace: its tokens answer
  `token_revoked` until it is installed again (the test then sends the `app_uninstalled` event itself).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot.sandbox.slack.workspace_data import JSON, SlackError, SlackState

DEFAULT_CLIENT_ID = "1000000001.4000000004"
DEFAULT_CLIENT_SECRET = "sandbox0client0secret0000000000a"
CODE_TTL = 600.0


@dataclass
class Grant:
    team_id: str
    user_id: str
    redirect_uri: str
    scope: str
    issued: float
    used: bool = False


class OAuth:
    def __init__(
        self,
        state: SlackState,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
    ) -> None:
        self.state = state
        self.client_id = client_id
        self.client_secret = client_secret
        self.grants: dict[str, Grant] = {}

    async def app(self, request: Request) -> Response:
        return JSONResponse({"client_id": self.client_id, "client_secret": self.client_secret})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id:
            return HTMLResponse("<h1>Invalid client_id parameter</h1>", status_code=400)
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri or not redirect_uri.startswith(("http://", "https://")):
            return HTMLResponse("<h1>Missing or bad redirect_uri parameter</h1>", status_code=400)
        try:
            ws = self.state.workspace(q.get("team") or None)
        except KeyError:
            return HTMLResponse("<h1>Unknown workspace</h1>", status_code=400)
        state = q.get("state", "")
        if q.get("deny"):
            return RedirectResponse(_with(redirect_uri, error="access_denied", state=state), status_code=302)
        user = ws.user(q.get("user") or "alice")
        if user is None:
            return HTMLResponse("<h1>Unknown user</h1>", status_code=400)
        code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self.grants[code] = Grant(ws.team_id, user.id, redirect_uri, q.get("scope", ""), self.state.clock())
        return RedirectResponse(_with(redirect_uri, code=code, state=state), status_code=302)

    async def uninstall(self, request: Request) -> Response:
        body = await request.json()
        try:
            ws = self.state.workspace(body.get("team_id") or None)
        except KeyError:
            return JSONResponse({"error": "no such workspace"}, status_code=404)
        ws.revoked = True
        return JSONResponse({"ok": True, "team_id": ws.team_id})

    async def access(self, request: Request) -> Response:
        """`oauth.v2.access`: the code for the workspace's bot token."""
        try:
            result = await self._access(request)
        except SlackError as exc:
            return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
        return JSONResponse(result)

    async def _access(self, request: Request) -> JSON:
        args: dict[str, Any] = dict(request.query_params)
        raw = await request.body()
        if raw:
            args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                raise SlackError("invalid_client_id") from None
        if client_id != self.client_id:
            raise SlackError("invalid_client_id")
        if client_secret != self.client_secret:
            raise SlackError("bad_client_secret")
        grant = self.grants.get(str(args.get("code") or ""))
        if grant is None or grant.used or self.state.clock() - grant.issued > CODE_TTL:
            raise SlackError("invalid_code")
        grant.used = True
        if args.get("redirect_uri") and args["redirect_uri"] != grant.redirect_uri:
            raise SlackError("bad_redirect_uri")
        ws = self.state.workspace(grant.team_id)
        ws.revoked = False
        ws.scopes = frozenset(s for s in grant.scope.split(",") if s)
        return {
            "ok": True,
            "access_token": ws.bot_token,
            "token_type": "bot",
            "scope": grant.scope,
            "bot_user_id": ws.bot_user_id,
            "app_id": ws.app_id,
            "team": {"id": ws.team_id, "name": ws.name},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": grant.user_id},
        }


def _with(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)
