"""Run an ASGI app under uvicorn on a real loopback socket, in a background thread.

Used by the tests (a real server on port 0, not an in-process transport), by `demo`, and by anything that
needs a stand-in running beside the caller's own event loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn


class BackgroundServer:
    """`with BackgroundServer(app) as server: httpx.get(server.url + "/healthz")`."""

    def __init__(
        self, app: Any = None, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
    ) -> None:
        """Binds the socket at once, so `url` is known before the app is built (set `app` before `start`)."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self.app = app
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, name=f"server:{self.port}", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        assert self._server is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        if self.app is None:
            raise ValueError("set BackgroundServer.app before start()")
        config = uvicorn.Config(self.app, log_level=self._log_level, lifespan="auto", ws="websockets-sansio")
        self._server = uvicorn.Server(config)
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} failed to start") from self._error
            if waited >= timeout:
                raise TimeoutError(f"server on port {self.port} did not start within {timeout}s")
            deadline.wait(0.01)
            waited += 0.01
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server to exit and wait for its thread: a bot's shutdown lets running jobs finish for up
        to twice `STOP_GRACE_SECONDS`, and a thread left running would go on talking to whatever server
        takes its peers' ports next."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
