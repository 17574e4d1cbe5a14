"""What a person sees: the text of a Slack payload, its buttons, the note behind a message, the bot's
connect confirmation page. A step that does not see what it expects raises `DemoFailed`."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

JSON = dict[str, Any]


class DemoFailed(Exception):
    """A step did not happen; the message is one line saying what was expected and what was seen."""


def texts(node: Any) -> str:
    """Every `text` in a Slack payload, joined: what a person would read."""
    out: list[str] = []

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            for key, value in n.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(n, list):
            for item in n:
                walk(item)

    walk(node)
    return "\n".join(out)


def find_button(node: Any, action_id: str) -> JSON | None:
    if isinstance(node, dict):
        if node.get("type") == "button" and node.get("action_id") == action_id:
            return node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = find_button(item, action_id)
            if found is not None:
                return found
    return None


def note_id_of(message: JSON) -> str | None:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    value = payload.get("note_id")
    return str(value) if value is not None else None


_FORM_TOKEN = re.compile(r"name='form_token' value='([^']*)'")


def click_link(page: httpx.Response) -> httpx.Response:
    """On the bot's connect confirmation page ("Link Slack user … to RingCentral …?"), press Link as a person
    would: post the page's form back to it. A page without the form (a refusal) is returned as it is."""
    found = _FORM_TOKEN.search(page.text)
    if found is None:
        return page
    token = html.unescape(found.group(1))
    url = str(page.url.copy_with(query=None))
    return httpx.post(url, data={"form_token": token, "decision": "link"}, timeout=10)
