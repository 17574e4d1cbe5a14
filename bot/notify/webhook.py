"""Real time: a RingCentral webhook subscription of the service identity, used only as "poll now".

    hook = WebhookSubscription(store, clients.service, address="https://bot.example.com/ringcentral/webhook")
    await hook.ensure()            # on a timer, on every replica: only the holder of `notify:webhook` acts
    await hook.verify(a, b)        # the secret headers of one delivery (either may carry it)

- The subscription covers `…/message-threads/entries/sync` and `…/message-threads/sync` with a WebHook at
  `<THREAD_NOTE_PUBLIC_URL>/ringcentral/webhook` and a random `verificationToken`. Its id, address and token
  are kept as one *secret* state row (encrypted), so every replica can check deliveries. The app needs the
  `SMS` permission for these filters (RingCentral lists a filter the app may not use in `disabledFilters`
  instead of refusing the subscription).
- At start, `listSubscriptions` shows what RingCentral holds for this user and app. Ours are those delivered
  to our address: the one we saved is adopted, every other one is deleted (created but never saved, or left
  behind by a delete that failed). RingCentral allows 30 subscriptions per user and app: none may leak.
- `ensure` renews on each run (one Light-group request, long before expiry). If the renewal fails for any
  reason (404, 5xx, a timeout, `Blacklisted`, another address), the old subscription is deleted and a new one
  created (new token); a failed run is retried with a growing delay (`retry_in`), and polling carries on.
- `disabledFilters` in an answer means real time is off although the subscription is Active: `alarm` says
  so, for `/thread-note status`, `/metrics` and the log; polling carries on. Such a subscription is made
  anew on each run (every `check_every`), so a permission granted meanwhile takes effect without a restart.
- One subscription per RingCentral account (issue 16): each account's feed has its own (`for_account`), made
  with that account's client, delivered to `<address>?account=<id>` (the deployment's account keeps the bare
  address), with its own secret, state row and lease (`scoped` names; the deployment's keep theirs). A
  delivery is checked against its own account's secret and pokes only that account's feed.
- Deliveries: the docs give two readings of the header that carries our secret (the spec's
  `Verification-Token`; the 2024 "Receiving Webhooks" guide's `Validation-Token`, the handshake's own
  header). The web route tells the handshake from a delivery by its body (the handshake has none) and
  `verify` accepts the secret in either header, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bot.logs import get_logger
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import NotFound, RingCentralError
from bot.ringcentral.models import Subscription
from bot.store import UndecryptableSecret
from bot.store.feed_state import DEPLOYMENT, scoped
from bot.store.protocols import WebhookStore

log = get_logger(__name__)

STATE = "notify:webhook"
LEASE = "notify:webhook"
# The app permission these event filters need (NOTES.md §5.1; the spec names no x-app-permission for
# createSubscription itself, and RingCentral reports a filter the app may not use in `disabledFilters`).
APP_PERMISSION = "SMS"
EVENT_FILTERS = (
    "/restapi/v1.0/account/~/message-threads/entries/sync",
    "/restapi/v1.0/account/~/message-threads/sync",
)


class WebhookSubscription:
    def __init__(
        self,
        store: WebhookStore,
        service_client: Callable[[], RingCentralClient],
        *,
        address: str,
        holder: str,
        expires_in: int = 7 * 24 * 3600,
        check_every: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        account: str = DEPLOYMENT,
    ) -> None:
        self._store = store
        self._client = service_client
        self.account = account
        self._state_key, self._lease = scoped(STATE, account), scoped(LEASE, account)
        self.address = f"{address}?{urlencode({'account': account})}" if account else address
        self.holder = holder
        self.expires_in = expires_in
        self.check_every = check_every
        self._clock = clock
        self._monotonic = monotonic
        self._token: str | None = None
        self._loaded_at = float("-inf")
        self._tidied = False  # listSubscriptions looked at since start (or since a delete failed)
        self.failures = 0  # failed runs in a row, for the backoff

    def for_account(self, account: str, client: Callable[[], RingCentralClient]) -> WebhookSubscription:
        """The same webhook for `account`'s feed, kept with `client` (the deployment's account: itself)."""
        if account == self.account:
            return self
        base = self.address.split("?", 1)[0]
        return WebhookSubscription(
            self._store, client, address=base, holder=self.holder, expires_in=self.expires_in,
            check_every=self.check_every, clock=self._clock, monotonic=self._monotonic, account=account,
        )  # fmt: skip

    # --- lifecycle (one replica at a time) ----------------------------------------------------------------

    async def ensure(self) -> str:
        """Keep one working subscription. Returns what happened: "standby" (another replica manages it),
        "renewed", "created" or "failed" (retry after `retry_in()`)."""
        lease = await self._store.try_acquire_lease(
            self._lease, self.holder, timedelta(seconds=2 * self.check_every)
        )
        if lease is None:
            return "standby"
        state: dict[str, Any] = await self._state() or {}
        client = self._client()
        try:
            if not self._tidied:
                state = await self._tidy(client, state)
            outcome = await self._renew(client, state) or await self._replace(client, state)
        except RingCentralError as exc:
            self.failures += 1
            log.warning("webhook.failed", error=type(exc).__name__, status=exc.status, failures=self.failures)
            current = await self._store.get_state(self._state_key) or {}
            await self._save({**current, "last_error": _describe(exc)})
            return "failed"
        self.failures = 0
        return outcome

    def retry_in(self) -> float:
        """Seconds before the next try after a failed run: 5, 10, 20, … up to `check_every`."""
        return float(min(5.0 * 2 ** max(self.failures - 1, 0), self.check_every))

    async def _tidy(self, client: RingCentralClient, state: dict[str, Any]) -> dict[str, Any]:
        """Adopt the subscription we saved if RingCentral still holds it; delete every other one delivered
        to our address. Returns the state to go on with (empty when ours is gone)."""
        keep = state.get("id") if state.get("address") == self.address else None
        found = False
        try:
            subs = await client.list_subscriptions()
        except RingCentralError as exc:  # not a reason to stop renewing: tidy up on the next run
            log.warning("webhook.list_failed", error=type(exc).__name__)
            return state
        for sub in subs:
            if (sub.delivery_mode.address if sub.delivery_mode else None) != self.address:
                continue  # not ours: another app or deployment of the same user
            if sub.id == keep:
                found = True
                continue
            log.info("webhook.stray", subscription_id=sub.id)
            await self._delete(client, sub.id)
        self._tidied = True
        if keep and not found:
            log.info("webhook.gone", subscription_id=keep)
            return {}
        return state

    async def _renew(self, client: RingCentralClient, state: dict[str, Any]) -> str | None:
        """ "renewed", or None when the subscription must be replaced (none yet, or the renewal failed)."""
        sub_id = state.get("id")
        if not sub_id or state.get("address") != self.address:
            return None
        try:
            sub = await client.renew_subscription(str(sub_id))
        except RingCentralError as exc:  # any reason: a new one replaces it (NotFound is the common one)
            log.warning("webhook.renew_failed", subscription_id=sub_id, error=type(exc).__name__)
            return None
        if sub.status not in (None, "Active"):
            log.warning("webhook.unhealthy", subscription_id=sub.id, status=sub.status)
            return None
        facts = self._facts(sub)
        if facts["disabled"]:  # made anew on each run, so a permission granted since takes effect
            return None
        await self._save({**state, **facts, "last_error": None})
        return "renewed"

    async def _replace(self, client: RingCentralClient, state: dict[str, Any]) -> str:
        if state.get("id") and not await self._delete(client, str(state["id"])):
            self._tidied = False  # the next run lists and deletes it, so it does not leak
        return await self._create(client)

    async def _create(self, client: RingCentralClient) -> str:
        token = secrets.token_urlsafe(32)
        # Saved before creating, so the first deliveries (they may come at once) are already accepted.
        await self._save({"id": None, "address": self.address, "token": token})
        sub = await client.create_subscription(self.address, token, list(EVENT_FILTERS), self.expires_in)
        await self._save({"address": self.address, "token": token, **self._facts(sub)})
        log.info("webhook.created", subscription_id=sub.id, expires_at=_iso(sub.expiration_time))
        return "created"

    def _facts(self, sub: Subscription) -> dict[str, Any]:
        """What we keep of RingCentral's answer; warns when filters came back disabled."""
        disabled = [{"filter": f.filter, "reason": f.reason or f.message or "no reason given"}
                    for f in sub.disabled_filters]  # fmt: skip
        if disabled:
            log.warning(
                "webhook.filters_disabled", subscription_id=sub.id, filters=[d["filter"] for d in disabled]
            )
        return {"id": sub.id, "expires_at": _iso(sub.expiration_time), "disabled": disabled}

    async def _delete(self, client: RingCentralClient, sub_id: str) -> bool:
        """True when it is gone (deleted now, or already gone)."""
        try:
            await client.delete_subscription(sub_id)
        except NotFound:
            return True
        except RingCentralError as exc:
            log.info("webhook.delete_failed", subscription_id=sub_id, error=type(exc).__name__)
            return False
        return True

    async def remove(self) -> None:
        """Delete the subscription (e.g. when real time is turned off); used by tests and operators."""
        state = await self._state()
        if state and state.get("id"):
            await self._delete(self._client(), str(state["id"]))
        await self._store.delete_state(self._state_key)

    async def _state(self) -> dict[str, Any] | None:
        """The stored subscription, or None; one that no key decrypts (a wrong THREAD_NOTE_SECRET_KEY) is one
        clear error line and counts as none, so a new subscription with a new secret replaces it."""
        try:
            state: dict[str, Any] | None = await self._store.get_state(self._state_key)
        except UndecryptableSecret as exc:
            log.error("webhook.state_undecryptable", hint=f"{exc}; a new push subscription replaces it")
            return None
        return state

    async def _save(self, state: dict[str, Any]) -> None:
        await self._store.set_state(self._state_key, state, secret=True)
        self._token, self._loaded_at = state.get("token"), self._monotonic()

    # --- deliveries (every replica) -----------------------------------------------------------------------

    async def verify(self, *tokens: str | None) -> bool:
        """True when one of `tokens` (the delivery's `Verification-Token` and `Validation-Token` headers) is
        the current subscription's secret."""
        given = [t for t in tokens if t]
        if not given:
            return False
        if any(self._matches(t) for t in given):
            return True
        # Another replica may have re-created the subscription: re-read, at most once a second.
        if self._monotonic() - self._loaded_at < 1.0:
            return False
        state = await self._state()
        self._token, self._loaded_at = (state or {}).get("token"), self._monotonic()
        return any(self._matches(t) for t in given)

    def _matches(self, token: str) -> bool:
        return self._token is not None and hmac.compare_digest(self._token.encode(), token.encode())

    async def status(self) -> dict[str, Any]:
        state = await self._state() or {}
        return {
            "subscription": state.get("id"),
            "expires_at": state.get("expires_at"),
            "disabled_filters": [d["filter"] for d in state.get("disabled") or []],
            "last_error": state.get("last_error"),
        }

    async def alarm(self) -> str | None:
        """One sentence when real time is off or failing (polling carries on either way), else None."""
        state = await self._state() or {}
        disabled = state.get("disabled") or []
        if disabled:
            names = ", ".join(f"{d['filter']} ({d['reason']})" for d in disabled)
            return (
                f"real time is OFF: RingCentral disabled {names}; give the app the {APP_PERMISSION} "
                "permission in the Developer Console. Notes still arrive by polling."
            )
        if state.get("last_error"):
            return (
                f"real time is failing ({state['last_error']}); the subscription is re-created with "
                "backoff. Notes still arrive by polling."
            )
        return None


def _describe(exc: RingCentralError) -> str:
    code = exc.error_code or exc.status or ""
    return f"{type(exc).__name__} {code}".strip()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
