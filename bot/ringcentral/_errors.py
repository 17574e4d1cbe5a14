"""The one place where HTTP responses and httpx exceptions become errors of `bot.ringcentral.errors`."""

from __future__ import annotations

from typing import Any

import httpx

from bot.ringcentral.errors import (
    AuthError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    RingCentralError,
    Unavailable,
)
from bot.ringcentral.ratelimit import DEFAULT_RETRY_AFTER

# 400 codes meaning "this sync token can no longer be used" (NOTES.md §2.3).
SYNC_TOKEN_CODES = frozenset({"MSG-411", "CMN-101", "MSG-333"})


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def first_error(body: Any) -> dict[str, Any]:
    """`errors[0]` of a RingCentral error body, or {} when there is none."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return errors[0]
    return {}


def error_code(body: Any) -> str | None:
    """`errors[0].errorCode` first, the legacy top-level `errorCode` as a fallback."""
    code = first_error(body).get("errorCode")
    if code is None and isinstance(body, dict):
        code = body.get("errorCode")
    return str(code) if code is not None else None


def error_message(body: Any, response: httpx.Response) -> str:
    message = first_error(body).get("message")
    if message is None and isinstance(body, dict):
        message = body.get("message") or body.get("error_description")
    return str(message) if message else f"HTTP {response.status_code}"


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_for(response: httpx.Response, *, group: str | None = None) -> RingCentralError:
    """Translate a non-2xx response. 403 on note writes is refined by the client (re-reads the thread)."""
    status = response.status_code
    body = body_of(response)
    code = error_code(body)
    where = f"{response.request.method} {response.request.url.path}"
    message = f"{where}: {error_message(body, response)}"
    common: dict[str, Any] = {"status": status, "error_code": code, "body": body}
    if status == 400:
        parameter = first_error(body).get("parameterName")
        return InvalidInput(message, parameter=str(parameter) if parameter else None, **common)
    if status == 401:
        return AuthError(message, **common)
    if status == 403:
        return Forbidden(message, **common)
    if status == 404:
        return NotFound(message, **common)
    if status == 429:
        wait = retry_after(response)
        return RateLimited(
            message, retry_after=DEFAULT_RETRY_AFTER if wait is None else wait, group=group, **common
        )
    if status >= 500:
        return Unavailable(message, retry_after=retry_after(response), **common)
    return RingCentralError(message, **common)


def transport_error(exc: httpx.TransportError, *, maybe_created: bool = False) -> Unavailable:
    kind = type(exc).__name__
    return Unavailable(f"RingCentral unreachable ({kind})", maybe_created=maybe_created)


def reached_server(exc: httpx.TransportError) -> bool:
    """Could the request have reached RingCentral? Only a failure to connect proves it did not."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
