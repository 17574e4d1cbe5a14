"""The world of figure 11 (`tenants.py`): RingCentral accounts, a Slack workspace per account linked to it
through the store, a subscription per resource, a fresh PostgreSQL database, and the `serve` replicas."""

from __future__ import annotations

import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench._kit import JSON, Proc, RcControl, free_port

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LIFTED = {"Medium": {"limit": 1_000_000, "window": 60, "penalty": 60}}  # Ana's burst is not the bot's budget


def seed(resources: int) -> JSON:
    """One account: Ana and the service user handle `resources` call queues, one open thread each. The
    emulator copies it into every account (`accounts=N`: ids, users and credentials of each its own)."""
    ana, service = "62001001", "62001099"
    queues = [
        {"id": f"6300{i:04d}", "name": f"Queue {i}", "extensionNumber": str(700 + i),
         "phoneNumbers": [f"+1650555{2000 + i:04d}"], "handlers": [ana, service]}
        for i in range(resources)
    ]  # fmt: skip
    threads = [
        {"id": str(uuid.UUID(int=i + 1)), "resource": q["id"], "guest": f"+1415555{i:04d}", "status": "Open",
         "messages": [{"direction": "Inbound", "text": "hello", "ago": "1h"}]}
        for i, q in enumerate(queues)
    ]  # fmt: skip
    return {
        "account": {"id": "400017701", "name": "Tenant", "mainNumber": "+16505550100"},
        "app": {"clientId": "benchClientId", "clientSecret": "bench-client-secret", "redirectUris": []},
        "users": [
            {"id": ana, "name": "Ana Alvarez", "extensionNumber": "101", "email": "ana@x.example"},
            {
                "id": service,
                "name": "Thread Note Bot",
                "extensionNumber": "199",
                "email": "bot@x.example",
                "service": True,
            },
        ],
        "resources": queues,
        "threads": threads,
    }


@dataclass
class Tenant:
    """One workspace and its RingCentral account: a channel and an open thread per resource."""

    index: int
    team_id: str
    bot_token: str
    creator: str
    account_id: str
    service_ext: str
    service_jwt: str
    ana_jwt: str
    resources: list[str]
    threads: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    ana_token: str = ""


def tenants_of(rc: RcControl, slack_url: str, count: int) -> list[Tenant]:
    """A workspace per emulated account, a channel per resource; Ana of each account signed in."""
    http = httpx.Client(base_url=f"{slack_url}/sandbox/slack", timeout=60)
    threads: dict[str, list[str]] = {}
    for t in rc.http.get("/sandbox/state").json()["threads"]:
        threads.setdefault(str(t["owner"]["extensionId"]), []).append(str(t["id"]))
    out = []
    try:
        for i, account in enumerate(rc.credentials["accounts"][1 : count + 1]):
            ws = http.post("/workspaces", json={"name": f"Tenant {i}"}).json()
            users = {u["name"]: u for u in account["users"]}
            service = next(u for u in account["users"] if u["service"])
            resources = [r["extensionId"] for r in account["resources"]]
            tenant = Tenant(
                i, ws["team_id"], ws["bot_token"], next(iter(ws["users"].values())),
                str(account["accountId"]), service["extensionId"], service["jwt"],
                users["Ana Alvarez"]["jwt"], resources,
            )  # fmt: skip
            for r, rid in enumerate(resources):
                tenant.threads.append(threads[rid][0])
                made = http.post("/channels", json={"action": "create", "name": f"queue-{r}", "bot": True,
                                                    "team_id": tenant.team_id})  # fmt: skip
                made.raise_for_status()
                tenant.channels.append(str(made.json()["id"]))
            tenant.ana_token = sign_in(rc, tenant.ana_jwt)
            out.append(tenant)
    finally:
        http.close()
    return out


def sign_in(rc: RcControl, jwt: str) -> str:
    response = rc.http.post(
        "/restapi/oauth/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": jwt},
        auth=(rc.credentials["clientId"], rc.credentials["clientSecret"]),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def link_and_subscribe(database_url: str, key: str, tenants: list[Tenant]) -> None:
    """Each workspace installed and linked to its account (a JWT link, as `/thread-note setup` saves it),
    each resource subscribed into its own channel."""
    from bot.store import Store, TenantAccount
    from bot.store.subscriptions import NewSubscription

    store = await Store.open(database_url, [key])
    try:
        for t in tenants:
            await store.save_slack_bot(None, t.team_id, {"bot_token": t.bot_token, "team_id": t.team_id})
            await store.save_tenant_account(
                TenantAccount(
                    team_id=t.team_id, account_id=t.account_id, kind="jwt", credential=t.service_jwt,
                    extension_id=t.service_ext, account_name=f"Tenant {t.index}", status="active",
                    paused_reason=None, version=1,
                ),
                by=t.creator,
            )  # fmt: skip
            for r, (rid, channel) in enumerate(zip(t.resources, t.channels, strict=True)):
                await store.save_subscription(
                    NewSubscription(
                        team_id=t.team_id, channel_id=channel, channel_name=f"queue-{r}",
                        channel_private=False, resource_id=rid, resource_name=f"Queue {r}", filters={},
                        broadcast=False, deleted_mode="strike", created_by=t.creator,
                        start_at=datetime.now(UTC),
                    )
                )  # fmt: skip
    finally:
        await store.close()


def start_replicas(
    count: int,
    rc: RcControl,
    slack_url: str,
    database_url: str,
    key: str,
    interval: float,
    logs: Path,
    teams: list[str],
) -> list[Proc]:
    """`thread-note-bot serve` x `count`: many-workspace mode (the stand-in's app), webhooks to each one's
    own URL, serving the tenants' workspaces (SLACK_ALLOWED_TEAMS). `serve` needs RINGCENTRAL_JWT: the
    deployment's own account is the emulator's first, which no workspace is linked to (its feed polls and
    routes to nobody); the tenants' are the others."""
    app = httpx.get(f"{slack_url}/sandbox/slack/app", timeout=10).json()
    # one app, one signing secret for every workspace: the stand-in's default workspace's
    secret = httpx.get(f"{slack_url}/sandbox/slack/workspaces", timeout=10).json()["workspaces"][0]

    def one(i: int) -> Proc:
        port = free_port()
        env = {
            "SLACK_CLIENT_ID": app["client_id"], "SLACK_CLIENT_SECRET": app["client_secret"],
            "SLACK_SIGNING_SECRET": secret["signing_secret"], "SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": "",
            "SLACK_API_URL": f"{slack_url}/api/", "RINGCENTRAL_SERVER_URL": rc.url,
            "RINGCENTRAL_CLIENT_ID": rc.credentials["clientId"],
            "RINGCENTRAL_CLIENT_SECRET": rc.credentials["clientSecret"], "RINGCENTRAL_JWT": rc.service["jwt"],
            "THREAD_NOTE_DATABASE_URL": database_url, "THREAD_NOTE_SECRET_KEY": key,
            "THREAD_NOTE_PUBLIC_URL": f"http://127.0.0.1:{port}", "THREAD_NOTE_POLL_INTERVAL": str(interval),
            "LOG_LEVEL": "WARNING", "PORT": str(port), "SLACK_ALLOWED_TEAMS": ",".join(teams),
        }  # fmt: skip
        proc = Proc(
            [sys.executable, "-m", "bench._standin", "bot", str(port)],
            env=env,
            name=f"replica {i}",
            log=logs / f"tenants-replica-{i}.log",
        )
        wait_healthy(proc)
        return proc

    with ThreadPoolExecutor(count) as pool:  # each takes a while to import the bot: start them together
        return list(pool.map(one, range(count)))


def wait_healthy(proc: Proc, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"a replica exited with {proc.popen.returncode}: see {proc.name}'s log")
        try:
            if httpx.get(proc.url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"a replica did not become healthy within {seconds:.0f} s")
