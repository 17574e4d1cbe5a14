"""Issue 17, item 7: a DEBUG run in many-workspace mode (`serve` as a process, LOG_LEVEL=DEBUG, every
library's records through the bot's one redacting renderer) keeps the Slack client secret, Slack's OAuth
code and the text of notes out of its output: the Slack SDK logs request bodies as dicts (`'client_secret':
…`, `'code': …`, `'text': …`) and response bodies as JSON."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from bot.demo import click_link
from tests.kit.bot import wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, Handler, with_note
from tests.notify.test_crash_restart import BotProcess, bot_env  # noqa: F401 - bot_env is a fixture
from tests.scale.helpers import answers, command

NOTE = "Customer Zelda Quux prefers a call after 5pm"


def test_debug_logs_of_an_oauth_install_and_a_notification_hold_no_secret_code_or_note_text(
    bot_env: dict[str, str],  # noqa: F811 - the fixture imported above
    rc_sandbox: RcSandbox,
    slack_standin: SlackStandin,
    tmp_path: Path,
) -> None:
    app = httpx.get(f"{slack_standin.url}/sandbox/slack/app", timeout=5).json()
    ws = slack_standin.default
    env = {
        **bot_env, "LOG_LEVEL": "DEBUG", "SLACK_BOT_TOKEN": "", "SLACK_CLIENT_ID": app["client_id"],
        "SLACK_CLIENT_SECRET": app["client_secret"], "SLACK_ALLOWED_TEAMS": ws.team_id,
    }  # fmt: skip
    process = BotProcess(env, tmp_path, "debug-oauth")
    try:
        # Add to Slack: the bot's install page, Slack's authorize page, back to the bot with a one-time code
        page = httpx.get(f"{process.url}/slack/install", timeout=10)
        assert page.status_code == 200, page.text
        cookie = page.headers["set-cookie"].split(";")[0]
        link = html.unescape(re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', page.text)[1])  # type: ignore[index]
        consent = httpx.get(f"{link}&team={ws.team_id}", timeout=10)
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        done = httpx.get(consent.headers["location"], headers={"Cookie": cookie}, timeout=10)
        assert done.status_code == 200, done.text

        # the install granted users:read.email: the Slack person's email must match the RingCentral one
        slack_standin.add_user(
            "ana", real_name="Ana Alvarez", email="ana@acme.example", channels=["handoffs"]
        )
        ws = slack_standin.default
        requests = SlackRequests(
            slack_standin, app_url=process.url, signing_secret=slack_standin.signing_secret
        )
        _, rid = command(requests, ws, "connect", user="ana")
        wait_for(lambda: "connect_open" in answers(slack_standin, rid), 10, "the connect link")
        url = re.search(r"'url': '([^']*oauth/authorize[^']*)'", answers(slack_standin, rid))[1]  # type: ignore[index]
        ext = rc_sandbox.user("Ana Alvarez").extension_id
        signed_in = click_link(httpx.get(url + f"&sandbox_user={ext}", follow_redirects=True, timeout=10))
        assert "Connected" in signed_in.text, signed_in.text

        _, rid = command(requests, ws, f"add {SUPPORT_THREAD} Zelda Quux called back", user="ana")
        wait_for(lambda: "saved" in answers(slack_standin, rid).lower(), 15, "the note written from Slack")
        _, rid = command(requests, ws, "subscribe Support", user="ana", channel="handoffs")
        wait_for(lambda: "now receives" in answers(slack_standin, rid), 15, "the subscription")
        time.sleep(1.5)
        ana = Handler(rc_sandbox, "Ana Alvarez")
        note = ana.add(SUPPORT_THREAD, NOTE)
        ana.close()
        wait_for(lambda: with_note(slack_standin, "handoffs", note["id"]), 15, "the notification")
    finally:
        process.kill()
    log = process.log.read_text()
    assert '"level": "debug"' in log and "oauth.v2.access" in log, "the run did not log the exchange at DEBUG"
    assert "chat.postMessage" in log
    leaked = {
        "Slack client secret": app["client_secret"],
        "Slack OAuth code": code,
        "note text": "Zelda Quux",
    }
    assert not [name for name, value in leaked.items() if value in log], [
        name for name, value in leaked.items() if value in log
    ]
