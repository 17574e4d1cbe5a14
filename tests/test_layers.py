"""The dependency direction of docs/INTERNALS.md, checked on what importing a package really loads: the Block
Kit leaf (bot/blockkit) loads nothing else of the bot, and the channel notifications (bot/notify) never load
the Slack listeners or their views. Each check runs in a fresh interpreter, so what this test process already
imported cannot hide an import."""

from __future__ import annotations

import subprocess
import sys

_LOADED = """
import importlib, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
print("\\n".join(sorted(name for name in sys.modules if name == "bot" or name.startswith("bot."))))
"""


def _loaded_by(package: str) -> set[str]:
    """The bot's modules loaded by importing `package` and every module in it."""
    out = subprocess.run(
        [sys.executable, "-c", _LOADED, package], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_block_kit_leaf_loads_nothing_of_the_bot_above_it() -> None:
    loaded = _loaded_by("bot.blockkit")
    assert "bot.blockkit.ids" in loaded
    assert {m for m in loaded if not m.startswith("bot.blockkit")} <= {"bot", "bot.note_text"}


def test_notifications_never_load_the_slack_listeners_or_views() -> None:
    loaded = _loaded_by("bot.notify")
    assert {"bot.notify.messages", "bot.notify.roundups", "bot.blockkit.ids"} <= loaded
    assert not {m for m in loaded if m == "bot.slack" or m.startswith("bot.slack.")}
