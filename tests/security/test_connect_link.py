"""Issue 17, item 2: a forwarded connect link cannot link someone else's RingCentral identity quietly.

Dave runs `/thread-note connect` and sends the link to Ben ("please approve"). Through the real OAuth flow
(emulator's authorize page, the bot's callback page and its form)."""

from __future__ import annotations

import re

import httpx

from bot.sandbox.slack.workspace_data import SEEDED_SCOPES
from tests.kit.bot import RunningBot, texts, wait_for


def test_a_sign_in_whose_email_differs_from_the_slack_persons_is_refused_on_both_screens(
    bot: RunningBot,
) -> None:
    bot.slack.set_scopes([*sorted(_base_scopes()), "users:read.email"])  # Slack shares emails
    url = bot.authorize_url("dave")
    page = bot.visit_authorize(url, "Ben Okafor", confirm=False)  # Ben signs in on Dave's link

    assert page.status_code == 400
    assert "another email address" in page.text and "nothing was linked" in page.text
    assert "form_token" not in page.text
    told = wait_for(lambda: bot.dms("dave"), 10, "Dave told in Slack")
    assert "another email address" in texts(told[-1]["args"])
    assert "not connected" in bot.command("status", user="dave").text.lower()


def test_the_callback_page_names_who_it_links_and_stores_nothing_before_link_is_pressed(
    bot: RunningBot,
) -> None:
    url = bot.authorize_url("dave")
    page = bot.visit_authorize(url, "Ben Okafor", confirm=False)

    assert page.status_code == 200
    assert "Link Slack user Dave Diaz in Sandbox to RingCentral Ben Okafor (ext. 102)?" in page.text
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "not connected" in bot.command("status", user="dave").text.lower(), "nothing stored yet"

    cancelled = _press(page, "cancel")
    assert "Nothing was linked" in cancelled.text
    assert "not connected" in bot.command("status", user="dave").text.lower()
    assert _press(page, "link").status_code == 400, "the form token worked once"

    again = bot.visit_authorize(bot.authorize_url("dave"), "Ben Okafor")  # this time Dave meant it
    assert again.status_code == 200 and "Connected" in again.text
    assert "Ben Okafor" in bot.command("status", user="dave").text


def test_linking_an_extension_already_linked_to_someone_else_tells_them_in_a_dm(bot: RunningBot) -> None:
    bot.connect("bob", "Ben Okafor")
    before = len(bot.dms("bob"))
    bot.connect("dave", "Ben Okafor")

    told = wait_for(lambda: bot.dms("bob")[before:], 10, "Bob told")
    said = texts(told[-1]["args"])
    assert bot.slack.user_id("dave") in said and "Ben Okafor" in said and "disconnect" in said


def _press(page: httpx.Response, decision: str) -> httpx.Response:
    """Press Link or Cancel on the confirmation page, as a browser posts its form."""
    token = re.search(r"name='form_token' value='([^']*)'", page.text)
    assert token is not None
    url = str(page.url.copy_with(query=None))
    return httpx.post(url, data={"form_token": token[1], "decision": decision}, timeout=10)


def _base_scopes() -> set[str]:
    return set(SEEDED_SCOPES)
