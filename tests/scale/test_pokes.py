"""A webhook delivery may land on a replica that does not poll its account: it leaves a poke in the store,
and the replica that holds the account's feed polls at once. A burst of notes brings a burst of deliveries;
the pokes are written a few times a second, not once a note, and the last note of the burst must still be
polled for at once, not at the next interval.

Replica B starts first and takes the feed; every replica's THREAD_NOTE_PUBLIC_URL is a front (a load balancer
that sends everything to replica A, once A is up), so RingCentral delivers to A. Polling alone would take two
minutes (THREAD_NOTE_POLL_INTERVAL=120)."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.servers import BackgroundServer
from tests.kit.bot import wait_for
from tests.kit.db import POSTGRES_ENV
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import Handler
from tests.scale.conftest import RESOURCES
from tests.scale.helpers import BotProcess, answers, base_env, command, fresh_postgres, pg, posted

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set"),
]

FEED_HOLDER = "SELECT holder FROM leases WHERE name = 'notify:feed' AND expires_at > now()"
BURST = 24


def feed_holder_pid(database_url: str) -> int | None:
    rows = asyncio.run(pg(database_url, FEED_HOLDER))
    return int(rows[0]["holder"].split(":")[1]) if rows else None


class Front:
    """The deployment's public address: forwards every request to `target` (503 while there is none). Its
    socket is bound from the start, so no other server can take its port meanwhile."""

    def __init__(self) -> None:
        self.target: str | None = None

        # A plain function, not a bound method: uvicorn then takes it for ASGI 3.
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await self._forward(scope, receive, send)

        self.server = BackgroundServer(app).start()

    async def _forward(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        status, headers, content = 503, [], b"no replica behind the front yet"
        if self.target is not None:
            query = scope["query_string"].decode()
            url = f"{self.target}{scope['path']}" + (f"?{query}" if query else "")
            forwarded = {k.decode(): v.decode() for k, v in scope["headers"] if k.lower() != b"host"}
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.request(scope["method"], url, headers=forwarded, content=body)
            status, content = answer.status_code, answer.content
            dropped = ("content-length", "content-encoding")  # httpx gives the body decoded
            headers = [(k.encode(), v.encode()) for k, v in answer.headers.items() if k not in dropped]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def test_a_burst_of_deliveries_to_a_replica_that_does_not_poll_brings_in_every_note_at_once(
    scale_rc: RcSandbox, slack_standin: SlackStandin, slack_request: SlackRequests, tmp_path: Path
) -> None:
    ana = Handler(scale_rc, "Ana Alvarez")
    ws = slack_standin.default
    replicas: list[BotProcess] = []
    front = Front()
    with fresh_postgres() as database_url:
        env = base_env(scale_rc, slack_standin, database_url, Fernet.generate_key().decode())
        env |= {"THREAD_NOTE_POLL_INTERVAL": "120", "THREAD_NOTE_PUBLIC_URL": front.server.url}
        try:
            b = BotProcess(env, tmp_path, "b", public=False)
            replicas.append(b)
            wait_for(lambda: feed_holder_pid(database_url) == b.proc.pid, 20.0, "B holding the feed")
            a = BotProcess(env, tmp_path, "a", public=False)
            replicas.append(a)
            front.target = a.url
            slack_request.app_url = a.url
            for i in range(1, RESOURCES + 1):
                name = f"q{i:02d}"
                slack_standin.channel("create", name=name, members=["alice"], private=True)
                response, rid = command(slack_request, ws, f"subscribe Q{i:02d}", channel=name)
                assert response.status_code == 200, response.text
                told = lambda rid=rid: "now receives" in answers(slack_standin, rid)  # noqa: E731
                wait_for(told, 15.0, f"subscribe {name}")

            def hooked() -> bool:  # B's first try failed (A was not up): it retries within 5 to 10 s
                state = httpx.get(f"{scale_rc.url}/sandbox/state", timeout=10).json()
                return any(
                    s["status"] == "Active" and s["deliveryMode"]["address"].startswith(front.server.url)
                    for s in state["subscriptions"]
                )

            wait_for(hooked, 30.0, "the webhook subscription delivering to A")
            time.sleep(1.0)  # the subscriptions start from now

            state = httpx.get(f"{scale_rc.url}/sandbox/state", timeout=10).json()
            threads = [t["id"] for t in state["threads"]]
            ids = [ana.add(threads[n % len(threads)], f"burst {n}")["id"] for n in range(BURST)]
            time.sleep(0.1)  # the last note comes while the burst's pokes are still being coalesced
            ids.append(ana.add(threads[0], "the last one")["id"])

            wait_for(lambda: all(i in posted(slack_standin) for i in ids), 30.0, "every note, by the pokes")
            time.sleep(1.0)
            copies = Counter({i: len(posted(slack_standin).get(i, [])) for i in ids})
            assert set(copies.values()) == {1}, copies
            assert feed_holder_pid(database_url) == b.proc.pid, "B polled the account throughout"
            deliveries = httpx.get(f"{scale_rc.url}/sandbox/state", timeout=10).json()["deliveries"]
            assert sum(1 for d in deliveries if d["status"] == 200) >= BURST, "A received the deliveries"
        finally:
            ana.close()
            for replica in replicas:
                replica.kill()
            front.server.stop()
