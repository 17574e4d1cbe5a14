"""Webhook handshake and delivery, YAML seeds, and the `thread-note-bot sandbox` command."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox.ringcentral.app import create_app
from bot.sandbox.ringcentral.seeds import SeedError, load_seed
from bot.sandbox.ringcentral.webhooks import DELIVERIES_IN_FLIGHT
from bot.servers import BackgroundServer
from tests.kit.rc import RcSandbox
from tests.sandbox.helpers import ANA_THREAD, MT, bearer, error_code, login, receiver

ENTRIES = "/restapi/v1.0/account/~/message-threads/entries/sync"


async def test_webhook_handshake_then_notes_are_pushed_with_verification_token(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, serve_app: Callable[[Any], BackgroundServer]
) -> None:
    app, got = receiver()
    hook = serve_app(app)
    bot = bearer(await login(http, rc_sandbox, rc_sandbox.service_user))
    created = await http.post(
        "/restapi/v1.0/subscription",
        headers=bot,
        json={
            "eventFilters": [ENTRIES],
            "deliveryMode": {
                "transportType": "WebHook",
                "address": hook.url + "/hook",
                "verificationToken": "vt-1",
            },
            "expiresIn": 3600,
        },
    )
    assert created.status_code == 200 and created.json()["status"] == "Active"
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": "ping"}, headers=ben)
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    headers, envelope = got[0]
    assert headers["verification-token"] == "vt-1"
    assert envelope["subscriptionId"] == created.json()["id"]
    assert envelope["ownerId"] == rc_sandbox.service_user.extension_id
    assert envelope["event"] == f"/restapi/v1.0/account/{rc_sandbox.account_id}/message-threads/entries/sync"
    assert set(envelope["body"]) == {"lastModifiedTime"}
    renewed = await http.post(f"/restapi/v1.0/subscription/{created.json()['id']}/renew", headers=bot)
    assert renewed.status_code == 200
    assert (
        await http.delete(f"/restapi/v1.0/subscription/{created.json()['id']}", headers=bot)
    ).status_code == 204


async def test_a_burst_of_changes_reaches_the_receiver_a_few_at_a_time_every_one_delivered(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, serve_app: Callable[[Any], BackgroundServer]
) -> None:
    """At most `DELIVERIES_IN_FLIGHT` deliveries at once per subscription; the rest wait their turn."""
    now, most, got = 0, 0, []

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal now, most
        if scope["type"] != "http":
            return
        now += 1
        most = max(most, now)
        token = dict(scope["headers"]).get(b"validation-token")
        if token is None:
            await asyncio.sleep(0.3)  # a receiver much slower than the changes come
            got.append(scope["path"])
        now -= 1
        headers = [(b"validation-token", token)] if token else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    hook = serve_app(slow)
    bot = bearer(await login(http, rc_sandbox, rc_sandbox.service_user))
    mode = {"transportType": "WebHook", "address": hook.url + "/h"}
    body = {"eventFilters": [ENTRIES], "deliveryMode": mode}
    assert (await http.post("/restapi/v1.0/subscription", headers=bot, json=body)).status_code == 200
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    burst = 3 * DELIVERIES_IN_FLIGHT
    notes = [{"threadId": ANA_THREAD, "text": f"n{i}"} for i in range(burst)]
    await asyncio.gather(*(http.post(f"{MT}/notes", json=note, headers=ben) for note in notes))
    for _ in range(300):
        if len(got) >= burst:
            break
        await asyncio.sleep(0.02)
    assert len(got) == burst
    assert 1 < most <= DELIVERIES_IN_FLIGHT, most


async def test_webhook_that_does_not_echo_the_validation_token_is_refused(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox, serve_app: Callable[[Any], BackgroundServer]
) -> None:
    app, _ = receiver(echo=False)
    hook = serve_app(app)
    bot = bearer(await login(http, rc_sandbox, rc_sandbox.service_user))
    answer = await http.post(
        "/restapi/v1.0/subscription",
        headers=bot,
        json={
            "eventFilters": [ENTRIES],
            "deliveryMode": {"transportType": "WebHook", "address": hook.url + "/hook"},
        },
    )
    assert answer.status_code == 400 and error_code(answer) == "SUB-525"


def test_yaml_seed_loads_and_bad_seed_names_the_problem(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yml"
    seed.write_text(
        "app: {clientId: c1, clientSecret: s1}\n"
        "users: [{id: '11', name: Zoe Park}]\n"
        "resources: [{id: '21', name: Help, phoneNumbers: ['+15550001111'], handlers: ['11']}]\n"
        "threads: [{resource: '21', guest: '+15550002222',\n"
        "           messages: [{direction: Inbound, text: hi, ago: 1h}]}]\n"
    )
    with BackgroundServer(create_app(seed)) as server:
        credentials = httpx.get(server.url + "/sandbox/credentials").json()
        state = httpx.get(server.url + "/sandbox/state").json()
    assert credentials["clientId"] == "c1" and credentials["users"][0]["resources"] == ["21"]
    assert state["threads"][0]["guestParty"]["phoneNumber"] == "+15550002222"
    with pytest.raises(SeedError, match=r"E\.164"):
        load_seed(
            {
                "app": {"clientId": "c", "clientSecret": "s"},
                "users": [{"id": "1", "name": "A"}],
                "resources": [{"id": "2", "name": "R", "phoneNumbers": ["555"], "handlers": ["1"]}],
            }
        )


def _sandbox_command(*args: str) -> tuple[dict[str, Any], str]:
    """`thread-note-bot sandbox --port P *args` until it answers: its /sandbox/credentials and what it
    printed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answer = None
    deadline = time.monotonic() + 120  # the start-up of a Python process, however loaded the machine
    try:
        while answer is None and proc.poll() is None and time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/sandbox/credentials", timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        proc.terminate()  # before reading its output: a read of a live process's pipes waits for its end
        out, err = proc.communicate(timeout=10)
    assert answer is not None, f"the sandbox did not answer (exit status {proc.returncode}): {err}"
    assert f"http://127.0.0.1:{port}" in out and "/sandbox/credentials" in out
    return dict(answer.json()), out


def test_sandbox_command_serves_the_demo_seed() -> None:
    credentials, _ = _sandbox_command()
    assert credentials["resources"][0]["name"] == "Support"


def test_sandbox_command_serves_as_many_accounts_as_asked() -> None:
    credentials, _ = _sandbox_command("--accounts", "3")
    accounts = credentials["accounts"]
    assert len(accounts) == 3
    assert len({a["accountId"] for a in accounts}) == 3
    users = [{u["extensionId"] for u in a["users"]} for a in accounts]
    assert not (users[0] & users[1] or users[1] & users[2] or users[0] & users[2])  # each its own people
    assert accounts[0]["accountId"] == credentials["accountId"]  # the first one stays the default


def test_sandbox_command_refuses_fewer_than_one_account() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--accounts", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--accounts: '0' is not a whole number of at least 1" in refused.stderr
