"""The boundaries are checked by a machine: the import contracts in pyproject.toml (`[tool.importlinter]`).

Listeners over notifications over use cases over the RingCentral client and the store over Block Kit; the
sandbox imports only bot.servers and bot.logs and only the entry points import it; no cycles between the
bot's subpackages. CI runs only pytest, so this test runs import-linter's own command, as a developer would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_imports_keep_every_contract_in_pyproject() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), f"{lint_imports} is missing: pip install -e '.[test]' installs it"
    # --no-cache: nothing is written into the checkout, and parallel workers never share a cache.
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"lint-imports failed:\n{done.stdout}\n{done.stderr}"
    assert "0 broken" in done.stdout
