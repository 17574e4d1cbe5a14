"""The API's parameter rules, checked before sending (cheap, and a clear `InvalidInput` instead of a 400),
and the helpers every listing shares: page-number paging and reading a response into a typed model.

RingCentral's list operations page by number (`page` 1-1000, `perPage` 1-1000) and may omit the totals
(NOTES.md §6.3): a page is the last when it says so, or when it comes back short.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.note_text import NOTE_TEXT_MAX, note_length
from bot.ringcentral.errors import InvalidInput, RingCentralError
from bot.ringcentral.models import Paging

Availability = Literal["Alive", "Deleted"]

MAX_FILTER_IDS = 10  # ids per list filter (`ownerExtensionIds`, `threadIds`, `noteIds`)
MAX_DELETE_IDS = 100
MAX_PAGE = 1000  # the highest `page`, and the largest `perPage`
# Records asked for on an FSync: what RingCentral's own clients send (and the message store's sync cap).
SYNC_RECORD_COUNT = 250


def check_text(text: str) -> None:
    if not isinstance(text, str) or not 1 <= note_length(text) <= NOTE_TEXT_MAX:
        size = note_length(text) if isinstance(text, str) else "no"
        raise InvalidInput(f"note text must be 1-{NOTE_TEXT_MAX} characters, got {size}", parameter="text")


def check_nonempty(parameter: str, value: str) -> None:
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidInput(f"{parameter} must be a non-empty id", parameter=parameter)


def add_ids(params: dict[str, Any], name: str, ids: Sequence[str] | None) -> None:
    if ids is None:
        return
    if isinstance(ids, str):
        ids = [ids]
    unique = list(dict.fromkeys(ids))
    if not 1 <= len(unique) <= MAX_FILTER_IDS:
        raise InvalidInput(f"{name} takes 1-{MAX_FILTER_IDS} ids, got {len(unique)}", parameter=name)
    params[name] = unique  # a list: httpx repeats the key (explode: true)


def add_availability(params: dict[str, Any], availability: Sequence[Availability] | None) -> None:
    if availability is None:
        return
    values = list(dict.fromkeys([availability] if isinstance(availability, str) else availability))
    if not values or any(v not in ("Alive", "Deleted") for v in values):
        raise InvalidInput(f"availability must be Alive or Deleted, got {values}", parameter="availability")
    params["availability"] = values


def paging_params(page: int, per_page: int) -> dict[str, Any]:
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be 1-{MAX_PAGE}", parameter="page")
    if not 1 <= per_page <= MAX_PAGE:
        raise InvalidInput(f"per_page must be 1-{MAX_PAGE}", parameter="perPage")
    return {"page": page, "perPage": per_page}


R = TypeVar("R", covariant=True)


class Page(Protocol[R]):
    @property
    def records(self) -> Sequence[R]: ...

    @property
    def paging(self) -> Paging: ...


async def pages(fetch: Callable[[int], Awaitable[Page[R]]], per_page: int) -> AsyncIterator[R]:
    """The records of page 1, 2, … until a page says it is the last (RingCentral may omit the totals)."""
    page = 1
    while True:
        result = await fetch(page)
        for record in result.records:
            yield record
        if not has_more(result.paging, len(result.records), page, per_page):
            return
        page += 1


def has_more(paging: Paging, count: int, page: int, per_page: int) -> bool:
    if count == 0 or page >= MAX_PAGE:
        return False
    if paging.total_pages is not None:
        return page < paging.total_pages
    return count >= min(per_page, paging.per_page)


def rfc3339(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


M = TypeVar("M", bound=BaseModel)


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise RingCentralError(
            f"{response.request.method} {response.request.url.path}: answer is not JSON",
            status=response.status_code,
        ) from exc


def parse(model: type[M], data: Any) -> M:
    """A typed model from RingCentral's JSON; a surprising shape is a RingCentralError, not pydantic's."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RingCentralError(
            f"unexpected {model.__name__} from RingCentral: {exc.error_count()} problem(s)", body=data
        ) from exc


def id_as_str(record: dict[str, Any]) -> dict[str, Any]:
    """The account APIs give numeric ids; our models keep every id as a string."""
    return {**record, "id": str(record["id"])} if "id" in record else record
