"""SIGKILL at random points of the feed and the sender, in a loop; after each restart every note is in Slack
exactly once. The same on PostgreSQL, with the database itself crashed (immediate shutdown) underneath.

One cycle is cheap: the stand-ins and the database live across cycles, only the `thread-note-bot serve`
process is restarted. A killed process cannot release its leases; rather than wait the 10 s lease TTL each
cycle (tests/notify/test_crash_restart.py covers the real expiry), the test expires the dead holder's leases
in the database, as the clock would.

Short in the normal run (10 cycles on SQLite, 4 on PostgreSQL with 2 database crashes);
THREAD_NOTE_LONG=1 runs 200 and 60.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.sandbox.profiles import Profile
from bot.sandbox.ringcentral.settings import RateLimit, SandboxSettings
from tests.kit.bot import wait_for
from tests.kit.rc import RcSandbox, sandbox_test_settings
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, all_messages, note_id_of
from tests.notify.test_crash_restart import BotProcess, bot_env  # noqa: F401 - bot_env is a fixture
from tests.reliability.conftest import long_or_short

THREADS = (SUPPORT_THREAD, SUPPORT_THREAD_2)
RESULTS = (
    Path(os.environ.get("THREAD_NOTE_RELIABILITY_OUT", ""))
    if os.environ.get("THREAD_NOTE_RELIABILITY_OUT")
    else None
)


@dataclass
class Tally:
    cycles: int = 0
    notes: int = 0
    lost: int = 0
    duplicated: int = 0
    kills_before_delivery: int = 0
    kills_mid_delivery: int = 0
    kills_after_delivery: int = 0
    seconds: float = 0.0
    database_crashes: int = 0
    notes_ids: list[str] = field(default_factory=list)

    def record(self, name: str) -> None:
        line = (
            f"{name}: cycles={self.cycles} notes={self.notes} lost={self.lost} duplicated={self.duplicated} "
            f"kills(before/mid/after delivery)={self.kills_before_delivery}/{self.kills_mid_delivery}/"
            f"{self.kills_after_delivery} database_crashes={self.database_crashes} seconds={self.seconds:.0f}"
        )
        print(line)
        if RESULTS is not None:
            with RESULTS.open("a") as out:
                out.write(line + "\n")


def delivered_counts(slack: SlackStandin, channel: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in all_messages(slack, channel):
        note_id = note_id_of(message)
        if note_id:
            counts[note_id] = counts.get(note_id, 0) + 1
    return counts


def settle_and_check(slack: SlackStandin, ids: list[str], tally: Tally, timeout: float = 90.0) -> None:
    """Wait until every note is in #handoffs, then: nothing lost, nothing twice."""
    with contextlib.suppress(AssertionError):
        wait_for(lambda: all(delivered_counts(slack, "handoffs").get(i) for i in ids), timeout, "every note")
    counts = delivered_counts(slack, "handoffs")
    tally.lost = sum(1 for i in ids if not counts.get(i))
    tally.duplicated = sum(n - 1 for n in counts.values() if n > 1)
    missing = [i for i in ids if not counts.get(i)]
    assert tally.lost == 0, f"lost {tally.lost} of {len(ids)} notes after cycle {tally.cycles}: {missing}"
    assert tally.duplicated == 0, f"{tally.duplicated} duplicates after cycle {tally.cycles}: {counts}"


def crash_loop(
    cycles: int,
    start: Callable[[], BotProcess],
    expire_leases: Callable[[], None],
    slack: SlackStandin,
    slack_request: SlackRequests,
    ana: Handler,
    rng: random.Random,
    tally: Tally,
    underneath: Callable[[int], bool] | None = None,
) -> None:
    began = time.monotonic()
    ids: list[str] = []
    process = start()
    try:
        slack_request.app_url = process.url
        assert slack_request.command("subscribe Support", user="alice", channel="handoffs").status_code == 200
        wait_for(lambda: "now receives" in str(slack.responses()), 10.0, "the subscription")
        time.sleep(1.5)  # it starts from now: let one poll pass
        for cycle in range(cycles):
            burst = [ana.add(rng.choice(THREADS), f"cycle {cycle} note {k} {rng.random():.6f}")["id"]
                     for k in range(rng.randint(1, 3))]  # fmt: skip
            ids += burst
            tally.notes += len(burst)
            if underneath is not None and underneath(cycle):
                # the database crashed under this process: it must carry on by itself, no restart
                tally.cycles += 1
                tally.database_crashes += 1
                settle_and_check(slack, ids, tally)
                continue
            time.sleep(rng.uniform(0.0, 2.0))  # poll at 1 s, ≈1 message/s per channel: feed or sender
            counts = delivered_counts(slack, "handoffs")
            done = sum(1 for i in burst if counts.get(i))
            process.kill()
            if done == 0:
                tally.kills_before_delivery += 1
            elif done < len(burst):
                tally.kills_mid_delivery += 1
            else:
                tally.kills_after_delivery += 1
            expire_leases()
            process = start()
            tally.cycles += 1
            settle_and_check(slack, ids, tally)
    finally:
        process.kill()
        tally.seconds = time.monotonic() - began


@pytest.fixture
def rc_sandbox_settings(sandbox_profile: Profile) -> SandboxSettings:
    """A restart every few seconds, each process polling every second from a fresh limiter, spends the
    service user's real Medium budget (40/min) within cycles and a 60 s penalty follows: that is paced and
    tested in test_rc_faults.py; here the limit is lifted so the loop tests crashes, not the penalty."""
    settings = sandbox_test_settings(sandbox_profile)
    settings.rate_limits["Medium"] = RateLimit(100_000)
    settings.access_token_ttl = 3600.0  # the test's own handler signs in once for a long run
    return settings


@pytest.fixture
def ana(rc_sandbox: RcSandbox) -> Iterator[Handler]:
    handler = Handler(rc_sandbox, "Ana Alvarez")
    yield handler
    handler.close()


def test_sigkill_at_random_points_in_a_loop_leaves_every_note_in_slack_exactly_once(
    bot_env: dict[str, str],  # noqa: F811 - the fixture imported above
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    ana: Handler,
    tmp_path: Path,
) -> None:
    database = tmp_path / "bot.db"
    env = {**bot_env, "THREAD_NOTE_DATABASE_URL": f"sqlite:///{database}"}
    seed = int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))
    print(f"RELIABILITY_SEED={seed}")
    count = iter(range(10**6))

    def start() -> BotProcess:
        return BotProcess(env, tmp_path, f"bot-{next(count)}")

    def expire() -> None:
        with sqlite3.connect(database) as db:
            db.execute("UPDATE leases SET expires_at = '2000-01-01 00:00:00.000000'")

    tally = Tally()
    crash_loop(
        long_or_short(200, 10), start, expire, slack_standin, slack_request, ana, random.Random(seed), tally
    )
    tally.record("sqlite sigkill")


# --- PostgreSQL: our own throwaway cluster ---------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return found[-1].parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster in a temp dir on a free port, ours alone (the shared server is never touched)."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin = bin_dir
        self.data = root / "pgdata"
        self.port = _free_port()
        self.log = root / "pg.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
                "fsync = on\nshared_buffers = 16MB\nmax_connections = 40\n"
            )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")

    def crash(self) -> None:
        """Immediate shutdown: no checkpoint, connections cut — what a crash looks like to the bot."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def sql(self, statement: str) -> None:
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q", "-c", statement)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    # not under pytest's tmp dir: the postgres user must reach it (pytest's is private to us)
    root = Path(tempfile.mkdtemp(prefix="thread-note-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        cluster = Cluster(bin_dir, root)
        yield cluster
        cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.postgres
def test_sigkill_and_database_crashes_on_postgresql_leave_every_note_exactly_once(
    bot_env: dict[str, str],  # noqa: F811
    cluster: Cluster,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    ana: Handler,
    tmp_path: Path,
) -> None:
    env = {**bot_env, "THREAD_NOTE_DATABASE_URL": cluster.url}
    seed = int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))
    print(f"RELIABILITY_SEED={seed}")
    rng = random.Random(seed)
    count = iter(range(10**6))

    def start() -> BotProcess:
        return BotProcess(env, tmp_path, f"pg-bot-{next(count)}")

    def expire() -> None:
        cluster.sql("UPDATE leases SET expires_at = now() - interval '1 hour'")

    def crash_database(cycle: int) -> bool:
        """Every other cycle, the database crashes under the running bot (instead of the bot being killed)
        and comes back after a moment."""
        if cycle % 2:
            return False
        time.sleep(rng.uniform(0.0, 1.5))
        cluster.crash()
        time.sleep(rng.uniform(0.0, 1.0))
        cluster.start()
        return True

    tally = Tally()
    crash_loop(
        long_or_short(60, 4), start, expire, slack_standin, slack_request, ana, rng, tally, crash_database
    )
    tally.record("postgresql sigkill + database crash")
