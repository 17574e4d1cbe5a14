"""Injected faults (`POST /sandbox/faults`), matched against API requests by path and method.

Kinds: `latency` (sleep `seconds` before the request is read, then answer normally), `latency_after` (the
request is read and carried out — a note is created — then the answer waits `seconds`: "timed out, but it
landed"), `status` (answer `status`, default 503, with a RingCentral-looking body and `Retry-After` when
`retryAfter` is given), `rate_limit` (429 `CMN-301` like the emulator's own limiter: `X-Rate-Limit-*`
headers, and the caller's penalty starts (or restarts) in that group, so early requests meet the real
penalty; `Retry-After` only when `retryAfter` is given, which then is the penalty), `hold` (the request
waits until `POST
/sandbox/faults/{id}/release` or until faults are cleared), `expire_tokens` (applied at once: every current
access token of `extensionId`, or of everyone, becomes expired → 401 `OAU-128`).

`path` is a prefix (`/restapi/v1.0/account/~/message-threads/notes`) or a template with `{placeholders}`
(`/restapi/v1.0/account/{accountId}/message-threads/{threadId}`, which then means exactly that route, not
`…/message-threads/notes`); `~` in a prefix also matches every account's real id. `method` defaults to any.
`accountId` limits a fault to requests made with a token of that account (`expire_tokens`: that account's
tokens), so one account's RingCentral can fail while another's works. `count` = how many matching requests
are affected (default: all, until `DELETE /sandbox/faults`).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.ringcentral.error_bodies import ApiError

KINDS = ("latency", "latency_after", "status", "rate_limit", "expire_tokens", "hold")
_STATUS_BODIES = {
    500: ("CMN-500", "Internal Server Error"),
    502: ("CMN-202", "Bad Gateway"),
    503: ("CMN-201", "Service Temporary Unavailable"),
    504: ("CMN-203", "Gateway Timeout"),
}


@dataclass(frozen=True)
class Requested:
    """An API request as faults match it: `account_ids` are every account's id (what `~` may stand for),
    `caller_account` the account of the bearer token it carries, if any."""

    method: str
    path: str
    template: str
    account_ids: tuple[str, ...]
    caller_account: str | None = None


@dataclass
class Fault:
    id: str
    kind: str
    path: str | None = None
    method: str | None = None
    count: int | None = None
    seconds: float = 0.0
    status: int = 503
    retry_after: int | None = None
    extension_id: str | None = None
    account_id: str | None = None
    hits: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)
    _pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        if self.path and "{" in self.path:
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.path))
            self._pattern = re.compile(f"^{regex}$")

    def matches(self, request: Requested) -> bool:
        method, path, template = request.method, request.path, request.template
        if self.count is not None and self.hits >= self.count:
            return False
        if self.account_id is not None and request.caller_account != self.account_id:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if not self.path:
            return True
        if self._pattern is not None:  # a template names one route: compare with the route's template
            return self.path.replace("/account/~/", "/account/{accountId}/") == template
        return path.startswith(self.path) or any(
            path.startswith(self.path.replace("/account/~", f"/account/{account_id}"))
            or path.replace(f"/account/{account_id}", "/account/~").startswith(self.path)
            for account_id in request.account_ids
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "path": self.path,
            "method": self.method,
            "count": self.count,
            "hits": self.hits,
            "seconds": self.seconds,
            "status": self.status,
            "retryAfter": self.retry_after,
            "accountId": self.account_id,
        }


class InjectedRateLimit(ApiError):
    """An injected 429: the app turns it into the limiter's own penalty once it knows the caller."""

    def __init__(self, retry_after: int | None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        super().__init__(429, "CMN-301", "Request rate exceeded", headers=headers)
        self.retry_after = retry_after


class Faults:
    def __init__(self) -> None:
        self.active: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, body: dict[str, Any]) -> Fault:
        kind = body.get("kind")
        if kind not in KINDS:
            raise ApiError(400, "SBX-400", f"fault kind must be one of {', '.join(KINDS)}, not {kind!r}")
        status = int(body.get("status", 503 if kind == "status" else 429))
        if kind == "status" and not 400 <= status <= 599:
            raise ApiError(400, "SBX-400", "a status fault needs a 4xx/5xx status")
        fault = Fault(
            id=f"fault-{next(self._ids)}",
            kind=kind,
            path=body.get("path"),
            method=body.get("method"),
            count=body.get("count"),
            seconds=float(body.get("seconds", 0.0)),
            status=status,
            retry_after=body.get("retryAfter"),
            extension_id=body.get("extensionId"),
            account_id=body.get("accountId"),
        )
        if kind != "expire_tokens":
            self.active.append(fault)
        return fault

    def release(self, fault_id: str) -> Fault:
        for fault in self.active:
            if fault.id == fault_id:
                fault.released.set()
                if fault.kind == "hold":
                    self.active.remove(fault)
                return fault
        raise ApiError(404, "SBX-404", f"no active fault {fault_id!r}")

    def clear(self) -> int:
        for fault in self.active:
            fault.released.set()
        count = len(self.active)
        self.active.clear()
        return count

    async def apply(self, request: Requested) -> None:
        """Run the faults matching this request: sleep, wait, or raise the injected error."""
        for fault in list(self.active):
            if not fault.matches(request):
                continue
            if fault.kind == "latency_after":
                continue  # runs after the handler: see apply_after
            fault.hits += 1
            if fault.kind == "latency":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "hold":
                await fault.released.wait()
            elif fault.kind == "rate_limit":
                raise InjectedRateLimit(fault.retry_after)
            else:
                code, message = _STATUS_BODIES.get(fault.status, ("CMN-201", "Service Temporary Unavailable"))
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                raise ApiError(fault.status, code, message, headers=headers)

    async def apply_after(self, request: Requested) -> None:
        """Run the `latency_after` faults matching a request that has been carried out."""
        for fault in list(self.active):
            if fault.kind == "latency_after" and fault.matches(request):
                fault.hits += 1
                await asyncio.sleep(fault.seconds)
