"""Webhook subscriptions: the `Validation-Token` handshake, expiry and renewal, and push deliveries.

Create: the address gets `POST` with a `Validation-Token` header and must answer 200 echoing it within
`webhookTimeout` (3 s), else 400 `SUB-525`. Accepted event filters:
`/restapi/v1.0/account/~/message-threads/sync` and `…/message-threads/entries/sync` (`~` or the account id);
anything else → 400 `SUB-508`. At most 30 subscriptions per user (403 `SUB-505`). Unknown id or another
user's → 404 `CMN-102`; expired → 404 `SUB-507`.

Deliveries run as background tasks (the API answer never waits for them), at most
`DELIVERIES_IN_FLIGHT` at a time per subscription, the others waiting their turn in order (a push service
keeps a few connections per receiver, not one per change: a burst of changes reaches the receiver as a queue,
not all at once). The envelope
`{uuid, event, timestamp, subscriptionId, ownerId, body: {lastModifiedTime}}` with headers
`User-Agent: RingCentral-Webhook/8.3` and the secret given at creation (`deliveryMode.verificationToken`, or
the 2024 guide's `validationToken`) under the header the profile picks (`webhook_secret_header`: the spec's
`Verification-Token`, or the guide's `Validation-Token`, the handshake's own header). The handshake has no
body; a delivery always has one. Filters in `SandboxSettings.disabled_event_filters` are accepted but listed
in `disabledFilters`, and nothing is delivered for them. After
`webhook_failures_to_blacklist` failed deliveries in a row the subscription becomes `Blacklisted` and gets
nothing more.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.logs import get_logger
from bot.sandbox import outbound
from bot.sandbox.ringcentral.account_data import Notification
from bot.sandbox.ringcentral.clock import SandboxClock, iso_ms
from bot.sandbox.ringcentral.error_bodies import ApiError
from bot.sandbox.ringcentral.settings import SandboxSettings

log = get_logger(__name__)
MAX_PER_USER = 30
DELIVERIES_IN_FLIGHT = 8  # per subscription; the rest wait their turn, in order
_FILTER = re.compile(r"^/restapi/v1\.0/account/([^/]+)/message-threads/(entries/)?sync$")


@dataclass
class Subscription:
    id: str
    user_id: str
    event_filters: list[str]
    address: str
    verification_token: str | None
    expires_in: int
    created_ms: int
    expires_ms: int
    status: str = "Active"
    failures: int = 0
    blacklisted_ms: int | None = None
    # Its deliveries in flight, at most `DELIVERIES_IN_FLIGHT`; the rest wait their turn, in order.
    in_flight: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(DELIVERIES_IN_FLIGHT), repr=False, compare=False
    )


@dataclass
class Delivery:
    subscription_id: str
    event: str
    status: int | None
    error: str | None
    body: dict[str, Any]
    answered_ms: int | None = None  # when the receiver answered (or the delivery failed)


@dataclass
class Webhooks:
    clock: SandboxClock
    settings: SandboxSettings
    account_id: str
    base_url: str = "https://platform.ringcentral.com"
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def to_json(self, sub: Subscription) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": sub.id,
            "uri": f"{self.base_url}/restapi/v1.0/subscription/{sub.id}",
            "eventFilters": list(sub.event_filters),
            "disabledFilters": [
                {
                    "filter": f,
                    "reason": "Permission [SMS] is required",
                    "message": "The application does not have the permission this event filter needs",
                }
                for f in sub.event_filters
                if self.disabled(f)
            ],
            "expirationTime": iso_ms(sub.expires_ms),
            "expiresIn": max(1, (sub.expires_ms - self.clock.now_ms()) // 1000),
            "status": sub.status,
            "creationTime": iso_ms(sub.created_ms),
            "deliveryMode": {"transportType": "WebHook", "address": sub.address, "encryption": False},
        }
        if sub.blacklisted_ms is not None:
            body["blacklistedData"] = {
                "blacklistedAt": iso_ms(sub.blacklisted_ms),
                "reason": "Webhook failures",
            }
        return body

    def disabled(self, event_filter: str) -> bool:
        """Whether the app may not use this filter (settings `disabled_event_filters`)."""
        return any(
            d == "*" or event_filter.endswith("/" + d.lstrip("/"))
            for d in self.settings.disabled_event_filters
        )

    def get(self, user_id: str, sub_id: str) -> Subscription:
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub.user_id != user_id:
            raise ApiError(
                404,
                "CMN-102",
                "Resource for parameter [subscriptionId] is not found",
                extra={"parameterName": "subscriptionId"},
            )
        if sub.expires_ms <= self.clock.now_ms():
            raise ApiError(404, "SUB-507", f"Subscription [{sub_id}] has expired; create a new one")
        return sub

    def _filters(self, body: dict[str, Any], required: bool) -> list[str] | None:
        filters = body.get("eventFilters")
        if filters is None and not required:
            return None
        if not isinstance(filters, list) or not filters or not all(isinstance(f, str) for f in filters):
            raise ApiError(
                400,
                "SUB-508",
                "Parameter [eventFilters] must be a non-empty list of event filters",
                extra={"parameterName": "eventFilters"},
            )
        for item in filters:
            match = _FILTER.match(item)
            if not match or match.group(1) not in ("~", self.account_id):
                raise ApiError(
                    400,
                    "SUB-508",
                    f"Event filter [{item}] is not valid or not supported here; use "
                    "/restapi/v1.0/account/~/message-threads/entries/sync or …/message-threads/sync",
                    extra={"parameterName": "eventFilters", "parameterValue": item},
                )
        return list(filters)

    def _expires_in(self, body: dict[str, Any]) -> int | None:
        value = body.get("expiresIn")
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [expiresIn] must be a positive integer (seconds)",
                extra={"parameterName": "expiresIn"},
            )
        return min(value, self.settings.subscription_max_ttl)

    async def create(self, user_id: str, body: dict[str, Any]) -> Subscription:
        filters = self._filters(body, required=True)
        assert filters is not None
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict) or mode.get("transportType") != "WebHook" or not mode.get("address"):
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [deliveryMode] must be {transportType: WebHook, address, "
                "verificationToken?} (only webhooks are emulated)",
                extra={"parameterName": "deliveryMode"},
            )
        address = str(mode["address"])
        if not address.startswith(("http://", "https://")):
            raise ApiError(400, "SUB-525", f"Webhook address [{address}] is not an http(s) URL")
        mine = [
            s
            for s in self.subscriptions.values()
            if s.user_id == user_id and s.expires_ms > self.clock.now_ms()
        ]
        if len(mine) >= MAX_PER_USER:
            raise ApiError(
                403,
                "SUB-505",
                f"Subscription limit reached ({MAX_PER_USER} per user and app); delete unused subscriptions",
            )
        expires_in = self._expires_in(body) or self.settings.subscription_default_ttl
        await self._handshake(address)
        now = self.clock.now_ms()
        sub = Subscription(
            secrets.token_hex(8),  # the spec's subscriptionId parameter allows at most 20 characters
            user_id,
            filters,
            address,
            # The spec's field; the 2024 guide calls it `validationToken`: either is taken as the secret.
            mode.get("verificationToken") or mode.get("validationToken"),
            expires_in,
            now,
            now + expires_in * 1000,
        )
        self.subscriptions[sub.id] = sub
        return sub

    async def _handshake(self, address: str) -> None:
        token = str(uuid.uuid4())
        why: str
        try:
            async with outbound.client(self.settings.webhook_timeout) as client:
                answer = await client.post(
                    address, headers={"Validation-Token": token, "Content-Type": "application/json"}
                )
            if answer.status_code == 200 and answer.headers.get("Validation-Token") == token:
                return
            why = (
                f"it answered {answer.status_code} with Validation-Token "
                f"{answer.headers.get('Validation-Token')!r}"
            )
        except httpx.TimeoutException:
            why = f"it did not answer within {self.settings.webhook_timeout} s"
        except httpx.HTTPError as exc:
            why = f"it could not be reached ({type(exc).__name__})"
        raise ApiError(
            400,
            "SUB-525",
            f"WebHook responds with incorrect HTTP status or Validation-Token: the "
            f"address must answer 200 and echo the Validation-Token header; {why}",
        )

    def renew(self, user_id: str, sub_id: str, body: dict[str, Any] | None = None) -> Subscription:
        sub = self.get(user_id, sub_id)
        body = body or {}
        filters = self._filters(body, required=False)
        if filters is not None:
            sub.event_filters = filters
        sub.expires_in = self._expires_in(body) or (
            sub.expires_in if not body else self.settings.subscription_default_ttl
        )
        sub.expires_ms = self.clock.now_ms() + sub.expires_in * 1000
        return sub

    def delete(self, user_id: str, sub_id: str) -> None:
        self.get(user_id, sub_id)
        del self.subscriptions[sub_id]

    # ---- deliveries -------------------------------------------------------------------------------------

    def dispatch(self, notifications: list[Notification]) -> None:
        """Schedule deliveries for these changes (call from the server's event loop)."""
        now = self.clock.now_ms()
        for note in notifications:
            suffix = "message-threads/entries/sync" if note.filter == "entries" else "message-threads/sync"
            for sub in list(self.subscriptions.values()):
                if sub.user_id not in note.to or sub.status != "Active" or sub.expires_ms <= now:
                    continue
                if not any(f.endswith("/" + suffix) and not self.disabled(f) for f in sub.event_filters):
                    continue
                event = f"/restapi/v1.0/account/{self.account_id}/{suffix}"
                envelope = {
                    "uuid": str(uuid.uuid4()),
                    "event": event,
                    "timestamp": iso_ms(self.clock.now_ms()),
                    "subscriptionId": sub.id,
                    "ownerId": sub.user_id,
                    "body": {"lastModifiedTime": iso_ms(note.ms)},
                }
                task = asyncio.get_running_loop().create_task(self._deliver(sub, envelope))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sub: Subscription, envelope: dict[str, Any]) -> None:
        async with sub.in_flight:
            if self.subscriptions.get(sub.id) is sub and sub.status == "Active":  # not deleted meanwhile
                await self._deliver_now(sub, envelope)

    async def _deliver_now(self, sub: Subscription, envelope: dict[str, Any]) -> None:
        headers = {"User-Agent": "RingCentral-Webhook/8.3", "Content-Type": "application/json"}
        if sub.verification_token:  # under the header the profile reads the docs to name
            headers[self.settings.profile.webhook_secret_header] = sub.verification_token
        status: int | None = None
        error: str | None = None
        try:
            async with outbound.client(self.settings.webhook_timeout) as client:
                status = (await client.post(sub.address, json=envelope, headers=headers)).status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        self.deliveries.append(
            Delivery(sub.id, envelope["event"], status, error, envelope, self.clock.now_ms())
        )
        if status == 200:
            sub.failures = 0
            return
        sub.failures += 1
        log.info("sandbox webhook delivery failed", subscription_id=sub.id, status=status, error=error)
        if sub.failures >= self.settings.webhook_failures_to_blacklist and sub.status == "Active":
            sub.status, sub.blacklisted_ms = "Blacklisted", self.clock.now_ms()

    async def drain(self) -> None:
        """Wait for the deliveries in flight (used on shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
