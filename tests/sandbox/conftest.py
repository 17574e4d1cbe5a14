"""Two clients per test: `http` validates requests and responses, `raw` only responses (wrong requests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.kit.openapi import SpecTransport
from tests.kit.rc import RcSandbox


@pytest.fixture
async def http(rc_sandbox: RcSandbox, spec_transport: SpecTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rc_sandbox.url, transport=spec_transport, timeout=10) as client:
        yield client


@pytest.fixture
async def raw(rc_sandbox: RcSandbox) -> AsyncIterator[httpx.AsyncClient]:
    transport = SpecTransport(check_requests=False)
    async with httpx.AsyncClient(base_url=rc_sandbox.url, transport=transport, timeout=10) as client:
        yield client
    await transport.really_close()
    assert not transport.violations, transport.report()
