"""What the running bot shows on its ports: the public port tells the internet only "ok or not", operators
get /metrics and the detailed /healthz on a private listener or with a bearer token, a forged request is
logged (without its body) and counted, and an unexpected failure gives the person a reference that matches
the bot's ERROR log line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.servers import BackgroundServer
from bot.web import create_web_app
from tests.kit.bot import make_settings, wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.test_crash_restart import BotProcess, free_port

TOKEN = "metrics-token-0123456789abcdef"
FORGED = "add 3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01 Forged note with customer details"


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def _log_records(log: Path) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@pytest.fixture
def token_bot(
    rc_sandbox: RcSandbox, slack_standin: SlackStandin, slack_request: SlackRequests, tmp_path: Path
) -> Iterator[BackgroundServer]:
    """The bot with THREAD_NOTE_METRICS_TOKEN set (operators scrape the public port with it)."""
    server = BackgroundServer()
    settings = make_settings(
        slack=slack_standin,
        rc=rc_sandbox,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        public_url=server.url,
        THREAD_NOTE_METRICS_TOKEN=TOKEN,
    )
    server.app = create_web_app(settings)
    server.start(timeout=30)
    slack_request.app_url = server.url
    yield server
    server.stop()


def test_the_public_port_says_only_ok_and_has_no_metrics_by_default(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    bot = BotProcess(bot_env, tmp_path, "public")
    try:
        health = httpx.get(f"{bot.url}/healthz", timeout=10)
        assert health.status_code == 200 and health.json() == {"ok": True}
        metrics = httpx.get(f"{bot.url}/metrics", timeout=10)
        assert metrics.status_code == 404
        assert "THREAD_NOTE_METRICS_ADDRESS" in metrics.text and "thread_note_" not in metrics.text
    finally:
        bot.kill()


def test_with_a_token_the_public_port_serves_metrics_and_health_detail_only_to_its_bearer(
    token_bot: BackgroundServer,
) -> None:
    url = token_bot.url
    assert httpx.get(f"{url}/metrics", timeout=10).status_code == 401
    wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "X"}, timeout=10)
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    good = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert good.status_code == 200 and "thread_note_polls_total" in good.text
    assert httpx.get(f"{url}/healthz", timeout=10).json() == {"ok": True}
    detail = httpx.get(f"{url}/healthz", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
    assert detail.items() >= {"ok": True, "mode": "http", "database": "ok"}.items() and "feed" in detail


def test_scrapes_read_the_database_at_most_every_few_seconds(
    token_bot: BackgroundServer, slack_request: SlackRequests, slack_standin: SlackStandin
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def scrape() -> str:
        return httpx.get(f"{token_bot.url}/metrics", headers=auth, timeout=10).text

    assert "thread_note_subscription_paused{" not in scrape()  # read now: no subscription yet
    assert slack_request.command("subscribe Support", user="alice", channel="handoffs").status_code == 200
    wait_for(lambda: "now receives" in str(slack_standin.responses()), 10.0, "the subscription")
    started = time.monotonic()
    for _ in range(20):  # a burst of scrapes within the cache's lifetime: the same figures, no new reads
        assert "thread_note_subscription_paused{" not in scrape()
    assert time.monotonic() - started < 4.0
    wait_for(lambda: "thread_note_subscription_paused{" in scrape(), 8.0, "the figures read again")


def test_a_private_listener_serves_metrics_and_detail_and_counts_forged_requests_without_logging_them(
    bot_env: dict[str, str],
    slack_request: SlackRequests,
    tmp_path: Path,
) -> None:
    ops_port = free_port()
    bot = BotProcess({**bot_env, "THREAD_NOTE_METRICS_ADDRESS": f"127.0.0.1:{ops_port}"}, tmp_path, "ops")
    ops = f"http://127.0.0.1:{ops_port}"
    try:
        assert httpx.get(f"{bot.url}/metrics", timeout=10).status_code == 404
        detail = httpx.get(f"{ops}/healthz", timeout=10).json()
        assert detail.items() >= {"ok": True, "mode": "http", "database": "ok"}.items() and "feed" in detail
        assert httpx.post(f"{ops}/slack/events", timeout=10).status_code == 404  # only the operators' routes
        slack_request.app_url = bot.url
        for signature in ("wrong", "missing"):
            forged = slack_request.send(slack_request.build_command(FORGED, signature=signature))  # type: ignore[arg-type]
            assert forged.status_code == 401
        stale = slack_request.send(slack_request.build_command(FORGED, age=400))
        assert stale.status_code == 401
        scraped = httpx.get(f"{ops}/metrics", timeout=10).text
        for reason in ("wrong", "missing", "stale"):
            name = f'thread_note_slack_bad_signatures_total{{reason="{reason}"}}'
            assert _metric(scraped, name) == 1.0, name
    finally:
        bot.kill()
    log = bot.log.read_text()
    assert "Forged note" not in log and "customer details" not in log
    warnings = [r for r in _log_records(bot.log) if r.get("event") == "slack.bad_signature"]
    assert sorted(r["reason"] for r in warnings) == ["missing", "stale", "wrong"]
    assert {r["level"] for r in warnings} == {"warning"}


def test_serve_refuses_a_metrics_address_it_cannot_open_in_one_line(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--port",
            str(free_port()),
            "--metrics-address",
            "192.0.2.1:9100",
        ],
        env=bot_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "THREAD_NOTE_METRICS_ADDRESS=192.0.2.1:9100 could not be opened" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unexpected_failure_shows_the_person_the_reference_of_the_error_log_line(
    bot_env: dict[str, str],
    slack_request: SlackRequests,
    slack_standin: SlackStandin,
    tmp_path: Path,
) -> None:
    bot = BotProcess(bot_env, tmp_path, "ref")
    try:
        slack_request.app_url = bot.url
        posted = slack_standin.post_as("bob", "support", "Customer asks for a call back")
        slack_standin.fault("views.open", "fatal_error")  # Slack fails in a way the bot has no sentence for
        payload = slack_request.payloads.message_shortcut(
            posted["ts"], callback_id="save_as_thread_note", user="alice", channel="support"
        )
        assert slack_request.send(slack_request.interactive(payload)).status_code == 200

        def answer() -> str | None:
            said = json.dumps([slack_standin.responses(), slack_standin.ephemerals()])
            return said if "Something went wrong on our side" in said else None

        said = wait_for(answer, 10.0, "the answer to the person")
    finally:
        bot.kill()
    errors = [r for r in _log_records(bot.log) if r.get("level") == "error" and r.get("ref")]
    assert len(errors) == 1, bot.log.read_text()[-2000:]
    assert f"(ref: {errors[0]['ref']})" in said
