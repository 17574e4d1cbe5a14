"""Generic fixtures: running ASGI apps on real loopback sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.servers import BackgroundServer


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
