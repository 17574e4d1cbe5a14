"""Running `thread-note-bot check` in this process (`bot.cli.main`, output captured) against the stand-ins.

In-process keeps each run cheap; an unforeseen exception would still fail the test, as a traceback would fail
the admin. Settings go through the environment (the kit scrubs it for each test) and the working directory is
a fresh folder, so no `.env` leaks in.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import Store, Tokens
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackStandin

OK, BAD, SKIP = "✓", "✗", "·"


@dataclass
class Outcome:
    status: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.out.splitlines()]

    def marked(self, mark: str) -> list[str]:
        return [line for line in self.lines if line.startswith(mark)]

    @property
    def red(self) -> list[str]:
        return self.marked(BAD)

    def one_red_line(self, *words: str) -> str:
        """Exactly one red line, naming every one of `words`; exit status 1 and no traceback."""
        assert self.status == 1, self.out + self.err
        assert "Traceback" not in self.out + self.err
        assert len(self.red) == 1, self.out
        for word in words:
            assert word in self.red[0], self.red[0]
        return self.red[0]


def base_env(rc: RcSandbox, slack: SlackStandin, folder: Path) -> dict[str, str]:
    """A complete, correct configuration on the stand-ins (HTTP mode, an https public URL not yet running)."""
    from cryptography.fernet import Fernet

    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.api_url,
        "RINGCENTRAL_SERVER_URL": rc.url,
        "RINGCENTRAL_CLIENT_ID": rc.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc.client_secret,
        "RINGCENTRAL_JWT": rc.service_user.jwt,
        "THREAD_NOTE_DATABASE_URL": f"sqlite:///{folder / 'bot.db'}",
        "THREAD_NOTE_SECRET_KEY": Fernet.generate_key().decode(),
        "THREAD_NOTE_PUBLIC_URL": "https://bot.example.com",
    }


def run_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    folder: Path,
    env: dict[str, str | None],
    *args: str,
) -> Outcome:
    """`thread-note-bot <args>` with exactly `env` (None: unset) from `folder`."""
    monkeypatch.chdir(folder)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    status = main(list(args))
    captured = capsys.readouterr()
    return Outcome(status, captured.out, captured.err)


def store_a_link(database_url: str, key: str) -> None:
    """A connected person's link, saved with `key` (as a bot with that key would have)."""

    async def save() -> None:
        store = await Store.open(database_url, [key])
        try:
            now = datetime.now().astimezone()
            tokens = Tokens(access_token="at-1", access_expires_at=now + timedelta(hours=1))
            await store.save_link("T1", "U1", extension_id="101", extension_name="Ana", tokens=tokens)
        finally:
            await store.close()

    asyncio.run(save())
