"""The terminal lines of `thread-note-bot demo` and `check`: one place for their ✓/✗/· marks and colours.

Both commands print short lines for a person reading a terminal (or a log file, or a Windows console that
cannot show ✓), so they share this printer instead of one borrowing the other's.
"""

from __future__ import annotations

import os
import sys
from typing import Any


class Printer:
    """Short lines with ✓/✗ (plain OK/FAIL where the terminal cannot show them), green and red on a tty."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        encoding = getattr(self.out, "encoding", None) or "utf-8"  # a StringIO has none
        try:
            "✓✗·".encode(encoding)
            self.ok, self.bad, self.skip = "✓", "✗", "·"
        except (UnicodeEncodeError, LookupError):
            self.ok, self.bad, self.skip = "OK", "FAIL", "--"
        color = hasattr(self.out, "isatty") and self.out.isatty() and not os.environ.get("NO_COLOR")
        self._green, self._red, self._dim, self._off = (
            ("\033[32m", "\033[31m", "\033[2m", "\033[0m") if color else ("", "", "", "")
        )

    def line(self, text: str = "") -> None:
        try:
            print(text, file=self.out, flush=True)
        except UnicodeEncodeError:
            print(text.encode("ascii", "replace").decode(), file=self.out, flush=True)

    def passed(self, text: str, seconds: float | None = None) -> None:
        took = f" {self._dim}({seconds:.1f} s){self._off}" if seconds is not None else ""
        self.line(f"  {self._green}{self.ok}{self._off} {text}{took}")

    def failed(self, text: str) -> None:
        self.line(f"  {self._red}{self.bad}{self._off} {text}")

    def skipped(self, text: str) -> None:
        self.line(f"  {self._dim}{self.skip} {text}{self._off}")
