"""Query and body parsing with RingCentral-style 400s that name the parameter."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from bot.sandbox.ringcentral.clock import parse_rfc3339
from bot.sandbox.ringcentral.error_bodies import ApiError, invalid

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
Query = dict[str, list[str]]


def query_of(request: Request) -> Query:
    out: Query = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


def one(query: Query, name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise invalid(name, f"Parameter [{name}] must be given once", values[1])
    return values[0]


def integer(query: Query, name: str, default: int, low: int, high: int, *, clamp: bool = False) -> int:
    raw = one(query, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"Parameter [{name}] must be an integer", raw) from None
    if value < low or (value > high and not clamp):
        raise invalid(name, f"Parameter [{name}] must be between {low} and {high}", raw)
    return min(value, high)


def id_list(
    query: Query, name: str, *, max_items: int = 10, choices: tuple[str, ...] | None = None
) -> list[str] | None:
    values = query.get(name)
    if values is None:
        return None
    if len(values) > max_items:
        raise invalid(
            name, f"Parameter [{name}] accepts at most {max_items} values, got {len(values)}", len(values)
        )
    if len(set(values)) != len(values):
        raise invalid(name, f"Parameter [{name}] values must be unique")
    for value in values:
        if not value or (choices is not None and value not in choices):
            allowed = f" (one of {', '.join(choices)})" if choices else ""
            raise invalid(name, f"Parameter [{name}] has an invalid value{allowed}", value)
    return values


def enum(query: Query, name: str, choices: tuple[str, ...]) -> str | None:
    value = one(query, name)
    if value is not None and value not in choices:
        raise invalid(name, f"Parameter [{name}] must be one of {', '.join(choices)}", value)
    return value


def e164(query: Query, name: str) -> str | None:
    value = one(query, name)
    if value is not None and not E164.match(value):
        raise invalid(name, f"Parameter [{name}] must be an E.164 phone number like +16505550123", value)
    return value


def time_range(query: Query) -> tuple[int, int] | None:
    start, end = one(query, "creationTimeFrom"), one(query, "creationTimeTo")
    if start is None and end is None:
        return None
    if start is None or end is None:
        missing = "creationTimeFrom" if start is None else "creationTimeTo"
        raise invalid(
            missing, "Parameters [creationTimeFrom] and [creationTimeTo] are only supported together"
        )
    out = []
    for name, raw in (("creationTimeFrom", start), ("creationTimeTo", end)):
        try:
            out.append(parse_rfc3339(raw))
        except ValueError:
            raise invalid(
                name, f"Parameter [{name}] must be RFC 3339 with a time zone, e.g. 2026-03-01T12:00:00Z", raw
            ) from None
    return out[0], out[1]


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400, "CMN-103", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "CMN-103", "Request body must be a JSON object")
    return body


def note_text(body: dict[str, Any], *, utf16: bool = False) -> str:
    """The note's text, 1-1000 characters. RingCentral does not say what a character is: by default code
    points are counted; with `utf16` (profile `text_length_utf16`) UTF-16 code units, so an emoji outside
    the BMP counts 2, as a Java or JavaScript server would count it."""
    text = body.get("text")
    if not isinstance(text, str):
        raise invalid("text", "Parameter [text] is required and must be a string of 1 to 1000 characters")
    length = len(text.encode("utf-16-le", "surrogatepass")) // 2 if utf16 else len(text)
    if not 1 <= length <= 1000:
        raise invalid("text", f"Parameter [text] must be 1 to 1000 characters long, got {length}", length)
    return text


def paging(items: list[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, int]]:
    """Enumerated paging per the spec; `totalPages`/`totalElements` are omitted (the spec allows it)."""
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    meta = {"page": page, "perPage": per_page}
    if chunk:
        meta |= {"pageStart": start, "pageEnd": start + len(chunk) - 1}
    return chunk, meta
