"""`bot_env`: the settings of a `thread-note-bot serve` subprocess against both stand-ins (shared with the
crash-restart tests)."""

from tests.notify.test_crash_restart import bot_env

__all__ = ["bot_env"]
