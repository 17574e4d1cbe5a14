"""The ASGI app of `thread-note-bot serve`.

Routes (interface contract): POST /slack/events (HTTP mode), GET /ringcentral/oauth/callback,
POST /ringcentral/webhook, GET /healthz, GET /metrics; with many workspaces (SLACK_CLIENT_ID) also
GET /slack/install and GET /slack/oauth_redirect (Bolt's OAuth flow). Everything with a lifetime (store,
HTTP clients, Socket Mode connection, scheduler) is started in the lifespan, inside the server's own event
loop.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.logs import get_logger
from bot.metrics import CONTENT_TYPE_LATEST

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

    async def slack_events(request: Request) -> Response:
        handler: AsyncSlackRequestHandler = request.app.state.slack_handler
        return await handler.handle(request)

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
        """Many workspaces: Bolt's install page and OAuth redirect (404 with a single SLACK_BOT_TOKEN)."""
        if not settings.oauth:
            return JSONResponse({"error": "not_found"}, status_code=404)
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
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.container = container
    return app


def _page(title: str, detail: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>thread-note-bot</title>"
        "<style>body{font:16px system-ui,sans-serif;max-width:36em;margin:4em auto;color:#1d1c1d}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p></body></html>"
    )


def serve(settings: Settings, host: str, port: int) -> int:
    log.info("serve.start", host=host, port=port, mode="socket" if settings.socket_mode else "http")
    uvicorn.run(create_web_app(settings), host=host, port=port, log_config=None, ws="websockets-sansio")
    return 0
