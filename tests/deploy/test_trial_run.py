"""The stand-ins for a trial run: the Slack stand-in alone with the credentials to point a bot at it,
`demo --keep` pointing at the channel that shows the story, and an emulator sign-in page that behaves like a
web page (never a 429) and names people the way the bot does."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.demo.helpers import console_script, read_until, user_env
from tests.kit.bot import RunningBot, wait_for
from tests.kit.rc import RcSandbox
from tests.notify.test_crash_restart import free_port

CALLBACK = "http://127.0.0.1:3000/ringcentral/oauth/callback"


@contextmanager
def running(*args: str, until: str) -> Iterator[str]:
    """`thread-note-bot ARGS` in the background; yields what it printed up to the line with `until`."""
    proc = subprocess.Popen(
        [*console_script(), *args], env=user_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield "\n".join(read_until(proc.stdout, until))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False  # it prints its addresses just before it starts listening


def _printed(said: str, name: str) -> str:
    found = re.search(rf"^\s*{name}=(\S+)", said, re.MULTILINE)
    assert found, f"{name} not printed:\n{said}"
    return found.group(1)


def test_sandbox_slack_runs_the_slack_standin_alone_and_prints_what_a_bot_needs() -> None:
    port = free_port()
    with running("sandbox", "--slack", "--port", str(port), until="Ctrl-C") as said:
        api = _printed(said, "SLACK_API_URL")
        assert api == f"http://127.0.0.1:{port}/api/"
        bot_token, app_token = _printed(said, "SLACK_BOT_TOKEN"), _printed(said, "SLACK_APP_TOKEN")
        secret = _printed(said, "SLACK_SIGNING_SECRET")
        assert f"http://127.0.0.1:{port}/sandbox/slack/" in said  # the page of the channels
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/sandbox/slack/"), 15, "the stand-in to listen")
        me = httpx.post(
            api + "auth.test", headers={"Authorization": f"Bearer {bot_token}"}, timeout=10
        ).json()
        assert me["ok"] is True and me["user_id"]
        socket = httpx.post(
            api + "apps.connections.open", headers={"Authorization": f"Bearer {app_token}"}, timeout=10
        ).json()
        assert socket["ok"] is True and socket["url"].startswith("ws://")
        workspaces = httpx.get(f"http://127.0.0.1:{port}/sandbox/slack/workspaces", timeout=10).json()
        assert workspaces["workspaces"][0]["signing_secret"] == secret


def test_demo_keep_prints_the_link_to_the_channel_that_shows_the_story_and_its_metrics() -> None:
    with running("demo", "--keep", until="Press Ctrl-C") as said:
        link = re.search(
            r"The story, in #support\s+(http://127\.0\.0\.1:\d+/sandbox/slack/\?channel=support)", said
        )
        assert link, said
        page = httpx.get(link.group(1), timeout=10)
        assert page.status_code == 200 and "Handoff: the customer is waiting" in page.text
        curl = re.search(r'curl -H "Authorization: Bearer (\S+)" (http://\S+/metrics)', said)
        assert curl, said
        assert httpx.get(curl.group(2), timeout=10).status_code == 401  # nobody else gets the figures
        scraped = httpx.get(curl.group(2), headers={"Authorization": f"Bearer {curl.group(1)}"}, timeout=10)
        assert scraped.status_code == 200 and "thread_note_deliveries_total" in scraped.text


def test_the_sign_in_page_is_a_page_not_a_rate_limited_api_call(rc_sandbox: RcSandbox) -> None:
    params = {
        "client_id": rc_sandbox.client_id,
        "response_type": "code",
        "state": "s",
        "redirect_uri": CALLBACK,
    }
    with httpx.Client(base_url=rc_sandbox.url, timeout=10) as http:
        for _ in range(25):  # RingCentral's Auth group allows 5 token requests a minute; a page has no group
            answer = http.get("/restapi/oauth/authorize", params=params, follow_redirects=True)
            assert answer.status_code == 200, answer.text
        links = re.findall(r"<a href=\"[^\"]*sandbox_user=\d+\">([^<]+)</a>", answer.text)
    assert "Ana Alvarez (ext. 101)" in links and "Ben Okafor (ext. 102)" in links


def test_after_signing_in_the_bot_names_the_person_as_the_sign_in_page_did(bot: RunningBot) -> None:
    page = bot.connect("alice", "Ana Alvarez")
    assert page.status_code == 200
    assert "connected to RingCentral as Ana Alvarez (ext. 101)" in page.text
