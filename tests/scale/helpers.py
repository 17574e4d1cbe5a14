"""Helpers for the scale tests: a seed with many resources, `serve` subprocesses, a fresh PostgreSQL database,
Slack requests for any workspace, and reading what the stand-in received."""

from __future__ import annotations

import asyncio
import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bot.demo import click_link
from bot.sandbox.ringcentral.settings import RateLimit, SandboxSettings
from tests.kit.bot import wait_for
from tests.kit.db import POSTGRES_ENV
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo, load_fixture

REPO = Path(__file__).resolve().parents[2]
JSON = dict[str, Any]
ANA = "62001001"
SERVICE = "62001099"


def many_resources_seed(count: int) -> JSON:
    """`count` call queues `Q01…` (handlers: Ana and the service identity), one Open thread each."""
    resources, threads = [], []
    for i in range(1, count + 1):
        rid = f"6200{i + 700:04d}"
        phone = f"+165055{i:05d}"
        resources.append(
            {"id": rid, "name": f"Q{i:02d}", "extensionNumber": f"{i + 700}", "phoneNumbers": [phone],
             "handlers": [ANA, SERVICE]}
        )  # fmt: skip
        threads.append(
            {"id": str(uuid.UUID(int=i)), "resource": rid, "guest": f"+1415555{i:04d}", "status": "Open",
             "messages": [{"direction": "Inbound", "text": f"Hello from customer {i}", "ago": "1h"}]}
        )  # fmt: skip
    return {
        "account": {"id": "400017701", "name": "Scale Co", "mainNumber": "+16505550100"},
        "app": {"clientId": "scaleClientId", "clientSecret": "scale-client-secret"},
        "users": [
            {
                "id": ANA,
                "name": "Ana Alvarez",
                "extensionNumber": "101",
                "email": "ana@x.example",
                "timezone": "America/New_York",
            },
            {
                "id": SERVICE,
                "name": "Thread Note Bot",
                "extensionNumber": "199",
                "email": "bot@x.example",
                "timezone": "UTC",
                "service": True,
            },
        ],
        "resources": resources,
        "threads": threads,
    }


def scale_settings() -> SandboxSettings:
    """Real rules, but rate limits that two bots polling every second together stay under."""
    settings = SandboxSettings(access_token_ttl=600.0, redirect_uris=["*"])
    for group in ("Auth", "Light", "Medium", "Heavy"):
        settings.rate_limits[group] = RateLimit(5000)
    return settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BotProcess:
    """`thread-note-bot serve` as a subprocess; `public=True` sets THREAD_NOTE_PUBLIC_URL to its own URL
    (so it subscribes to RingCentral's webhooks)."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str, *, public: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        env = {**env, "THREAD_NOTE_PUBLIC_URL": self.url} if public else dict(env)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_for(self._healthy, 60.0, f"{name}'s /healthz")
        except BaseException:
            self.kill()
            raise

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"the bot exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
            )
        try:
            return httpx.get(self.url + "/healthz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def base_env(rc: Any, slack: SlackStandin, database_url: str, secret_key: str) -> dict[str, str]:
    ours = ("SLACK_", "RINGCENTRAL_", "THREAD_NOTE_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {
        **keep,
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.api_url,
        "RINGCENTRAL_SERVER_URL": rc.url,
        "RINGCENTRAL_CLIENT_ID": rc.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc.client_secret,
        "RINGCENTRAL_JWT": rc.service_user.jwt,
        "THREAD_NOTE_DATABASE_URL": database_url,
        "THREAD_NOTE_SECRET_KEY": secret_key,
        "THREAD_NOTE_POLL_INTERVAL": "1",
    }


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database on the server of THREAD_NOTE_TEST_POSTGRES_URL, dropped afterwards."""
    admin = make_url(os.environ[POSTGRES_ENV])
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"tnb_scale_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg(dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(pg(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def pg(dsn: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def command(
    requests: SlackRequests, ws: WorkspaceInfo, text: str, *, user: str = "alice", channel: str = "handoffs",
    team_id: str | None = None, user_id: str | None = None, channel_id: str | None = None,
) -> tuple[httpx.Response, str]:  # fmt: skip
    """`/thread-note <text>` from `user` of workspace `ws` in its `channel`, signed with the app's secret.
    `team_id`/`user_id`/`channel_id` override what the payload claims (to forge a cross-workspace request).
    Returns the answer and the response_url's id."""
    standin = requests.standin
    body = load_fixture("slash_command")
    for key in ("enterprise_id", "enterprise_name"):
        body.pop(key)
    cid = channel_id or ws.channels[channel]
    url = standin.response_url(channel=ws.channels[channel], user=user, team_id=ws.team_id)
    body.update(
        team_id=team_id or ws.team_id, team_domain=ws.domain, channel_id=cid, channel_name=channel,
        user_id=user_id or ws.users[user], user_name=user, command="/thread-note", text=text,
        api_app_id=ws.app_id, is_enterprise_install="false", response_url=url,
        trigger_id=standin.trigger(user, team_id=ws.team_id),
    )  # fmt: skip
    response = requests.send(requests.form(body))
    return response, urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def answers(standin: SlackStandin, rid: str) -> str:
    return str([r["body"] for r in standin.responses() if r["id"] == rid])


def posted(standin: SlackStandin, team_id: str | None = None) -> dict[str, list[JSON]]:
    """chat.postMessage calls that carried a note, by note id: each with channel, team and time."""
    out: dict[str, list[JSON]] = {}
    for call in standin.calls("chat.postMessage", team_id=team_id):
        meta = call["args"].get("metadata") or {}
        note_id = (meta.get("event_payload") or {}).get("note_id") if isinstance(meta, dict) else None
        if call.get("ok") and note_id:
            out.setdefault(str(note_id), []).append(
                {"channel": call["args"].get("channel"), "team": call["team_id"], "time": call["time"]}
            )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def now() -> float:
    return time.time()


def install(bot_url: str, ws: WorkspaceInfo) -> httpx.Response:
    """Add to Slack: the bot's install page, the stand-in's authorize page, back to the bot's redirect."""
    page = httpx.get(f"{bot_url}/slack/install", timeout=10)
    assert page.status_code == 200, page.text
    cookie = page.headers["set-cookie"].split(";")[0]  # Secure: a browser would send it back over https
    link = html.unescape(re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', page.text)[1])  # type: ignore[index]
    consent = httpx.get(f"{link}&team={ws.team_id}", timeout=10)
    assert consent.status_code == 302, consent.text
    return httpx.get(consent.headers["location"], headers={"Cookie": cookie}, timeout=10)


def colleague(standin: SlackStandin, ws: WorkspaceInfo, name: str, email: str) -> None:
    """A Slack user of `ws` in its #handoffs and #general whose email is `email` (their RingCentral one)."""
    user = standin.add_user(name, email=email, team_id=ws.team_id, channels=["handoffs", "general"])
    ws.users[name] = str(user["id"])


def connect(requests: SlackRequests, ws: WorkspaceInfo, user: str, extension_id: str) -> None:
    """`/thread-note connect` from `user` of `ws`, then the emulator signs `extension_id` in, sends the
    browser back to the bot's callback, and the person presses Link there. Where the workspace shares emails
    (users:read.email), `user`'s must be the RingCentral user's (`colleague()` makes such a user)."""
    response, rid = command(requests, ws, "connect", user=user)
    assert response.status_code == 200, response.text

    def link() -> str | None:
        found = re.search(r'https?://[^"\s\']*oauth/authorize\?[^"\s\'\]]*', response.text + answers(
            requests.standin, rid))  # fmt: skip
        return found[0] if found else None

    url = wait_for(link, 10.0, "the connect link")
    page = click_link(httpx.get(f"{url}&sandbox_user={extension_id}", follow_redirects=True, timeout=10))
    assert page.status_code == 200 and "You are connected" in page.text, page.text
