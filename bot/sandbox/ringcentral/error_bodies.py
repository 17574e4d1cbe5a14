"""Error bodies in RingCentral's shapes.

`ApiError` renders the standard body (`errorCode`, `message` at top level, as real responses do, plus
`errors[]`), `OAuthError` the OAuth body (`error`, `error_description`, `errors[]`, per the spec's
`OauthInvalidRequest`).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        parameter: str | None = None,
        value: Any = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.value = value
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"errorCode": self.code, "message": self.message, **self.extra}
        if self.parameter is not None:
            item["parameterName"] = self.parameter
            if self.value is not None:
                item["parameterValue"] = str(self.value)
        return {"errorCode": self.code, "message": self.message, "errors": [item]}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid(parameter: str, message: str, value: Any = None, code: str = "CMN-101") -> ApiError:
    """400: a request parameter is wrong (the message says which and how to fix it)."""
    return ApiError(400, code, message, parameter=parameter, value=value)


def not_found(parameter: str, value: Any) -> ApiError:
    return ApiError(
        404, "CMN-102", f"Resource for parameter [{parameter}] is not found", parameter=parameter, value=value
    )


class OAuthError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        code: str,
        *,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error} {code}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.code = code
        self.parameter = parameter
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"errorCode": self.code, "message": self.description}
        if self.parameter:
            item["parameterName"] = self.parameter
        return {
            "error": self.error,
            "error_description": self.description,
            "errorCode": self.code,
            "message": self.description,
            "errors": [item],
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)
