"""One line of `check`'s report, and what every check shares: its timeout and how it reads an answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

TIMEOUT = 5.0


@dataclass(frozen=True)
class Result:
    ok: bool | None  # None: not checked (something it needs is broken)
    text: str


def ok(text: str) -> Result:
    return Result(True, text)


def bad(text: str) -> Result:
    return Result(False, text)


def skip(text: str) -> Result:
    return Result(None, text)


def reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
