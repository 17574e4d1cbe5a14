"""What every benchmark shares: the machine's description, result files, tables, percentiles, big seeds,
and the stand-ins (and the bot) as separate processes on loopback ports.

The stand-ins run in their own processes (`python -m bench._standin`), so the CPU and memory a figure reports
for the bot are the bot's, and a load generator in this process does not fight the bot for one GIL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
DEMO_SEED = ROOT / "bot" / "sandbox" / "ringcentral" / "seeds" / "demo.yml"
MT = "/restapi/v1.0/account/~/message-threads"
JSON = dict[str, Any]

# The outside world's bounds the figures are measured against (docs: shared/slack/NOTES.md §4,
# shared/ringcentral/NOTES.md §3).
SLACK_ACK_LIMIT = 3.0  # seconds
MEDIUM_PER_MINUTE = 40  # RingCentral requests per user per minute, group Medium


def quiet() -> None:
    """The bot's own logs at WARNING: a benchmark prints its table, not a line per request."""
    from bot import logs

    logs.configure("WARNING")


# --- the machine and the result files ------------------------------------------------------------------


def machine() -> JSON:
    """nproc, memory, CPU model, Python, OS, and the load average when asked (others share this machine)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def command_line() -> str:
    """The exact command that ran this benchmark, relative to the repository root."""
    exe = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return shlex.join([exe, "-m", spec.name, *sys.argv[1:]])
    return shlex.join([exe, os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])


def commit() -> str:
    """The commit measured: the hash, "+dirty" when tracked files have changes. Read when this module is
    imported (the run's start), so commits made while a long run goes on are not credited to it."""
    return _COMMIT


def _commit_now() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


_COMMIT = _commit_now()


def write_result(name: str, figures: JSON, *, started: float, load_before: Sequence[float]) -> Path:
    """`bench/results/<name>.json`: the figures, the machine, the date, the command, the commit, the load."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out: JSON = {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "commit": commit(),
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine() | {"loadavg_before": [round(x, 2) for x in load_before]},
        "figures": figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"\nwrote {os.path.relpath(path, ROOT)}  (load average {out['machine']['loadavg']})")
    return path


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain text table (also valid Markdown), printed and returned."""
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    text = f"\n{title}\n" + "\n".join(lines)
    print(text, flush=True)
    return text


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def spread(values: Sequence[float]) -> JSON:
    """min / median / max of repeated measurements, for the 'spread' column."""
    return {
        "min": min(values),
        "median": percentile(values, 50),
        "max": max(values),
        "runs": len(values),
    }


# --- seeds -----------------------------------------------------------------------------------------------

FIRST_EXTRA_RESOURCE = 63000000
ANA = "62001001"


def big_seed(
    resources: int, *, threads_per_resource: int = 1, notes_per_thread: int = 0, noted_threads: int = 1
) -> JSON:
    """The demo seed plus `resources` extra call queues (Ana and the service user handle them), each with
    `threads_per_resource` open threads; the first `noted_threads` of them hold `notes_per_thread` old
    notes each (the others have none yet: the bot has never seen them)."""
    seed: JSON = yaml.safe_load(DEMO_SEED.read_text())
    service = next(u["id"] for u in seed["users"] if u.get("service"))
    seed["app"]["redirectUris"] = []  # any redirect URI: the bot's port is chosen at run time
    for i in range(resources):
        rid = str(FIRST_EXTRA_RESOURCE + i)
        seed["resources"].append(
            {
                "id": rid,
                "name": f"Queue {i}",
                "extensionNumber": str(7000 + i),
                "phoneNumbers": [f"+1650555{2000 + i:04d}"],
                "handlers": [ANA, service],
            }
        )
        for t in range(threads_per_resource):
            seed["threads"].append(
                {
                    "id": f"00000000-0000-4000-8000-{i:06d}{t:06d}",
                    "resource": rid,
                    "guest": f"+1415{i:04d}{t:03d}",
                    "messages": [{"direction": "Inbound", "text": "hello", "ago": "2h"}],
                    "notes": [
                        {"author": ANA, "text": f"old note {n}", "ago": f"{90 - n}m"}
                        for n in range(notes_per_thread if t < noted_threads else 0)
                    ],
                }
            )
    return seed


def extra_resources(count: int) -> list[str]:
    return [str(FIRST_EXTRA_RESOURCE + i) for i in range(count)]


def thread_of(resource_index: int, thread: int = 0) -> str:
    return f"00000000-0000-4000-8000-{resource_index:06d}{thread:06d}"


# --- PostgreSQL --------------------------------------------------------------------------------------------


@contextmanager
def scratch_database(server: str, prefix: str = "tnb_bench") -> Iterator[str]:
    """A new, empty database on `server`'s PostgreSQL (any database URL there), dropped with its connections
    afterwards; yields its URL."""
    from sqlalchemy.engine import make_url

    admin = make_url(server)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(sql(dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(sql(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def sql(dsn: str, text: str, *args: Any) -> list[Any]:
    """One statement on its own connection; its rows."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        return list(await conn.fetch(text, *args))
    finally:
        await conn.close()


# --- processes -------------------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Proc:
    """A child process that prints its URL on its first stdout line; stopped with SIGTERM, then SIGKILL."""

    def __init__(
        self,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        name: str = "child",
        cwd: Path = ROOT,
        log: Path | None = None,
    ) -> None:
        """`log`: where its stderr goes (default: nowhere)."""
        self.name = name
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=log.open("ab") if log is not None else subprocess.DEVNULL,
            text=True,
        )
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"{name} did not start (said {line!r})")
        self.url = line

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def start_rc(seed: JSON | str, *, accounts: int = 1, **settings: Any) -> Proc:
    """The RingCentral emulator in its own process; `accounts`: copies of the seed's account (each with its
    own ids, users and credentials); `settings` are `POST /sandbox/config` keys."""
    tmp = RESULTS.parent / ".tmp"
    tmp.mkdir(exist_ok=True)
    seed_file = tmp / f"seed-{os.getpid()}-{time.monotonic_ns()}.yml"
    seed_file.write_text(yaml.safe_dump(seed) if isinstance(seed, dict) else Path(seed).read_text())
    proc = Proc(
        [sys.executable, "-m", "bench._standin", "rc", str(seed_file), str(accounts)],
        name="RingCentral emulator",
    )
    seed_file.unlink()
    if settings:
        RcControl(proc.url).config(**settings)
    return proc


def start_slack() -> Proc:
    return Proc([sys.executable, "-m", "bench._standin", "slack"], name="Slack stand-in")


class RcControl:
    """The emulator's control routes (and a handler's own API calls) over loopback."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        self.credentials: JSON = self.http.get("/sandbox/credentials").json()

    def config(self, **settings: Any) -> None:
        self.http.post("/sandbox/config", json=settings).raise_for_status()

    def fault(self, **body: Any) -> str:
        response = self.http.post("/sandbox/faults", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def clear_faults(self) -> None:
        self.http.delete("/sandbox/faults").raise_for_status()

    def advance(self, seconds: float) -> None:
        self.http.post("/sandbox/clock", json={"advance": seconds}).raise_for_status()

    def requests(self) -> JSON:
        data: JSON = self.http.get("/sandbox/requests").json()
        return data

    def reset_requests(self) -> None:
        self.http.delete("/sandbox/requests").raise_for_status()

    def api_requests(self) -> int:
        """Requests to the REST API (not OAuth, not control routes) since the last reset."""
        return sum(n for route, n in self.requests()["byRoute"].items() if "/restapi/v1.0/" in route)

    def user(self, name: str) -> JSON:
        return next(u for u in self.credentials["users"] if u["name"] == name)

    @property
    def service(self) -> JSON:
        return next(u for u in self.credentials["users"] if u["service"])

    def handler(self, name: str) -> httpx.Client:
        """An httpx client signed in as `name` (JWT bearer grant), for writing notes as a person would."""
        user = self.user(name)
        token = self.http.post(
            "/restapi/oauth/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": user["jwt"]},
            auth=(self.credentials["clientId"], self.credentials["clientSecret"]),
        )
        token.raise_for_status()
        return httpx.Client(
            base_url=self.url,
            timeout=30,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )

    def close(self) -> None:
        self.http.close()


class SlackControl:
    def __init__(self, url: str) -> None:
        self.url = url
        self.api_url = f"{url}/api/"
        self.http = httpx.Client(base_url=f"{url}/sandbox/slack", timeout=30)
        self.ws: JSON = self.http.get("/workspaces").json()["workspaces"][0]

    def create_channel(self, name: str) -> str:
        response = self.http.post("/channels", json={"action": "create", "name": name, "bot": True})
        response.raise_for_status()
        return str(response.json()["id"])

    def rate_limits(self, **body: Any) -> None:
        self.http.post("/rate-limits", json=body).raise_for_status()

    def calls(self, method: str) -> list[JSON]:
        calls: list[JSON] = self.http.get("/calls", params={"method": method}).json()["calls"]
        return calls

    def messages(self, channel: str) -> list[JSON]:
        found: list[JSON] = self.http.get("/messages", params={"channel": channel}).json()["messages"]
        return found

    def close(self) -> None:
        self.http.close()


@dataclass
class BotEnv:
    """`thread-note-bot serve`'s environment against the stand-ins."""

    rc: RcControl
    slack: SlackControl
    database_url: str
    public_url: str
    poll_interval: float = 30.0

    def env(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        return {
            "SLACK_BOT_TOKEN": self.slack.ws["bot_token"],
            "SLACK_SIGNING_SECRET": self.slack.ws["signing_secret"],
            "SLACK_APP_TOKEN": "",
            "SLACK_API_URL": self.slack.api_url,
            "RINGCENTRAL_SERVER_URL": self.rc.url,
            "RINGCENTRAL_CLIENT_ID": self.rc.credentials["clientId"],
            "RINGCENTRAL_CLIENT_SECRET": self.rc.credentials["clientSecret"],
            "RINGCENTRAL_JWT": self.rc.service["jwt"],
            "THREAD_NOTE_DATABASE_URL": self.database_url,
            "THREAD_NOTE_SECRET_KEY": Fernet.generate_key().decode(),
            "THREAD_NOTE_PUBLIC_URL": self.public_url,
            "THREAD_NOTE_POLL_INTERVAL": str(self.poll_interval),
            "LOG_LEVEL": "WARNING",
        }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_bot(
    rc: RcControl,
    slack: SlackControl,
    folder: Path,
    *,
    poll_interval: float = 30.0,
    webhook: bool = True,
    code: Path = ROOT,
) -> Proc:
    """`thread-note-bot serve` in its own process (HTTP mode, SQLite in `folder`). With `webhook`,
    THREAD_NOTE_PUBLIC_URL is set, which turns on RingCentral's push (a "poll now" hint). `code`: where the
    process starts, so whose `bot` it imports (`_baseline.py`: another commit's)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = BotEnv(rc, slack, f"sqlite:///{folder / 'bot.db'}", url, poll_interval).env()
    if not webhook:
        env.pop("THREAD_NOTE_PUBLIC_URL")
    proc = Proc(
        [sys.executable, "-m", "bench._standin", "bot", str(port)],
        env=env | {"PORT": str(port)},
        name="bot",
        cwd=code,
    )
    deadline = time.monotonic() + 90  # a machine shared by several engineers can take a minute
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError("the bot did not become healthy within 90 s")


# --- the bot's notifier in this process (figures 2, 3, 5) ------------------------------------------------


class ShiftClock:
    """Wall time plus an offset that only moves forward: the bot's clock for soaks compressed in time."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


@dataclass
class Notifying:
    """The bot's notification machinery exactly as `Container` builds it (store, service client, Slack Web
    API client, `Notifier`), in this process, so a benchmark can drive `run_once()` itself."""

    store: Any
    clients: Any
    slack_client: Any
    notifier: Any
    clock: ShiftClock

    @classmethod
    async def open(
        cls,
        rc: RcControl,
        slack: SlackControl,
        database_url: str,
        *,
        poll_interval: float = 30.0,
        channel_interval: float = 1.0,
    ) -> Notifying:
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.metrics import Metrics
        from bot.notify import Notifier
        from bot.service.clients import ClientFactory
        from bot.store import Store, TokenCipher

        clock = ShiftClock()
        store = await Store.open(database_url, [TokenCipher.generate_key()], clock=clock)
        clients = ClientFactory(
            rc.url,
            rc.credentials["clientId"],
            rc.credentials["clientSecret"],
            jwt=rc.service["jwt"],
            clock=clock,
        )
        slack_client = AsyncWebClient(token=slack.ws["bot_token"], base_url=slack.api_url, timeout=10)
        notifier = Notifier(
            store,
            clients.service,
            slack_client,
            Metrics(),
            poll_interval=poll_interval,
            clock=clock,
            channel_interval=channel_interval,
        )
        return cls(store, clients, slack_client, notifier, clock)

    async def subscribe(self, team_id: str, channel_id: str, resource_id: str, creator: str) -> Any:
        from bot.store.subscriptions import NewSubscription

        sub, _ = await self.store.save_subscription(
            NewSubscription(
                team_id=team_id,
                channel_id=channel_id,
                channel_name=None,
                channel_private=True,
                resource_id=resource_id,
                resource_name=resource_id,
                filters={},
                broadcast=False,
                deleted_mode="strike",
                created_by=creator,
                start_at=await self.notifier.feed.rc_now(),
            )
        )
        return sub

    async def close(self) -> None:
        await self.notifier.stop()
        await self.clients.aclose()
        await self.store.close()
