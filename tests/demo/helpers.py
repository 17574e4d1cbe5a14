"""Running `thread-note-bot` as a user would (a subprocess of the installed console script), and Debian's
headless Chromium against a page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def console_script() -> list[str]:
    """`thread-note-bot` beside this interpreter (the venv's), else `python -m bot`."""
    script = Path(sys.executable).parent / "thread-note-bot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def user_env(**extra: str) -> dict[str, str]:
    """The (already scrubbed) environment of the test, plain output, plus `extra`."""
    env = dict(os.environ)
    env.update(PYTHONIOENCODING="utf-8", NO_COLOR="1", **extra)
    return env


def chromium(url: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with a fresh profile and nothing fetched from the internet."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def have_chromium() -> bool:
    return CHROMIUM.exists() and shutil.which(str(CHROMIUM)) is not None


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found: list[Node] = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.classes):
                    found.append(c)
                found.extend(c.find_all(tag, cls))
        return found

    def ancestors(self) -> list[Node]:
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out


_VOID = {"meta", "br", "hr", "img", "input", "link"}


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in _VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_html(text: str) -> Node:
    tree = _Tree()
    tree.feed(text)
    tree.close()
    return tree.root


def read_until(stream: Any, marker: str, limit: int = 400) -> list[str]:
    """Lines from a subprocess's stdout until one contains `marker` (or the stream ends)."""
    lines: list[str] = []
    for _ in range(limit):
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            break
    return lines
