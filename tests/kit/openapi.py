"""Validate RingCentral traffic against the official spec (openapi-core 0.19), on the wire.

`SpecValidator().check(request, response) -> list[str]` returns the violations of one exchange (empty = fine).
`spec_transport` (fixture) wraps `httpx.AsyncHTTPTransport()`: every `/restapi/...` request sent and response
received (success or error) is validated, and the test fails at teardown with a report of every mismatch.
Requests to other paths (`/sandbox/*`, webhooks) are passed through unchecked.

Adaptations, all in memory (the spec file is never edited):
* Paths are matched without the host: requests are presented as if sent to https://platform.ringcentral.com.
* The spec's `OAuth2` security scheme (which openapi-core cannot check) is checked as HTTP Bearer; the
  browser-facing `/restapi/oauth/authorize` carries no security.
* The token and revoke form bodies are checked against a flat restatement of their schemas (openapi-core
  cannot decode a form into `allOf`/`anyOf`).
* Statuses the spec does not list for an operation but RingCentral sends everywhere (401, 403, 404, 415, 429,
  5xx) are validated against the standard error body: `OauthInvalidRequest` for `/restapi/oauth/*`,
  `ApiErrorResponseModel` otherwise. Any other undeclared status is a violation.
* Under a profile that plays `sync_unknown_records` (`SpecValidator(unmodelled_sync_records=True)`), the
  records of an `entries/sync` answer that the schema does not model — a `recordType` it does not list, a
  "system entry" (`action`), which the operation's own description announces — are left out before the
  answer is validated; every other record is still checked.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from bot.sandbox.profiles import Profile
from bot.sandbox.ringcentral.spec import load_spec

SPEC_HOST = "https://platform.ringcentral.com"
_GENERIC_ERRORS = {401, 403, 404, 415, 429, 500, 502, 503, 504}


@lru_cache(maxsize=1)
def _adapted_spec() -> dict[str, Any]:
    spec = copy.deepcopy(load_spec())
    spec["components"]["securitySchemes"]["OAuth2"] = {"type": "http", "scheme": "bearer"}
    for operation in spec["paths"]["/restapi/oauth/authorize"].values():
        operation["security"] = [{}]
    form = "application/x-www-form-urlencoded"
    spec["paths"]["/restapi/oauth/token"]["post"]["requestBody"]["content"][form]["schema"] = _TOKEN_FORM
    spec["paths"]["/restapi/oauth/revoke"]["post"]["requestBody"]["content"][form]["schema"] = _REVOKE_FORM
    return spec


# openapi-core cannot decode a form body into the spec's allOf/anyOf token schemas (it yields `{}`), so the
# same rules are restated flat: every field of GetTokenRequest, and the fields each grant type requires.
_CLIENT = {
    "client_id": {"type": "string"},
    "client_assertion_type": {"type": "string"},
    "client_assertion": {"type": "string"},
}
_TOKEN_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        **_CLIENT,
        "grant_type": {
            "type": "string",
            "enum": [
                "authorization_code",
                "refresh_token",
                "partner_jwt",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ],
        },
        "code": {"type": "string"},
        "redirect_uri": {"type": "string", "format": "uri"},
        "code_verifier": {"type": "string"},
        "assertion": {"type": "string"},
        "refresh_token": {"type": "string"},
        "scope": {"type": "string"},
        "endpoint_id": {"type": "string"},
        "access_token_ttl": {"type": "integer", "minimum": 600, "maximum": 3600},
        "refresh_token_ttl": {"type": "integer", "maximum": 2592000},
    },
    "anyOf": [
        {"properties": {"grant_type": {"enum": ["authorization_code"]}}, "required": ["code"]},
        {"properties": {"grant_type": {"enum": ["refresh_token"]}}, "required": ["refresh_token"]},
        {
            "properties": {
                "grant_type": {"enum": ["urn:ietf:params:oauth:grant-type:jwt-bearer", "partner_jwt"]}
            },
            "required": ["assertion"],
        },
    ],
}
_REVOKE_FORM: dict[str, Any] = {"type": "object", "properties": {**_CLIENT, "token": {"type": "string"}}}


@lru_cache(maxsize=1)
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(_adapted_spec())  # type: ignore[arg-type]  # a plain dict is fine at run time


@lru_cache(maxsize=2)
def _error_validator(oauth: bool) -> OAS30Validator:
    spec = _adapted_spec()
    if oauth:
        schema = spec["components"]["responses"]["OauthInvalidRequest"]["content"]["application/json"][
            "schema"
        ]
    else:
        schema = {"$ref": "#/components/schemas/ApiErrorResponseModel"}
    return OAS30Validator({**schema, "components": spec["components"]})


class _Request:
    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )

    host_url = SPEC_HOST

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("content-type", ""))


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return str(self._response.headers.get("content-type", ""))

    @property
    def headers(self) -> Mapping[str, Any]:
        return Headers(list(self._response.headers.multi_items()))

    @property
    def data(self) -> bytes | None:
        return self._response.content or None


def _describe(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    for attr in ("schema_errors", "errors"):
        for inner in getattr(exc, attr, None) or []:
            parts.append(f"  - {getattr(inner, 'message', inner)}")
    cause = exc.__cause__
    while cause is not None:
        parts.append(f"  caused by {type(cause).__name__}: {cause}")
        for inner in getattr(cause, "schema_errors", None) or []:
            parts.append(f"    - {getattr(inner, 'message', inner)} at {list(getattr(inner, 'path', []))}")
        cause = cause.__cause__
    return "\n".join(parts)


_ENTRIES_SYNC = "/message-threads/entries/sync"


def _modelled_records_only(response: httpx.Response) -> httpx.Response:
    """An entries/sync answer without the records the schema does not model (see the module docstring)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return response
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        return response
    mapping = _adapted_spec()["components"]["schemas"]["ThreadEntrySyncItem"]["discriminator"]["mapping"]
    body["records"] = [r for r in records if isinstance(r, dict) and r.get("recordType") in mapping]
    return httpx.Response(response.status_code, headers=response.headers, json=body, request=response.request)


class SpecValidator:
    """Checks one request/response exchange against the RingCentral spec."""

    def __init__(self, *, unmodelled_sync_records: bool = False) -> None:
        self.unmodelled_sync_records = unmodelled_sync_records

    def check_request(self, request: httpx.Request) -> list[str]:
        try:
            _openapi().validate_request(_Request(request))
        except Exception as exc:  # openapi-core raises a family of errors; each one is a violation
            return [f"request {request.method} {request.url.path}: {_describe(exc)}"]
        return []

    def check_response(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        where = f"response {response.status_code} to {request.method} {request.url.path}"
        if self.unmodelled_sync_records and request.url.path.endswith(_ENTRIES_SYNC) and response.is_success:
            response = _modelled_records_only(response)
        try:
            _openapi().validate_response(_Request(request), _Response(response))
        except ResponseNotFound:
            return self._undeclared(request, response, where)
        except Exception as exc:
            return [f"{where}: {_describe(exc)}\n  body: {response.text[:500]}"]
        return []

    def _undeclared(self, request: httpx.Request, response: httpx.Response, where: str) -> list[str]:
        if response.status_code not in _GENERIC_ERRORS:
            return [f"{where}: status {response.status_code} is not declared by the spec for this operation"]
        if response.status_code == 415 and not response.content:
            return []
        try:
            body = json.loads(response.content)
        except ValueError:
            return [f"{where}: error body is not JSON: {response.text[:200]!r}"]
        validator = _error_validator(request.url.path.startswith("/restapi/oauth/"))
        problems = [f"{where}: {e.message} at {list(e.path)}" for e in validator.iter_errors(body)]
        return problems

    def check(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        return [*self.check_request(request), *self.check_response(request, response)]


class SpecTransport(httpx.AsyncBaseTransport):
    """An httpx transport that validates every RingCentral exchange and records the violations."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        validator: SpecValidator | None = None,
        *,
        check_requests: bool = True,
    ) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.validator = validator or SpecValidator()
        self.check_requests = check_requests
        self.violations: list[str] = []
        self.exchanges = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        checked = request.url.path.startswith("/restapi/")
        if checked and self.check_requests:
            self.violations += self.validator.check_request(request)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        copy_ = httpx.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions=response.extensions,
        )
        if checked:
            self.exchanges += 1
            self.violations += self.validator.check_response(request, copy_)
        return copy_

    async def aclose(self) -> None:
        """Clients may close it; the fixture closes the real transport at teardown."""

    async def really_close(self) -> None:
        await self.inner.aclose()

    def report(self) -> str:
        return f"{len(self.violations)} spec violation(s):\n" + "\n".join(self.violations)


def validator_for(profile: Profile) -> SpecValidator:
    """The spec's checks, adapted to what the profile's readings allow beyond the schema."""
    return SpecValidator(unmodelled_sync_records=profile.sync_unknown_records)


@pytest.fixture
async def spec_transport(sandbox_profile: Profile) -> AsyncIterator[SpecTransport]:
    """`httpx.AsyncClient(transport=spec_transport)`: any request/response off-spec fails the test."""
    transport = SpecTransport(validator=validator_for(sandbox_profile))
    yield transport
    await transport.really_close()
    assert not transport.violations, transport.report()
