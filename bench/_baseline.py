"""Two designs side by side in one run: the bot's code as it is here, and as it was at another commit.

    with designs("main") as (old, new):
        subprocess.run([sys.executable, "-m", "bench.throughput", "--one", ...], cwd=old.root)

The old code is checked out in a temporary `git worktree` (removed afterwards). `old.root` is a folder in
which `bot` is that commit's package and `bench` is this one (symlinks), so a child process started there
with `python -m` imports the old bot under today's benchmark (the working directory comes first on
`sys.path`, before the editable install). The stand-ins always run from this tree (`_kit.Proc`'s `cwd` is
the repository root), so both designs meet the same Slack and RingCentral.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench._kit import ROOT


@dataclass(frozen=True)
class Design:
    name: str  # "old" | "new"
    root: Path  # where to start a child process so that it imports this design's `bot`
    commit: str  # the commit (with "+changes" when the working tree differs from it)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def current() -> Design:
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "bot", "bench")
    return Design("new", ROOT, commit + ("+changes" if dirty else ""))


# The last commit with the sender of one round over the 500 oldest rows (before issue 15's sender work). Not
# "where this branch forked from main": main merges the work as it goes, and then that is the new design.
OLD_SENDER = "35fd251"


def default_baseline() -> str:
    return OLD_SENDER


@contextmanager
def designs(ref: str | None = None) -> Iterator[tuple[Design, Design]]:
    """(old at `ref` or `OLD_SENDER`, new here); the old one's worktree exists for the block only."""
    commit = _git("rev-parse", "--short", ref or default_baseline())
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    tree, overlay = folder / "tree", folder / "overlay"
    _git("worktree", "add", "--detach", str(tree), commit)
    try:
        overlay.mkdir()
        (overlay / "bot").symlink_to(tree / "bot")
        (overlay / "bench").symlink_to(ROOT / "bench")
        yield Design("old", overlay, commit), current()
    finally:
        _git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)
