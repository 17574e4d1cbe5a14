"""The ASGI app of `thread-note-bot serve`.

Routes (interface contract): POST /slack/events (HTTP mode), GET /ringcentral/oauth/callback,
POST /ringcentral/webhook, GET /healthz, GET /metrics; with many workspaces (SLACK_CLIENT_ID) also
GET /slack/install and GET /slack/oauth_redirect (Bolt's OAuth flow). Everything with a lifetime (store,
HTTP clients, Socket Mode connection, scheduler) is started in the lifespan, inside the server's own event
loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from cachetools import TTLCache
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.logs import get_logger
from bot.metrics import CONTENT_TYPE_LATEST
from bot.slack.install import install_refused_page
from bot.slack.install import page as _page

log = get_logger(__name__)


def create_web_app(settings: Settings, **overrides: Any) -> Starlette:
    """Build the app; `overrides` are passed to the Container (tests inject transports and clocks)."""
    from bot.app import Container

    container = Container(settings, **overrides)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await container.start()
        app.state.container = container
        assert container.bolt is not None  # built by start()
        app.state.slack_handler = AsyncSlackRequestHandler(container.bolt)
        try:
            yield
        finally:
            await container.stop()

    seen = ReplayGuard()

    async def slack_events(request: Request) -> Response:
        handler: AsyncSlackRequestHandler = request.app.state.slack_handler
        signature = request.headers.get("x-slack-signature")
        if not seen.first_use(signature):
            # Slack never sends the same signed bytes twice (its retries are signed anew), so this is a replay
            log.warning("slack.replayed_request")
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            response = await handler.handle(request)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # Bolt parses the body before it checks anything: bad JSON in `payload=`, a body that is not
            # UTF-8, a payload of the wrong shape. Nothing was done; say so instead of a 500.
            seen.forget(signature)
            log.warning("slack.malformed_request", error=type(exc).__name__)
            return JSONResponse({"error": "malformed request"}, status_code=400)
        if response.status_code == 401:  # not a valid signature: not a use of one
            seen.forget(signature)
        return response

    async def oauth_callback(request: Request) -> Response:
        outcome = await container.complete_connect(
            code=request.query_params.get("code"),
            state=request.query_params.get("state"),
            error=request.query_params.get("error"),
        )
        status = 200 if outcome.ok else 400
        return HTMLResponse(_page(outcome.title, outcome.detail), status_code=status)

    async def ringcentral_webhook(request: Request) -> Response:
        token = request.headers.get("Validation-Token")
        if token is not None:  # subscription handshake: echo it, tiny JSON body
            return JSONResponse({}, headers={"Validation-Token": token})
        accepted = await container.webhook_event(
            request.headers.get("Verification-Token"), await request.body()
        )
        return JSONResponse({}, status_code=200 if accepted else 403)

    async def healthz(request: Request) -> Response:
        report = await container.health()
        return JSONResponse(report, status_code=200 if report["ok"] else 503)

    async def metrics(request: Request) -> Response:
        await container.refresh_metrics()
        return Response(container.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def slack_oauth(request: Request) -> Response:
        """Many workspaces: Bolt's install page and OAuth redirect (404 with a single SLACK_BOT_TOKEN; a page
        naming SLACK_ALLOWED_TEAMS while it is unset, since then no workspace may install)."""
        if not settings.oauth:
            return JSONResponse({"error": "not_found"}, status_code=404)
        if not settings.allowed_teams:
            log.warning("slack.install_refused", reason="SLACK_ALLOWED_TEAMS is not set")
            return HTMLResponse(install_refused_page(), status_code=403)
        handler: AsyncSlackRequestHandler = request.app.state.slack_handler
        return await handler.handle(request)

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/slack/install", slack_oauth, methods=["GET"]),
        Route("/slack/oauth_redirect", slack_oauth, methods=["GET"]),
        Route("/ringcentral/oauth/callback", oauth_callback, methods=["GET"]),
        Route("/ringcentral/webhook", ringcentral_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(BodyLimit, limits=BODY_LIMITS)])
    app.state.container = container
    return app


class ReplayGuard:
    """Signatures seen in the last 6 minutes (Slack accepts a timestamp up to 5 minutes old, so a replay of
    the same signed bytes is only possible within that window). Per process: replicas behind a load balancer
    each keep their own, so a replay sent to another replica is caught only by the timestamp check."""

    def __init__(self, ttl: float = 360.0, maxsize: int = 200_000) -> None:
        self._seen: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl)

    def first_use(self, signature: str | None) -> bool:
        if not signature:
            return True  # Bolt refuses it (missing signature)
        if signature in self._seen:
            return False
        self._seen[signature] = True
        return True

    def forget(self, signature: str | None) -> None:
        if signature:
            self._seen.pop(signature, None)


# Request size limits (bytes). Slack's largest payloads are view submissions of a full modal (100 blocks of
# at most 3,000 characters, a few hundred KB with Slack's framing); RingCentral's webhook events carry only a
# hint (NOTES.md §5), well under 16 KB. Anything larger is refused with 413 before it is read into memory
# or reaches Bolt's parser.
BODY_LIMITS = {"/slack/events": 1024 * 1024, "/ringcentral/webhook": 64 * 1024}


class BodyLimit:
    """ASGI middleware: answer 413 to a request body over the path's limit (declared or streamed)."""

    def __init__(self, app: ASGIApp, limits: dict[str, int]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        log.warning("web.body_too_large", path=scope.get("path"), limit=limit)
        response = JSONResponse({"error": "request_too_large", "limit": limit}, status_code=413)
        await response(scope, receive, send)


def serve(settings: Settings, host: str, port: int) -> int:
    log.info("serve.start", host=host, port=port, mode="socket" if settings.socket_mode else "http")
    uvicorn.run(create_web_app(settings), host=host, port=port, log_config=None, ws="websockets-sansio")
    return 0
