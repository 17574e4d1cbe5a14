"""The ASGI app of `thread-note-bot serve`.

Routes (interface contract): POST /slack/events (HTTP mode), GET /ringcentral/oauth/callback,
POST /ringcentral/webhook, GET /healthz, GET /metrics; with many workspaces (SLACK_CLIENT_ID) also
GET /slack/install and GET /slack/oauth_redirect (Bolt's OAuth flow). Everything with a lifetime (store,
HTTP clients, Socket Mode connection, scheduler) is started in the lifespan, inside the server's own event
loop.

The public port is what Slack, RingCentral and anyone else on the internet reach, so it shows operators'
figures to nobody: its /healthz says only `{"ok": true|false}`, and its /metrics answers 404. Operators get
/metrics and the detailed /healthz (mode, database, …) on a private listener
(THREAD_NOTE_METRICS_ADDRESS, e.g. 127.0.0.1:9100, started in the same lifespan) and/or on the public port
with `Authorization: Bearer <THREAD_NOTE_METRICS_TOKEN>` (401 without it). Scrapes read the database at
most once every few seconds (Container.refresh_metrics), so scraping fast costs the database nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from cachetools import TTLCache
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.app import Container
from bot.config import ConfigError, Settings, split_host_port
from bot.logs import get_logger
from bot.metrics import CONTENT_TYPE_LATEST
from bot.pages import PAGE_HEADERS, page
from bot.slack.install import install_refused_page
from bot.store import StoreError
from bot.store.protocols import ReplayStore

log = get_logger(__name__)


def create_web_app(settings: Settings, **overrides: Any) -> Starlette:
    """Build the app; `overrides` are passed to the Container (tests inject transports and clocks)."""
    container = Container(settings, **overrides)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await container.start()
        app.state.container = container
        assert container.bolt is not None  # built by start()
        app.state.slack_handler = AsyncSlackRequestHandler(container.bolt)
        ops = OpsListener(create_ops_app(container), settings.metrics_address)
        try:
            await ops.start()
            app.state.ops_url = ops.url
            yield
        finally:
            await ops.stop()
            await container.stop()

    routes = [
        *_slack_routes(container, settings),
        *_ringcentral_routes(container),
        *_public_operator_routes(container, settings),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(BodyLimit, limits=BODY_LIMITS)])
    app.state.container = container
    return app


def _slack_routes(container: Container, settings: Settings) -> list[Route]:
    """POST /slack/events (signature and replay checked here, then Bolt), and Bolt's OAuth pages."""
    seen = ReplayGuard(lambda: container.store)
    secret = settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret else None

    async def slack_events(request: Request) -> Response:
        handler: AsyncSlackRequestHandler = request.app.state.slack_handler
        signature = request.headers.get("x-slack-signature")
        refused = bad_signature(signing_secret, request.headers, await request.body())
        if refused is not None:
            # Checked here rather than left to Bolt, which logs such a request at INFO with its whole body
            # (what a forger sent, or a real person's text under a wrong secret). The body is never logged.
            container.metrics.slack_bad_signatures.labels(refused).inc()
            log.warning("slack.bad_signature", reason=refused)
            return JSONResponse({"error": "invalid request"}, status_code=401)
        if not await seen.first_use(signature) and not _event_retry(request):
            # Slack sends the same signed bytes again only when it retries an event, so this is a replay
            log.warning("slack.replayed_request")
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            response = await handler.handle(request)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # Bolt parses the body before it checks anything: bad JSON in `payload=`, a body that is not
            # UTF-8, a payload of the wrong shape. Nothing was done; say so instead of a 500.
            await seen.forget(signature)
            log.warning("slack.malformed_request", error=type(exc).__name__)
            return JSONResponse({"error": "malformed request"}, status_code=400)
        if response.status_code == 401:  # not a valid signature: not a use of one
            await seen.forget(signature)
        return response

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

    return [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/slack/install", slack_oauth, methods=["GET"]),
        Route("/slack/oauth_redirect", slack_oauth, methods=["GET"]),
    ]


def _ringcentral_routes(container: Container) -> list[Route]:
    """The sign-in callback and its confirmation form, and the webhook (real time)."""

    async def oauth_callback(request: Request) -> Response:
        outcome = await container.complete_connect(
            code=request.query_params.get("code"),
            state=request.query_params.get("state"),
            error=request.query_params.get("error"),
        )
        status = 200 if outcome.ok else 400
        body = page(outcome.title, outcome.detail, outcome.form_token)
        return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)

    async def oauth_confirm(request: Request) -> Response:
        """The confirmation page's form (same path, POST): "Link" stores the link, "Cancel" drops it."""
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = form.get("form_token") or [""]
        outcome = await container.confirm_connect(token[0], accept=form.get("decision") == ["link"])
        body = page(outcome.title, outcome.detail)
        return HTMLResponse(body, status_code=200 if outcome.ok else 400, headers=PAGE_HEADERS)

    async def ringcentral_webhook(request: Request) -> Response:
        """The handshake is told from a delivery by its body, not by a header: RingCentral's 2024 guide has
        the secret come back as `Validation-Token` on every delivery, the handshake's own header."""
        body = await request.body()
        if not body.strip():  # subscription handshake (no body): echo the token, tiny JSON body
            token = request.headers.get("Validation-Token")
            if not token:
                return JSONResponse({"error": "a handshake carries a Validation-Token"}, status_code=400)
            return JSONResponse({}, headers={"Validation-Token": token})
        tokens = [request.headers.get("Verification-Token"), request.headers.get("Validation-Token")]
        account = request.query_params.get("account", "")  # each account's subscription names its own
        accepted = await container.webhook_event(tokens, body, account[:32])
        return JSONResponse({}, status_code=200 if accepted else 403)

    return [
        Route("/ringcentral/oauth/callback", oauth_callback, methods=["GET"]),
        Route("/ringcentral/oauth/callback", oauth_confirm, methods=["POST"]),
        Route("/ringcentral/webhook", ringcentral_webhook, methods=["POST"]),
    ]


def _public_operator_routes(container: Container, settings: Settings) -> list[Route]:
    """GET /healthz and GET /metrics on the public port: only ok or not, and 404, unless the request carries
    the operators' token (THREAD_NOTE_METRICS_TOKEN)."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    async def healthz(request: Request) -> Response:
        """Public: only ok or not; the detail with the operators' token."""
        report = await container.health()
        if not _bearer_matches(request, token):
            report = {"ok": report["ok"]}
        return JSONResponse(report, status_code=200 if report["ok"] else 503)

    async def metrics(request: Request) -> Response:
        if token is None:
            return JSONResponse({"error": "not_found", "detail": _METRICS_ELSEWHERE}, status_code=404)
        if not _bearer_matches(request, token):
            return JSONResponse(
                {"error": "unauthorized", "detail": "send Authorization: Bearer <THREAD_NOTE_METRICS_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return await _metrics_response(container)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]


_METRICS_ELSEWHERE = (
    "metrics are not served on the public port: set THREAD_NOTE_METRICS_ADDRESS (a private listener, "
    "e.g. 127.0.0.1:9100) or THREAD_NOTE_METRICS_TOKEN (a bearer token)"
)


def _bearer_matches(request: Request, token: str | None) -> bool:
    """True when the request carries `Authorization: Bearer <token>` (compared in constant time)."""
    if token is None:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def _metrics_response(container: Container) -> Response:
    await container.refresh_metrics()
    return Response(container.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def create_ops_app(container: Container) -> Starlette:
    """The operators' listener: GET /metrics and the detailed GET /healthz, nothing else. It shares the
    public app's container (started by the public app's lifespan), so it has no lifespan of its own."""

    async def healthz(request: Request) -> Response:
        report = await container.health()
        return JSONResponse(report, status_code=200 if report["ok"] else 503)

    async def metrics(request: Request) -> Response:
        return await _metrics_response(container)

    routes = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
    return Starlette(routes=routes)


class OpsListener:
    """A second uvicorn server in the bot's own event loop, on THREAD_NOTE_METRICS_ADDRESS (nothing when
    unset). Started and stopped by the public app's lifespan, so `serve`, the tests and the demo get it alike;
    uvicorn's startup/main_loop/shutdown are used directly because `serve()` would take over the process's
    signal handlers, which belong to the public server."""

    def __init__(self, app: ASGIApp, address: str | None) -> None:
        self.address = address
        self.url: str | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        if address:
            host, port = split_host_port(address)
            config = uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None)
            self._server = uvicorn.Server(config)

    async def start(self) -> None:
        if self._server is None:
            return
        server = self._server
        server.config.load()
        server.lifespan = server.config.lifespan_class(server.config)  # what serve() would set (off)
        try:
            await server.startup()  # binds the address; uvicorn exits on an OSError (taken, not ours)
        except SystemExit:
            raise ConfigError(
                f"THREAD_NOTE_METRICS_ADDRESS={self.address} could not be opened (in use, or not an address "
                "of this machine): pick a free host:port such as 127.0.0.1:9100."
            ) from None
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        self._task = asyncio.create_task(self._server.main_loop())
        log.info("serve.metrics_listener", url=self.url)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        await self._server.shutdown()


SIGNATURE_MAX_AGE = 60 * 5  # seconds; Slack's own rule, the same as Bolt's


def bad_signature(secret: str | None, headers: Any, body: bytes, now: float | None = None) -> str | None:
    """Why a request to /slack/events is not Slack's: "missing", "stale" or "wrong"; None when it is (or when
    no signing secret is set: Socket Mode, where nothing is sent here and Bolt refuses it anyway)."""
    if secret is None:
        return None
    signature, timestamp = headers.get("x-slack-signature"), headers.get("x-slack-request-timestamp")
    if not signature or not timestamp:
        return "missing"
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return "stale"
    if age > SIGNATURE_MAX_AGE:
        return "stale"
    # Slack's v0 scheme over the raw bytes (slack_sdk's verifier decodes them first, which fails on non-UTF-8)
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return None if hmac.compare_digest("v0=" + mac.hexdigest(), signature) else "wrong"


def _event_retry(request: Request) -> bool:
    """An Events API retry (`X-Slack-Retry-Num`, JSON body). Slack does not document whether a retry is
    signed afresh; if it carries the first attempt's signature it is no replay to refuse. Bolt still checks
    the signature and the 5-minute window, and every event is handled once per `event_id` (two_way.py), so
    letting it through cannot do anything twice. Commands and interactions are never retried by Slack, so
    for them a repeated signature stays a replay."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return bool(request.headers.get("x-slack-retry-num")) and content_type == "application/json"


class ReplayGuard:
    """Signatures seen in the last 6 minutes (Slack accepts a timestamp up to 5 minutes old, so a replay of
    the same signed bytes is only possible within that window), kept in the store (`bot/store/replays.py`):
    every replica on the database refuses a replay, whichever replica the first request reached.

    In front of the store, this process's own claims (a TTLCache): a replay of one of them is refused without
    a round trip, and a miss always asks the store, so the cache never lets through what the store would
    refuse. `forget` drops both (the request did nothing, so Slack's retry of it is accepted).

    The store answers in a millisecond or two (BENCHMARKS.md, "Replay guard"); should it not answer within
    `wait` (a database that is down or locked), the request goes on with this process's memory alone, the
    per-process guard this used to be, and a warning is logged: a request arriving then could do nothing a
    refusal would prevent (its real work needs the same database), while waiting would cost Slack's 3 s.
    The claim is not cancelled (cancelling a driver call midway can spoil its connection); it finishes
    in the background.
    """

    def __init__(
        self,
        store: Callable[[], ReplayStore | None] = lambda: None,
        *,
        ttl: float = 360.0,
        wait: float = 0.5,
        maxsize: int = 50_000,
    ) -> None:
        self._store = store
        self._ttl = timedelta(seconds=ttl)
        self._wait = wait
        self._mine: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._claims: set[asyncio.Task[bool]] = set()  # claims that outlived `wait`, finishing

    async def first_use(self, signature: str | None) -> bool:
        if not signature:
            return True  # Bolt refuses it (missing signature)
        if signature in self._mine:
            return False
        store = self._store()
        if store is not None and not await self._claim(store, signature):
            return False
        self._mine[signature] = True
        return True

    async def _claim(self, store: ReplayStore, signature: str) -> bool:
        claim = asyncio.create_task(store.claim_signature(signature, self._ttl))
        try:
            return await asyncio.wait_for(asyncio.shield(claim), self._wait)
        except (TimeoutError, StoreError) as exc:
            log.warning("slack.replay_guard_unavailable", error=type(exc).__name__, fallback="this process")
            if not claim.done():
                self._claims.add(claim)
                claim.add_done_callback(self._finished)
            return True

    def _finished(self, claim: asyncio.Task[bool]) -> None:
        self._claims.discard(claim)
        if not claim.cancelled() and claim.exception() is not None:
            log.warning("slack.replay_guard_unavailable", error=type(claim.exception()).__name__)

    async def forget(self, signature: str | None) -> None:
        if not signature:
            return
        self._mine.pop(signature, None)
        store = self._store()
        if store is not None:
            try:
                await store.forget_signature(signature)
            except StoreError as exc:  # the claim then lives out its 6 minutes: a retry is refused meanwhile
                log.warning("slack.replay_guard_unavailable", error=type(exc).__name__, action="forget")


# Request size limits (bytes). Slack's largest payloads are view submissions of a full modal (100 blocks of
# at most 3,000 characters, a few hundred KB with Slack's framing); RingCentral's webhook events carry only a
# hint (NOTES.md §5), well under 16 KB. Anything larger is refused with 413 before it is read into memory
# or reaches Bolt's parser.
BODY_LIMITS = {
    "/slack/events": 1024 * 1024,
    "/ringcentral/webhook": 64 * 1024,
    "/ringcentral/oauth/callback": 4 * 1024,  # the confirmation form: a token and a word
}


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
