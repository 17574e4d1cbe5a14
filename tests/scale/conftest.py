"""Fixtures of the scale tests: an emulator seeded with many resources, and the PostgreSQL gate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kit.rc import RcSandbox, start_rc_sandbox
from tests.scale.helpers import many_resources_seed, scale_settings

RESOURCES = 6


@pytest.fixture
def scale_rc() -> Iterator[RcSandbox]:
    sandbox = start_rc_sandbox(many_resources_seed(RESOURCES), scale_settings())
    try:
        yield sandbox
    finally:
        sandbox.server.stop()
