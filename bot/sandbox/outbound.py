"""The stand-ins' outgoing HTTP (RingCentral's webhook deliveries, Slack's Events API): a new connection each
time, as a real service's delivery may be, but one TLS context for all of them. Building the context is what
made an `httpx.AsyncClient` cost ≈ 30 ms of CPU: at one delivery per note that alone kept the emulator's one
core busy during a burst, and every account's requests queued behind it (BENCHMARKS.md, figure 12)."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def client(timeout: float) -> httpx.AsyncClient:
    """A client for one delivery (or one delivery's retries), cheap to make."""
    return httpx.AsyncClient(timeout=timeout, verify=_tls())
