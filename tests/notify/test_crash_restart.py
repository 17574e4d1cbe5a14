"""Kill the bot (SIGKILL) in the middle of delivering a burst, restart it on the same database: every note is
in Slack exactly once. The bot runs as a real `thread-note-bot serve` subprocess against the stand-ins."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.kit.bot import MigratedSqlite, wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, with_note

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BotProcess:
    def __init__(self, env: dict[str, str], workdir: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env={**env, "THREAD_NOTE_PUBLIC_URL": self.url},
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(self._healthy, 120.0, "the bot's /healthz")  # a process start on a loaded machine
        except BaseException:
            self.kill()
            raise

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            tail = self.log.read_text()[-3000:]
            raise AssertionError(f"the bot exited with {self.proc.returncode}:\n{tail}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def subscribed_bot(
    env: dict[str, str], workdir: Path, requests: SlackRequests, standin: SlackStandin, name: str = "first"
) -> BotProcess:
    """A `serve` process whose #handoffs Alice (a workspace admin, no RingCentral link needed) subscribed to
    Support, once one poll has passed: notes written from now on reach the channel."""
    bot = BotProcess(env, workdir, name)
    try:
        requests.app_url = bot.url
        assert requests.command("subscribe Support", user="alice", channel="handoffs").status_code == 200
        wait_for(lambda: "now receives" in str(standin.responses()), 10.0, "the subscription")
        time.sleep(1.5)  # it starts from now: let one poll pass
    except BaseException:
        bot.kill()
        raise
    return bot


@pytest.fixture
def bot_env(
    rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path, migrated_sqlite: MigratedSqlite
) -> Iterator[dict[str, str]]:
    ours = ("SLACK_", "RINGCENTRAL_", "THREAD_NOTE_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    yield {
        **keep,
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": slack_standin.bot_token,
        "SLACK_SIGNING_SECRET": slack_standin.signing_secret,
        "SLACK_API_URL": slack_standin.api_url,
        "RINGCENTRAL_SERVER_URL": rc_sandbox.url,
        "RINGCENTRAL_CLIENT_ID": rc_sandbox.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc_sandbox.client_secret,
        "RINGCENTRAL_JWT": rc_sandbox.service_user.jwt,
        "THREAD_NOTE_DATABASE_URL": migrated_sqlite(tmp_path / "bot.db"),
        "THREAD_NOTE_SECRET_KEY": Fernet.generate_key().decode(),
        "THREAD_NOTE_POLL_INTERVAL": "1",
    }


def test_sigkill_during_a_burst_then_restart_leaves_every_note_in_slack_exactly_once(
    bot_env: dict[str, str],
    rc_sandbox: RcSandbox,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    tmp_path: Path,
) -> None:
    processes: list[BotProcess] = []
    ana = Handler(rc_sandbox, "Ana Alvarez")
    try:
        first = subscribed_bot(bot_env, tmp_path, slack_request, slack_standin)
        processes.append(first)

        notes = [ana.add((SUPPORT_THREAD, SUPPORT_THREAD_2)[i % 2], f"burst note {i}") for i in range(10)]
        ids = [n["id"] for n in notes]

        def delivered() -> int:
            return sum(1 for i in ids if with_note(slack_standin, "handoffs", i))

        wait_for(lambda: delivered() >= 3, 20.0, "the first notes of the burst")
        first.kill()
        assert delivered() < len(ids), "the kill should land in the middle of the burst"

        second = BotProcess(bot_env, tmp_path, "second")
        processes.append(second)
        # The dead process's lease expires (10 s), then the new one delivers the rest at ≈1 message/s.
        wait_for(lambda: delivered() == len(ids), 45.0, "every note of the burst")
        time.sleep(1.5)  # and nothing more arrives
        for note_id in ids:
            assert len(with_note(slack_standin, "handoffs", note_id)) == 1, note_id
        top = slack_standin.messages(slack_standin.channel_id("handoffs"))
        assert len(top) == 2, "one Slack thread per RingCentral thread"
    finally:
        ana.close()
        for process in processes:
            process.kill()
