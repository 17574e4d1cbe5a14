"""Composition of the stand-in: the Web API pipeline and the route table."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from bot.logs import get_logger
from bot.sandbox.profiles import DEFAULT, Profile, get_profile
from bot.sandbox.slack import page
from bot.sandbox.slack.api import METHODS, Args, Ctx
from bot.sandbox.slack.control import Control, guarded
from bot.sandbox.slack.events import EventEmitter
from bot.sandbox.slack.install_flow import OAuth
from bot.sandbox.slack.limits import TIER1_PAGE_MAX, Faults, RateLimits, profile_limits
from bot.sandbox.slack.seed import DEFAULT_TEAM_ID, seed_default
from bot.sandbox.slack.socket import SocketHub
from bot.sandbox.slack.workspace_data import JSON, Call, Clock, ShiftableClock, SlackError, SlackState

log = get_logger(__name__)

_DECODED = ("blocks", "view", "metadata", "attachments")


@dataclass
class SlackSandbox:
    """Everything behind one stand-in, reachable in-process as `app.state.slack` (for `demo`)."""

    state: SlackState
    faults: Faults
    limits: RateLimits
    hub: SocketHub
    clock: ShiftableClock
    oauth: OAuth
    events: EventEmitter
    profile: Profile = DEFAULT
    # the limits the profile's readings impose (tier-1 history, a workspace-wide posting limit)
    profile_limits: RateLimits = field(default_factory=RateLimits)


def create_slack_app(
    *, clock: Clock | None = None, team_id: str = DEFAULT_TEAM_ID, profile: Profile | str | None = None
) -> Starlette:
    """A Slack Web API stand-in with the default workspace (see `seed.py`); `clock` is epoch seconds;
    `profile` the reading of Slack's docs it plays (bot/sandbox/profiles.py; None: `default`)."""
    shiftable = (
        clock if isinstance(clock, ShiftableClock) else ShiftableClock(clock) if clock else ShiftableClock()
    )
    state = SlackState(shiftable)
    seed_default(state, team_id)
    hub = SocketHub(state)
    chosen = get_profile(profile or "default")
    sandbox = SlackSandbox(
        state=state,
        faults=Faults(),
        limits=RateLimits(),
        hub=hub,
        clock=shiftable,
        oauth=OAuth(state),
        events=EventEmitter(hub, chosen),
        profile=chosen,
        profile_limits=profile_limits(chosen),
    )
    app = Starlette(routes=_routes(sandbox))
    app.state.slack = sandbox
    return app


def _routes(sb: SlackSandbox) -> list[BaseRoute]:
    c = Control(sb.state, sb.faults, sb.limits, sb.clock, sb.events)
    p = "/sandbox/slack"

    async def api(request: Request) -> Response:
        return await _api(sb, request)

    return [
        # The install flow (install_flow.py): no bearer token, the app's client credentials instead.
        Route("/api/oauth.v2.access", sb.oauth.access, methods=["GET", "POST"]),
        Route("/oauth/v2/authorize", sb.oauth.authorize, methods=["GET"]),
        Route(f"{p}/app", guarded(sb.oauth.app), methods=["GET"]),
        Route(f"{p}/uninstall", guarded(sb.oauth.uninstall), methods=["POST"]),
        Route("/api/{method}", api, methods=["GET", "POST"]),
        Route(f"{p}/workspaces", guarded(c.list_workspaces), methods=["GET"]),
        Route(f"{p}/workspaces", guarded(c.add_workspace), methods=["POST"]),
        Route(f"{p}/users", guarded(c.add_user), methods=["POST"]),
        Route(f"{p}/scopes", guarded(c.set_scopes), methods=["POST"]),
        Route(f"{p}/channels", guarded(c.list_channels), methods=["GET"]),
        Route(f"{p}/channels", guarded(c.change_channel), methods=["POST"]),
        Route(f"{p}/messages", guarded(c.messages), methods=["GET"]),
        Route(f"{p}/messages", guarded(c.post_as_user), methods=["POST"]),
        Route(f"{p}/messages/edit", guarded(c.edit_as_user), methods=["POST"]),
        Route(f"{p}/messages/delete", guarded(c.delete_as_user), methods=["POST"]),
        Route(f"{p}/event-subscriptions", guarded(c.event_subscriptions), methods=["GET", "POST"]),
        Route(f"{p}/ephemeral", guarded(c.ephemerals), methods=["GET"]),
        Route(f"{p}/views", guarded(c.views), methods=["GET"]),
        Route(f"{p}/calls", guarded(c.calls), methods=["GET"]),
        Route(f"{p}/calls", guarded(c.clear_calls), methods=["DELETE"]),
        Route(f"{p}/faults", guarded(c.list_faults), methods=["GET"]),
        Route(f"{p}/faults", guarded(c.add_fault), methods=["POST"]),
        Route(f"{p}/faults", guarded(c.clear_faults), methods=["DELETE"]),
        Route(f"{p}/rate-limits", guarded(c.set_rate_limits), methods=["POST"]),
        Route(f"{p}/rate-limits", guarded(c.clear_rate_limits), methods=["DELETE"]),
        Route(f"{p}/clock", guarded(c.advance_clock), methods=["POST"]),
        Route(f"{p}/triggers", guarded(c.mint_trigger), methods=["POST"]),
        Route(f"{p}/response-urls", guarded(c.mint_response_url), methods=["POST"]),
        Route(f"{p}/responses", guarded(c.responses), methods=["GET"]),
        Route(f"{p}/responses/{{id}}", c.respond, methods=["POST"]),
        WebSocketRoute(f"{p}/socket", sb.hub.endpoint),
        Route(f"{p}/socket/dispatch", guarded(sb.hub.dispatch), methods=["POST"]),
        Route(f"{p}/socket/disconnect", guarded(sb.hub.disconnect), methods=["POST"]),
        Route(f"{p}/socket/envelopes", guarded(sb.hub.list_envelopes), methods=["GET"]),
        # The read-only web page of the channels (see page.py).
        Route(f"{p}/", page.endpoint(sb.state), methods=["GET"]),
    ]


async def _read_args(request: Request) -> tuple[dict[str, Any], str | None]:
    """Arguments and the bearer token. A JSON body's `token` field is ignored, as Slack ignores it."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    args: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body() if request.method == "POST" else b""
    if raw and content_type == "application/json":
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("a JSON body must be an object")
        body.pop("token", None)
        args.update(body)
    elif raw:
        args.update(parse_qsl(raw.decode(), keep_blank_values=True))
    token = bearer or args.pop("token", None)
    args.pop("token", None)
    return args, token


def _recorded(args: dict[str, Any]) -> JSON:
    out = dict(args)
    for key in _DECODED:
        if isinstance(out.get(key), str):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(out[key])
    return out


async def _api(sb: SlackSandbox, request: Request) -> Response:
    name = request.path_params["method"]
    state = sb.state
    call = Call(method=name, args={}, team_id=None, token_type=None, time=state.clock())
    try:
        try:
            args, token = await _read_args(request)
        except (ValueError, UnicodeDecodeError):
            raise SlackError("invalid_json") from None
        call.args = _recorded(args)
        entry = METHODS.get(name)
        if entry is None:
            raise SlackError("unknown_method", req_method=name)
        handler, token_kinds = entry
        if not token:
            raise SlackError("not_authed")
        known = state.tokens.get(token)
        if known is None:
            raise SlackError("invalid_auth")
        call.team_id, call.token_type = known.team_id, known.kind
        ws = state.workspace(known.team_id)
        if ws.revoked:
            raise SlackError("token_revoked")
        if known.kind not in token_kinds:
            raise SlackError("not_allowed_token_type")
        channel = args.get("channel") if isinstance(args.get("channel"), str) else None
        fault = sb.faults.take(name, channel, ws.team_id)
        if fault is not None:
            if fault.delay:
                await sb.faults.wait(fault.delay)
            if fault.error:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                raise SlackError(fault.error, status=fault.status, headers=headers)
        retry_after = sb.limits.check(name, ws.team_id, channel, state.clock())
        if retry_after is None:
            retry_after = sb.profile_limits.check(name, ws.team_id, channel, state.clock())
        if retry_after is not None:
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(retry_after)})
        ctx = Ctx(
            state=state,
            ws=ws,
            token_type=known.kind,
            base_url=str(request.base_url),
            mint_ticket=sb.hub.mint_ticket,
            history_page_max=TIER1_PAGE_MAX if sb.profile.slack_history_tier1 else None,
        )
        result = await handler(ctx, Args(args))
    except SlackError as exc:
        call.ok, call.error, call.status = False, exc.error, exc.status
        state.record(call)
        log.debug("slack_api_error", method=name, error=exc.error, status=exc.status)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
    state.record(call)
    return JSONResponse(result)
