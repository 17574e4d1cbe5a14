"""Digests run the real bot on the clock the test moves (`tests/kit/clocked.py`)."""

from tests.kit.clocked import ana, ben, bot, clock  # noqa: F401 - fixtures
