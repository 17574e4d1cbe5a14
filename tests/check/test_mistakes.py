"""Realistic mistakes an admin makes, each through `thread-note-bot check` on the stand-ins: one red line that
names the setting and the next step, exit status 1, never a traceback, never a secret printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.servers import BackgroundServer
from bot.store import Store, StoreUnavailable
from tests.check.helpers import OK, SKIP, Outcome, base_env, run_cli, store_a_link
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackStandin

Env = dict[str, str | None]
Check = Callable[..., Outcome]


@pytest.fixture
def env(rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path) -> Env:
    return dict(base_env(rc_sandbox, slack_standin, tmp_path))


@pytest.fixture
def check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Check:
    def run(env: Env, *args: str) -> Outcome:
        return run_cli(monkeypatch, capsys, tmp_path, env, "check", *args)

    return run


def test_before_start_checks_everything_but_the_running_bot(env: Env, check: Check) -> None:
    done = check(env, "--before-start")
    assert done.status == 0, done.out
    assert not done.red and not done.marked(SKIP)
    green = "\n".join(done.marked(OK))
    assert "https://bot.example.com (not asked for /healthz: --before-start)" in green
    without = check(env)  # the bot is not running at bot.example.com: the line says what to do
    assert "check --before-start" in without.one_red_line("/healthz is not reachable")


@pytest.mark.parametrize(
    "name",
    [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "RINGCENTRAL_CLIENT_ID",
        "RINGCENTRAL_CLIENT_SECRET",
        "RINGCENTRAL_JWT",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_SECRET",
    ],
)
@pytest.mark.parametrize(("damage", "said"), [("{} ", "trailing space"), ('"{}"', "quotes")])
def test_a_stray_space_or_quotes_in_any_secret_is_named_without_printing_it(
    env: Env, check: Check, slack_standin: SlackStandin, name: str, damage: str, said: str
) -> None:
    secret = {"SLACK_APP_TOKEN": slack_standin.app_token, "SLACK_CLIENT_SECRET": "0123456789abcdef" * 2}
    value = str(env.get(name) or secret[name])
    env[name] = damage.format(value)
    done = check(env, "--before-start")
    line = done.one_red_line(name, said)
    assert value not in done.out + done.err and value[:12] not in line


@pytest.mark.parametrize(
    ("token", "said"),
    [("xoxp-1-2-3-abc", "user token"), ("xapp-1-A1-2-abc", "app-level token"), ("abc", "xoxb-")],
)
def test_a_slack_token_of_the_wrong_kind_is_named(env: Env, check: Check, token: str, said: str) -> None:
    env["SLACK_BOT_TOKEN"] = token
    check(env, "--before-start").one_red_line("SLACK_BOT_TOKEN", said)


def test_a_ringcentral_jwt_that_is_not_a_jwt_is_named(env: Env, check: Check) -> None:
    env["RINGCENTRAL_JWT"] = "my-jwt-credential-id"
    check(env, "--before-start").one_red_line("RINGCENTRAL_JWT", "not a JWT", "Credentials")


def test_a_wrong_client_secret_is_named_with_ringcentrals_code(env: Env, check: Check) -> None:
    env["RINGCENTRAL_CLIENT_SECRET"] = "not-the-secret"
    line = check(env, "--before-start").one_red_line("RINGCENTRAL_CLIENT_SECRET", "refused", "Credentials")
    assert "OAU-1" in line or "invalid_client" in line


def test_restapi_appended_to_the_server_url_is_named(env: Env, check: Check, rc_sandbox: RcSandbox) -> None:
    env["RINGCENTRAL_SERVER_URL"] = rc_sandbox.url + "/restapi/v1.0"
    check(env, "--before-start").one_red_line("RINGCENTRAL_SERVER_URL", "/restapi/v1.0", "only the server")


def test_a_server_url_that_is_not_ringcentral_is_named(
    env: Env, check: Check, slack_standin: SlackStandin, serve_app: Callable[[Any], BackgroundServer]
) -> None:
    env["RINGCENTRAL_SERVER_URL"] = slack_standin.url  # the Slack stand-in
    check(env, "--before-start").one_red_line("RINGCENTRAL_SERVER_URL", "does not answer like RingCentral")

    async def page(_: object) -> HTMLResponse:
        return HTMLResponse("<html>It works!</html>")

    other = serve_app(Starlette(routes=[Route("/{path:path}", page, methods=["GET", "POST"])]))
    env["RINGCENTRAL_SERVER_URL"] = other.url  # some web server answering 200 with HTML
    line = check(env, "--before-start").one_red_line("RINGCENTRAL_SERVER_URL", "HTTP 200, not JSON")
    assert "platform.ringcentral.com" in line


def test_sqlite_with_two_slashes_and_a_verbose_log_level_are_named_up_front(env: Env, check: Check) -> None:
    env["THREAD_NOTE_DATABASE_URL"] = "sqlite://bot.db"
    assert "sqlite:///bot.db" in check(env, "--before-start").one_red_line("THREAD_NOTE_DATABASE_URL")
    env["THREAD_NOTE_DATABASE_URL"] = None
    env["LOG_LEVEL"] = "verbose"
    check(env, "--before-start").one_red_line("LOG_LEVEL", "verbose", "INFO")


def test_serve_with_a_verbose_log_level_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    monkeypatch.chdir(tmp_path)
    from bot.cli import main

    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "LOG_LEVEL" in err and "Traceback" not in err


def test_an_unreachable_database_host_is_named(env: Env, check: Check) -> None:
    env["THREAD_NOTE_DATABASE_URL"] = "postgresql://bot:secret@db.invalid:5432/bot"
    line = check(env, "--before-start").one_red_line("THREAD_NOTE_DATABASE_URL", "db.invalid")
    assert "secret" not in line


def test_socket_mode_needs_a_public_url_but_no_signing_secret(
    env: Env, check: Check, slack_standin: SlackStandin
) -> None:
    env |= {"SLACK_APP_TOKEN": slack_standin.app_token, "SLACK_SIGNING_SECRET": None}
    env["THREAD_NOTE_PUBLIC_URL"] = None
    done = check(env, "--before-start")
    assert "/ringcentral/oauth/callback" in done.one_red_line("THREAD_NOTE_PUBLIC_URL", "connect")
    assert "SLACK_SIGNING_SECRET" not in done.out
    env["THREAD_NOTE_PUBLIC_URL"] = "https://bot.example.com"
    assert check(env, "--before-start").status == 0


def test_check_proves_the_key_on_a_stored_token(env: Env, check: Check, tmp_path: Path) -> None:
    url = str(env["THREAD_NOTE_DATABASE_URL"])
    right = str(env["THREAD_NOTE_SECRET_KEY"])
    store_a_link(url, right)
    done = check(env, "--before-start")
    assert done.status == 0 and "decrypts the 1 stored secret(s)" in "\n".join(done.marked(OK))
    env["THREAD_NOTE_SECRET_KEY"] = Fernet.generate_key().decode()  # after a restore: another key
    line = check(env, "--before-start").one_red_line("THREAD_NOTE_SECRET_KEY", "does not decrypt")
    assert "reencrypt" in line and "another replica" in line and "/thread-note connect" in line
    env["THREAD_NOTE_SECRET_KEY"] = f"{env['THREAD_NOTE_SECRET_KEY']},{right}"  # new,old: fine again
    assert check(env, "--before-start").status == 0


def test_check_signs_in_once_and_signs_out(env: Env, check: Check, rc_admin: RcAdmin) -> None:
    rc_admin.reset_requests()
    assert check(env, "--before-start").status == 0
    routes = rc_admin.requests()["byRoute"]
    assert routes.get("POST /restapi/oauth/token") == 1
    assert routes.get("POST /restapi/oauth/revoke") == 1
    api = sum(n for route, n in routes.items() if "/oauth/" not in route and "/sandbox/" not in route)
    assert 1 <= api <= 6, routes


def test_a_missing_env_file_is_one_line_and_a_given_one_is_read(
    env: Env, check: Check, tmp_path: Path
) -> None:
    done = check({}, "--env-file", "nowhere.env")
    assert done.status == 1 and "--env-file nowhere.env: no such file" in done.err
    assert len(done.err.strip().splitlines()) == 1
    (tmp_path / "prod.env").write_text("".join(f"{k}={v}\n" for k, v in env.items() if v is not None))
    cleared: Env = dict.fromkeys(env)
    assert check(cleared, "--env-file", "prod.env", "--before-start").status == 0
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxp-wrong\n")  # ./.env is not read when a file is given
    assert check(cleared, "--env-file", "prod.env", "--before-start").status == 0
    default = check(cleared, "--before-start")  # without --env-file, ./.env is what is read
    assert default.status == 1 and any("SLACK_BOT_TOKEN is a user token" in line for line in default.red)


POSTGRES = os.environ.get("THREAD_NOTE_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES, reason="THREAD_NOTE_TEST_POSTGRES_URL is not set")


@needs_postgres
@pytest.mark.parametrize("mode", ["disable", "prefer"])
def test_libpq_sslmode_is_understood(env: Env, check: Check, mode: str) -> None:
    env["THREAD_NOTE_DATABASE_URL"] = f"{POSTGRES}?sslmode={mode}"
    done = check(env, "--before-start")
    assert done.status == 0, done.out
    assert "reachable" in "\n".join(done.marked(OK))


@needs_postgres
def test_sslmode_require_against_a_server_without_tls_is_named(env: Env, check: Check) -> None:
    env["THREAD_NOTE_DATABASE_URL"] = f"{POSTGRES}?sslmode=require"
    line = check(env, "--before-start").one_red_line("THREAD_NOTE_DATABASE_URL", "TLS")
    assert "sslmode=prefer" in line


@needs_postgres
def test_a_database_that_does_not_exist_is_named(env: Env, check: Check) -> None:
    assert POSTGRES is not None
    env["THREAD_NOTE_DATABASE_URL"] = POSTGRES.rsplit("/", 1)[0] + "/no_such_database_here"
    check(env, "--before-start").one_red_line("THREAD_NOTE_DATABASE_URL", "does not exist")


def test_a_rate_limit_after_signing_in_is_a_rate_limit_not_a_permission(
    env: Env, check: Check, rc_admin: RcAdmin
) -> None:
    rc_admin.fault("rate_limit", path="/restapi/v1.0/account/~/message-threads", retry_after=42)
    done = check(env, "--before-start")
    assert "wait 42 s" in done.one_red_line("RingCentral", "rate-limited")
    assert "permission" not in done.out.lower()


@needs_postgres
async def test_the_store_that_serve_opens_understands_libpq_sslmode(database_url: str) -> None:
    """`serve` opens the store the same way: `?sslmode=…` from a managed service must not break it."""
    if database_url.startswith("sqlite"):
        pytest.skip("libpq parameters are PostgreSQL's")
    store = await Store.open(f"{database_url}?sslmode=prefer&application_name=thread-note-bot", [KEY])
    try:
        assert await store.get_state("nothing") is None
    finally:
        await store.close()
    with pytest.raises(StoreUnavailable, match="THREAD_NOTE_DATABASE_URL"):
        await Store.open(f"{database_url}?sslmode=require", [KEY], connect_timeout=5)


KEY = Fernet.generate_key().decode()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://bot:pa@ss@db.example.com/bot", "%40"),
        ("postgresql://bot@db.example.com:99999/bot", "port 99999"),
        ("postgresql://bot@db.example.com:abc/bot", "not a database URL"),
        ("postgresql://bot@db.example.com/bot?sslmode=on", "sslmode='on'"),
        ("postgresql://bot@db.example.com/bot?sslmode=verify-full&sslrootcert=/nowhere.crt", "not a file"),
        ("mysql://bot@db.example.com/bot", "unsupported database"),
    ],
)
def test_a_malformed_database_url_is_named(env: Env, check: Check, url: str, said: str) -> None:
    env["THREAD_NOTE_DATABASE_URL"] = url
    check(env, "--before-start").one_red_line("THREAD_NOTE_DATABASE_URL", said)


def test_a_folder_as_the_sqlite_file_is_named(env: Env, check: Check, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env["THREAD_NOTE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'data'}"
    check(env, "--before-start").one_red_line("THREAD_NOTE_DATABASE_URL", "is a folder")


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-1\u20132-3", "not plain ASCII"),
        ("SLACK_BOT_TOKEN", "xoxb-1-2-3", "invalid_auth"),
        ("SLACK_APP_TOKEN", "xoxb-1-2-3", "bot token"),
        ("SLACK_APP_TOKEN", "xapp-1-2-3", "connections:write"),
        ("THREAD_NOTE_SECRET_KEY", "hunter2", "Fernet"),
        ("THREAD_NOTE_PUBLIC_URL", "bot.example.com", "https URL"),
        ("THREAD_NOTE_PUBLIC_URL", "https://bot.example.com/slack/events", "base URL"),
        ("THREAD_NOTE_PUBLIC_URL", "http://bot.example.com", "not https"),
        ("RINGCENTRAL_SERVER_URL", "platform.ringcentral.com", "http(s) URL"),
        ("RINGCENTRAL_CLIENT_ID", "not-our-app", "Credentials"),
        ("RINGCENTRAL_JWT", "aaa.bbb.ccc", "create a JWT credential"),
        ("PORT", "http", "TCP port"),
    ],
)
def test_more_mistakes_are_each_one_red_line(
    env: Env, check: Check, name: str, value: str, said: str
) -> None:
    env[name] = value
    check(env, "--before-start").one_red_line(name, said)


def test_a_settings_file_that_is_not_text_is_one_line(env: Env, check: Check, tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_bytes(b"\xff\xfe\x00garbage\x00")
    done = check(dict.fromkeys(env), "--env-file", "prod.env", "--before-start")
    done.one_red_line("prod.env", "cannot be read")


def test_a_sqlite_folder_this_user_cannot_write_is_named(env: Env, check: Check, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    env["THREAD_NOTE_DATABASE_URL"] = f"sqlite:///{locked / 'bot.db'}"
    check(env, "--before-start").one_red_line("THREAD_NOTE_DATABASE_URL", "write access")


def test_the_slack_api_url_gets_its_trailing_slash(
    env: Env, check: Check, slack_standin: SlackStandin
) -> None:
    env["SLACK_API_URL"] = slack_standin.api_url.rstrip("/")  # …/api, as people write it
    assert check(env, "--before-start").status == 0
    from bot.config import load_settings

    assert load_settings(env_file=None, SLACK_API_URL="https://slack.com/api").slack_api_url.endswith("/api/")


@pytest.mark.parametrize(
    ("status", "said"),
    [(429, "rate-limited on auth.test (HTTP 429): wait 30 s"), (503, "Slack is having trouble")],
)
def test_slack_answering_429_or_503_is_not_blamed_on_the_url(
    env: Env, check: Check, slack_standin: SlackStandin, status: int, said: str
) -> None:
    slack_standin.fault("auth.test", "ratelimited" if status == 429 else None, status=status, retry_after=30)
    line = check(env, "--before-start").one_red_line("Slack", said)
    assert "SLACK_API_URL" not in line


def test_check_creates_no_database_file(env: Env, check: Check, tmp_path: Path) -> None:
    assert check(env, "--before-start").status == 0
    assert not (tmp_path / "bot.db").exists()


def test_serve_with_an_unreachable_database_says_so_in_one_line(env: Env, tmp_path: Path) -> None:
    """`serve` opens the database before it starts serving: no lifespan traceback, exit status 2."""
    env["THREAD_NOTE_DATABASE_URL"] = "postgresql://bot:secret@127.0.0.1:1/bot"
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RINGCENTRAL_", "THREAD_NOTE_"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", "0"],
        env={**clean, **{k: v for k, v in env.items() if v is not None}, "NO_COLOR": "1"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "secret" not in done.stderr
    assert "THREAD_NOTE_DATABASE_URL" in done.stderr, done.stderr
