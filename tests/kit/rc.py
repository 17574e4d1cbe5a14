"""RingCentral emulator fixtures: `rc_sandbox` (a running emulator), `rc_admin` (its /sandbox/* routes).

    async def test_x(rc_sandbox, rc_admin, spec_transport):
        bot = rc_sandbox.service_user          # SandboxUser(extension_id, name, jwt, resources, service)
        ana = rc_sandbox.user("Ana Alvarez")   # by name or extension id
        rc_admin.fault("status", path="/restapi/v1.0/account/~/message-threads/notes", method="POST", count=1)
        thread = rc_admin.new_thread(rc_sandbox.resource("Support"), "+14155550100", "hello")
        rc_admin.advance(3600)

`rc_sandbox` runs the demo seed with test-friendly settings (`rc_sandbox_settings`, override it in a test
module to change them): access tokens live 60 s on the emulator's clock, the Auth rate limit is relaxed to
1000/min, every redirect URI is accepted; every other rule is the real one. Override `rc_sandbox_accounts`
(default 1) to serve several accounts (the demo's, then copies of it with ids of their own):
`rc_sandbox.accounts[1]` is the second account seen like `rc_sandbox` (its users, resources, account id).
Spec validation lives in tests/kit/openapi.py (`spec_transport`), re-exported here so this one plugin
brings both.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
import yaml

from bot.sandbox.profiles import DEFAULT, Profile
from bot.sandbox.ringcentral.app import create_app
from bot.sandbox.ringcentral.seeds import SEEDS_DIR
from bot.sandbox.ringcentral.settings import RateLimit, SandboxSettings
from bot.servers import BackgroundServer
from tests.kit.core import standin_client
from tests.kit.openapi import SpecTransport, SpecValidator, spec_transport

__all__ = ["RcAdmin", "RcSandbox", "SandboxUser", "SpecTransport", "SpecValidator", "spec_transport"]


@dataclass(frozen=True)
class SandboxUser:
    extension_id: str
    name: str
    jwt: str
    resources: list[str]
    service: bool


@dataclass
class RcSandbox:
    url: str
    credentials: dict[str, Any]
    server: BackgroundServer
    settings: SandboxSettings
    users: list[SandboxUser] = field(default_factory=list)

    @property
    def client_id(self) -> str:
        return str(self.credentials["clientId"])

    @property
    def client_secret(self) -> str:
        return str(self.credentials["clientSecret"])

    @property
    def account_id(self) -> str:
        return str(self.credentials["accountId"])

    def user(self, name_or_id: str) -> SandboxUser:
        for user in self.users:
            if name_or_id in (user.extension_id, user.name) or user.name.split()[0] == name_or_id:
                return user
        raise LookupError(f"no sandbox user {name_or_id!r}; known: {[u.name for u in self.users]}")

    @property
    def service_user(self) -> SandboxUser:
        return next(u for u in self.users if u.service)

    def resource(self, name_or_id: str) -> str:
        """The extension id of a common resource (call queue), by name or id."""
        for item in self.credentials["resources"]:
            if name_or_id in (item["extensionId"], item["name"]):
                return str(item["extensionId"])
        raise LookupError(f"no sandbox resource {name_or_id!r}")

    def handlers(self, resource: str) -> list[SandboxUser]:
        rid = self.resource(resource)
        return [u for u in self.users if rid in u.resources]

    @property
    def accounts(self) -> list[RcSandbox]:
        """Every account of the emulator (the default one first), each seen like this one: the same server,
        that account's credentials, users and resources."""
        entries = self.credentials.get("accounts") or [self.credentials]
        return [replace(self, credentials=entry, users=_users(entry)) for entry in entries]


def _users(credentials: dict[str, Any]) -> list[SandboxUser]:
    return [
        SandboxUser(u["extensionId"], u["name"], u["jwt"], list(u["resources"]), bool(u["service"]))
        for u in credentials["users"]
    ]


@functools.cache
def _demo_seed() -> dict[str, Any]:
    """The demo seed's YAML, read once per worker: parsing it in pure Python cost every emulator ≈0.6 s on the
    loaded CI machine. libyaml's loader where there is one (the same data, faster)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw: dict[str, Any] = yaml.load((SEEDS_DIR / "demo.yml").read_text(encoding="utf-8"), Loader=loader)
    return raw


def start_rc_sandbox(
    seed: Any = "demo", settings: SandboxSettings | None = None, accounts: int = 1
) -> RcSandbox:
    """Start an emulator on a free loopback port (stop it with `.server.stop()`)."""
    settings = settings or SandboxSettings()
    if seed == "demo":
        seed = copy.deepcopy(_demo_seed())  # each emulator owns its seed
    server = BackgroundServer(create_app(seed, settings=settings, accounts=accounts)).start()
    credentials = httpx.get(server.url + "/sandbox/credentials", timeout=10).json()
    return RcSandbox(server.url, credentials, server, settings, _users(credentials))


def sandbox_test_settings(profile: Profile | None = None) -> SandboxSettings:
    settings = SandboxSettings(access_token_ttl=60.0, redirect_uris=["*"], profile=profile or DEFAULT)
    settings.rate_limits["Auth"] = RateLimit(1000)
    return settings


@pytest.fixture
def rc_sandbox_settings(sandbox_profile: Profile) -> SandboxSettings:
    """Settings for `rc_sandbox`; override this fixture to change them for a module."""
    return sandbox_test_settings(sandbox_profile)


@pytest.fixture
def rc_sandbox_accounts() -> int:
    """How many accounts `rc_sandbox` serves; override this fixture to serve more."""
    return 1


@pytest.fixture
def rc_sandbox(rc_sandbox_settings: SandboxSettings, rc_sandbox_accounts: int) -> Iterator[RcSandbox]:
    sandbox = start_rc_sandbox("demo", rc_sandbox_settings, rc_sandbox_accounts)
    yield sandbox
    sandbox.server.stop()


class RcAdmin:
    """A small sync client for the control routes (fine to call from async tests: it is loopback)."""

    def __init__(self, url: str) -> None:
        self.http = standin_client(url)

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise AssertionError(f"sandbox control call failed: {response.status_code} {response.text}")
        return response.json()

    def fault(
        self,
        kind: str,
        *,
        path: str | None = None,
        method: str | None = None,
        count: int | None = None,
        seconds: float | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        extension_id: str | None = None,
        account_id: str | None = None,
    ) -> str:
        body = {
            "kind": kind,
            "path": path,
            "method": method,
            "count": count,
            "seconds": seconds,
            "status": status,
            "retryAfter": retry_after,
            "extensionId": extension_id,
            "accountId": account_id,
        }
        return str(
            self._ok(
                self.http.post("/sandbox/faults", json={k: v for k, v in body.items() if v is not None})
            )["id"]
        )

    def release(self, fault_id: str) -> None:
        self._ok(self.http.post(f"/sandbox/faults/{fault_id}/release"))

    def clear_faults(self) -> None:
        self._ok(self.http.delete("/sandbox/faults"))

    def config(self, **settings: Any) -> dict[str, Any]:
        """camelCase keys as in INTERNALS.md: accessTokenTtl=5, rateLimits={"Medium": {"limit": 3}}, …"""
        result: dict[str, Any] = self._ok(self.http.post("/sandbox/config", json=settings))
        return result

    def new_thread(self, resource_id: str, guest_number: str, text: str | None = None) -> dict[str, Any]:
        body = {"resourceId": resource_id, "guestNumber": guest_number}
        if text is not None:
            body["text"] = text
        result: dict[str, Any] = self._ok(self.http.post("/sandbox/threads", json=body))
        return result

    def sms_recipients(self, resource_id: str, added: list[str] = [], removed: list[str] = []) -> list[str]:  # noqa: B006 - read only
        """Change who handles a resource, as an admin in the Admin Portal; its handlers afterwards."""
        body = {"resourceId": resource_id, "added": added, "removed": removed}
        return list(self._ok(self.http.post("/sandbox/sms-recipients", json=body))["handlers"])

    def advance(self, seconds: float) -> str:
        return str(self._ok(self.http.post("/sandbox/clock", json={"advance": seconds}))["now"])

    def expire_sync_tokens(self) -> int:
        return int(self._ok(self.http.post("/sandbox/sync/expire"))["expired"])

    def revoke(self, extension_id: str) -> int:
        return int(
            self._ok(self.http.post("/sandbox/revoke", json={"extensionId": extension_id}))["revokedSessions"]
        )

    def requests(self) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.http.get("/sandbox/requests"))
        return result

    def reset_requests(self) -> None:
        self._ok(self.http.delete("/sandbox/requests"))

    def state(self, account_id: str | None = None) -> dict[str, Any]:
        """Every account's threads, notes, messages, subscriptions and deliveries (or one account's)."""
        params = {"accountId": account_id} if account_id else {}
        result: dict[str, Any] = self._ok(self.http.get("/sandbox/state", params=params))
        return result

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def rc_admin(rc_sandbox: RcSandbox) -> Iterator[RcAdmin]:
    admin = RcAdmin(rc_sandbox.url)
    yield admin
    admin.close()
