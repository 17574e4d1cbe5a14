"""The one error tree callers of the RingCentral client act on.

Library and HTTP failures are translated here, at the client's boundary; nothing above it sees httpx.
The Slack layer turns each class into one sentence for the user.

    RingCentralError
    ├── RateLimited(retry_after)       429 — wait, then try again
    ├── AuthError                      the token cannot be used or renewed
    │   └── AuthRevoked                refresh refused / session revoked: the person must reconnect
    ├── Forbidden                      403 — not allowed (not a handler, not the author, permission missing)
    │   └── ThreadResolved             the thread is Resolved: notes are closed
    ├── NotFound                       404 — no such (or no visible) thread / note
    ├── InvalidInput(parameter)        400 — the request was wrong; `parameter` names the field when known
    │   └── SyncTokenExpired           an ISync token is no longer valid: a full sync is needed
    └── Unavailable(maybe_created)     5xx, timeouts, network errors (after retries); `maybe_created` when a
                                       create may have landed
"""

from __future__ import annotations

from typing import Any


class RingCentralError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.body = body

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(status={self.status}, error_code={self.error_code!r}, {self.message!r})"


class RateLimited(RingCentralError):
    def __init__(self, message: str, *, retry_after: float, group: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.group = group


class AuthError(RingCentralError):
    """The access token is unusable and could not be renewed right now."""


class AuthRevoked(AuthError):
    """The session is gone (refresh token revoked, expired or already used): reconnect."""


class Forbidden(RingCentralError):
    pass


class ThreadResolved(Forbidden):
    def __init__(self, message: str, *, thread_id: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.thread_id = thread_id


class NotFound(RingCentralError):
    pass


class InvalidInput(RingCentralError):
    def __init__(self, message: str, *, parameter: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.parameter = parameter


class SyncTokenExpired(InvalidInput):
    pass


class Unavailable(RingCentralError):
    """5xx, timeout or network failure after the retries the call allows.

    `maybe_created` is set when a non-idempotent write (a note create) may have reached RingCentral before it
    failed: the note may exist. Check with `RingCentralClient.find_recent_note` before trying again.
    """

    def __init__(
        self, message: str, *, maybe_created: bool = False, retry_after: float | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.maybe_created = maybe_created
        self.retry_after = retry_after
