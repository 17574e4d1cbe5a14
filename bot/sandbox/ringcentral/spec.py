"""The official spec (trimmed) beside the emulator: source of each operation's rate-limit group."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).parent / "spec" / "message-threads-openapi.yml"


@lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = yaml.load(fh, Loader=loader)
    return spec


def throttling_group(method: str, template: str) -> str:
    """`x-throttling-group` of an operation (e.g. Medium), Light when the spec names none."""
    operation = load_spec()["paths"].get(template, {}).get(method.lower(), {})
    return str(operation.get("x-throttling-group", "Light"))
