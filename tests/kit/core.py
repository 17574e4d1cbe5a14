"""Generic fixtures: running ASGI apps on real loopback sockets. One context per SSL setting for httpx, and
the tests' own client for a stand-in (`standin_client`)."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import httpx._transports.default as httpx_transports
import pytest

from bot.servers import BackgroundServer


def standin_client(base_url: str, timeout: float = 10.0) -> httpx.Client:
    """A test's own sync client for a stand-in. It drops idle connections well before the stand-in's uvicorn
    closes them (5 s): at httpx's default of 5 s too, a request sent just as the server hung up met
    "Connection reset by peer" (a CI flake). The bot's own clients keep their defaults and meet it."""
    return httpx.Client(base_url=base_url, timeout=timeout, limits=httpx.Limits(keepalive_expiry=2.0))


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], BackgroundServer]]:
    """`server = serve_app(asgi_app)` starts it on a free port; stopped after the test."""
    started: list[BackgroundServer] = []

    def _serve(app: Any) -> BackgroundServer:
        server = BackgroundServer(app).start()
        started.append(server)
        return server

    yield _serve
    for server in reversed(started):
        server.stop()


def _share_ssl_contexts() -> None:
    """httpx builds a new SSL context for every client, loading certifi's CA bundle each time (≈30 ms, 0.36 s
    on the loaded CI machine), even for a client that only ever speaks plain HTTP to loopback; the tests and
    the bots they run in-process make thousands (a `wait_for` around `httpx.get` makes one every 20 ms). One
    context per set of arguments serves them all: a context is made to be shared, and over plain HTTP nothing
    touches it. Whatever cannot be a cache key (none here) gets a fresh one, as before."""
    create = httpx_transports.create_ssl_context
    cached = functools.lru_cache(maxsize=16)(create)

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        try:
            return cached(verify, cert, trust_env)
        except TypeError:
            return create(verify, cert, trust_env)

    httpx_transports.create_ssl_context = shared  # type: ignore[assignment]


_share_ssl_contexts()
