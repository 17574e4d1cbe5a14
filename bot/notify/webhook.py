"""Real time: a RingCentral webhook subscription of the service identity, used only as "poll now".

    hook = WebhookSubscription(store, clients.service, address="https://bot.example.com/ringcentral/webhook")
    await hook.ensure()            # on a timer, on every replica: only the holder of `notify:webhook` acts
    await hook.verify(token)       # each delivery's Verification-Token header

- The subscription covers `…/message-threads/entries/sync` and `…/message-threads/sync` with a WebHook at
  `<THREAD_NOTE_PUBLIC_URL>/ringcentral/webhook` and a random `verificationToken`. Its id, address and token
  are kept as one *secret* state row (encrypted), so every replica can check deliveries.
- `ensure` renews the subscription on each run (one Light-group request, long before it expires) and reads
  its status from the answer: gone (404, expired), `Blacklisted`, or pointing at another address → delete
  what is left and create a new one (new token). Only one replica does this at a time (a lease).
- The web route answers the `Validation-Token` handshake itself; `verify` compares `Verification-Token` with
  the stored one in constant time (wrong or missing → the route answers 403 and nothing is triggered).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.logs import get_logger
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import NotFound, RingCentralError
from bot.store import Store, UndecryptableSecret

log = get_logger(__name__)

STATE = "notify:webhook"
LEASE = "notify:webhook"
EVENT_FILTERS = (
    "/restapi/v1.0/account/~/message-threads/entries/sync",
    "/restapi/v1.0/account/~/message-threads/sync",
)


class WebhookSubscription:
    def __init__(
        self,
        store: Store,
        service_client: Callable[[], RingCentralClient],
        *,
        address: str,
        holder: str,
        expires_in: int = 7 * 24 * 3600,
        check_every: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._client = service_client
        self.address = address
        self.holder = holder
        self.expires_in = expires_in
        self.check_every = check_every
        self._clock = clock
        self._monotonic = monotonic
        self._token: str | None = None
        self._loaded_at = float("-inf")

    # --- lifecycle (one replica at a time) ----------------------------------------------------------------

    async def ensure(self) -> str:
        """Keep one working subscription. Returns what happened: "standby" (another replica manages it),
        "renewed", "created" or "failed"."""
        lease = await self._store.try_acquire_lease(
            LEASE, self.holder, timedelta(seconds=2 * self.check_every)
        )
        if lease is None:
            return "standby"
        state = await self._state()
        client = self._client()
        try:
            if state and state.get("id") and state.get("address") == self.address:
                try:
                    sub = await client.renew_subscription(str(state["id"]))
                except NotFound:
                    log.info("webhook.gone", subscription_id=state["id"])
                else:
                    if sub.status in (None, "Active"):
                        await self._save({**state, "expires_at": _iso(sub.expiration_time)})
                        return "renewed"
                    log.warning("webhook.unhealthy", subscription_id=sub.id, status=sub.status)
            if state and state.get("id"):
                await self._delete(client, str(state["id"]))
            return await self._create(client)
        except RingCentralError as exc:
            log.warning("webhook.failed", error=type(exc).__name__, status=exc.status)
            return "failed"

    async def _create(self, client: RingCentralClient) -> str:
        token = secrets.token_urlsafe(32)
        # Saved before creating, so the first deliveries (they may come at once) are already accepted.
        await self._save({"id": None, "address": self.address, "token": token})
        sub = await client.create_subscription(self.address, token, list(EVENT_FILTERS), self.expires_in)
        await self._save(
            {"id": sub.id, "address": self.address, "token": token, "expires_at": _iso(sub.expiration_time)}
        )
        log.info("webhook.created", subscription_id=sub.id, expires_at=_iso(sub.expiration_time))
        return "created"

    async def _delete(self, client: RingCentralClient, sub_id: str) -> None:
        try:
            await client.delete_subscription(sub_id)
        except RingCentralError as exc:  # gone already, or blacklisted: a new one replaces it anyway
            log.info("webhook.delete_failed", subscription_id=sub_id, error=type(exc).__name__)

    async def remove(self) -> None:
        """Delete the subscription (e.g. when real time is turned off); used by tests and operators."""
        state = await self._state()
        if state and state.get("id"):
            await self._delete(self._client(), str(state["id"]))
        await self._store.delete_state(STATE)

    async def _state(self) -> dict[str, Any] | None:
        """The stored subscription, or None; one that no key decrypts (a wrong THREAD_NOTE_SECRET_KEY) is one
        clear error line and counts as none, so a new subscription with a new secret replaces it."""
        try:
            state: dict[str, Any] | None = await self._store.get_state(STATE)
        except UndecryptableSecret as exc:
            log.error("webhook.state_undecryptable", hint=f"{exc}; a new push subscription replaces it")
            return None
        return state

    async def _save(self, state: dict[str, Any]) -> None:
        await self._store.set_state(STATE, state, secret=True)
        self._token, self._loaded_at = state.get("token"), self._monotonic()

    # --- deliveries (every replica) -----------------------------------------------------------------------

    async def verify(self, token: str | None) -> bool:
        """True when `token` is the current subscription's Verification-Token."""
        if not token:
            return False
        if self._matches(token):
            return True
        # Another replica may have re-created the subscription: re-read, at most once a second.
        if self._monotonic() - self._loaded_at < 1.0:
            return False
        state = await self._state()
        self._token, self._loaded_at = (state or {}).get("token"), self._monotonic()
        return self._matches(token)

    def _matches(self, token: str) -> bool:
        return self._token is not None and hmac.compare_digest(self._token.encode(), token.encode())

    async def status(self) -> dict[str, Any]:
        state = await self._state() or {}
        return {"subscription": state.get("id"), "expires_at": state.get("expires_at")}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
