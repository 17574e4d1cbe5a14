"""Slack's Block Kit limits, checked on the JSON we send (the SDK's own checks run in `to_dict()`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View


def _walk(node: Any, parent_type: str | None = None) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, parent_type)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "section" and "text" in node:
        assert 1 <= len(node["text"]["text"]) <= 3000
    if kind == "header":
        assert len(node["text"]["text"]) <= 150
    if kind == "context":
        assert len(node["elements"]) <= 10
    if kind == "actions":
        assert len(node["elements"]) <= 25
    if kind == "button":
        assert len(node["text"]["text"]) <= 75
        assert len(node.get("value", "")) <= 2000
        assert len(node.get("url", "")) <= 3000
    if "value" in node and "text" in node and kind is None:  # an option
        assert len(node["text"]["text"]) <= 75
        assert len(node["value"]) <= 150
    for key in ("action_id", "block_id"):
        if key in node:
            assert len(node[key]) <= 255
    for value in node.values():
        _walk(value, kind)


def message_json(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """The blocks as sent (validated by the SDK), after asserting the message limits."""
    data = [block.to_dict() for block in blocks]
    assert 1 <= len(data) <= 50
    _walk(data)
    return data


def view_json(view: View) -> dict[str, Any]:
    data = view.to_dict()
    assert len(data["blocks"]) <= 100
    assert len(data.get("private_metadata", "")) <= 3000
    for key in ("title", "submit", "close"):
        if key in data:
            assert len(data[key]["text"]) <= 24
    _walk(data["blocks"])
    return data


def text_of(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def mrkdwn_texts(data: Any) -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(node["text"])
            for value in node.values():
                walk(value)

    walk(data)
    return out


def buttons(data: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("type") == "button":
                out.append(node)
            for value in node.values():
                walk(value)

    walk(data)
    return out
