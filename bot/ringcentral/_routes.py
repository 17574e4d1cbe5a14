"""Route templates (for logs and rate-limit bookkeeping) and the spec's default rate-limit groups.

The group of a route is learned from the `X-Rate-Limit-Group` response header; before the first response the
spec's `x-throttling-group` of the operation is used (table below). Unknown routes fall back to Medium, the
strictest group the bot normally touches besides Auth.
"""

from __future__ import annotations

import re

_ID = r"[^/]+"

# (method, regex over the path, template, default group from the spec's x-throttling-group)
_ROUTES: list[tuple[str, re.Pattern[str], str, str]] = []


def _add(method: str, template: str, group: str) -> None:
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{[A-Za-z]+\\\}", _ID, pattern)
    _ROUTES.append((method, re.compile(f"^{pattern}$"), template, group))


_MT = "/restapi/v1.0/account/{accountId}/message-threads"
_add("POST", "/restapi/oauth/token", "Auth")
_add("POST", "/restapi/oauth/revoke", "Auth")
_add("GET", "/restapi/oauth/authorize", "Auth")
_add("GET", f"{_MT}/notes", "Medium")
_add("POST", f"{_MT}/notes", "Medium")
_add("DELETE", f"{_MT}/notes", "Medium")
_add("PATCH", f"{_MT}/notes/{{noteId}}", "Medium")
_add("GET", f"{_MT}/entries/sync", "Medium")
_add("GET", f"{_MT}/sync", "Medium")
_add("GET", f"{_MT}/messages", "Medium")
_add("POST", f"{_MT}/messages", "Medium")
_add("DELETE", f"{_MT}/messages", "Medium")
_add("POST", f"{_MT}/{{threadId}}/resolve", "Medium")
_add("POST", f"{_MT}/{{threadId}}/assign", "Medium")
_add("GET", f"{_MT}/{{threadId}}", "Medium")
_add("DELETE", f"{_MT}/{{threadId}}", "Medium")
_add("GET", _MT, "Medium")
_add("GET", "/restapi/v1.0/account/{accountId}/extension/{extensionId}/phone-number", "Light")
_add("GET", "/restapi/v1.0/account/{accountId}/extension/{extensionId}/sms-recipients", "Light")
_add("POST", "/restapi/v1.0/account/{accountId}/extension/{extensionId}/sms-recipients/bulk-assign", "Medium")
_add("GET", "/restapi/v1.0/account/{accountId}/extension/{extensionId}", "Light")
_add("GET", "/restapi/v1.0/account/{accountId}/sites", "Light")
_add("GET", "/restapi/v1.0/account/{accountId}/call-queues/{groupId}/members", "Light")
_add("GET", "/restapi/v1.0/account/{accountId}/call-queues", "Medium")
_add("GET", "/restapi/v1.0/subscription", "Light")
_add("POST", "/restapi/v1.0/subscription", "Medium")
_add("POST", "/restapi/v1.0/subscription/{subscriptionId}/renew", "Light")
_add("GET", "/restapi/v1.0/subscription/{subscriptionId}", "Light")
_add("PUT", "/restapi/v1.0/subscription/{subscriptionId}", "Medium")
_add("DELETE", "/restapi/v1.0/subscription/{subscriptionId}", "Medium")

DEFAULT_GROUP = "Medium"


def match(method: str, path: str) -> tuple[str, str]:
    """`(route template, default group)` for a request; unknown routes keep their path."""
    for route_method, pattern, template, group in _ROUTES:
        if route_method == method and pattern.match(path):
            return template, group
    return path, DEFAULT_GROUP
