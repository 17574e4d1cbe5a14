"""Retention runs the bot on the clock the test moves (`tests/kit/clocked.py`): a month goes by at once."""

from tests.kit.clocked import ana, bot, clock  # noqa: F401 - fixtures
