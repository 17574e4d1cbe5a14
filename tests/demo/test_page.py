"""The Slack stand-in's read-only page of its channels (`GET /sandbox/slack/`): Block Kit rendered, untrusted
text escaped, threads nested, and (in headless Chromium) refreshing itself as the bot posts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.sandbox.slack import create_slack_app
from bot.servers import BackgroundServer
from tests.demo.helpers import CHROMIUM, chromium, parse_html
from tests.kit.slack import SlackStandin

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def page(standin: SlackStandin, **params: str) -> httpx.Response:
    response = httpx.get(f"{standin.url}/sandbox/slack/", params=params, timeout=10)
    assert response.status_code == 200
    return response


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def post(
    standin: SlackStandin, channel: str, blocks: list[dict[str, Any]], text: str = "x", **kw: Any
) -> str:
    client = standin.sync_client()
    ts: str = client.chat_postMessage(channel=standin.channel_id(channel), blocks=blocks, text=text, **kw)[
        "ts"
    ]
    return ts


def test_page_renders_sections_context_buttons_dividers_headers_and_struck_text(
    slack_standin: SlackStandin,
) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Handoffs today"}},
        section(
            ":speech_balloon: *+1 415-555-0142 · Support* _open_ `A-20931`\n"
            "~old text~ <https://example.com/x|the order>"
        ),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Ana Alvarez* · 10:00 (edited)"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Take over"}, "action_id": "a",
                 "style": "primary"},
                {"type": "button", "text": {"type": "plain_text", "text": "Resolve"}, "action_id": "b"},
            ],
        },
    ]  # fmt: skip
    post(slack_standin, "support", blocks)
    root = parse_html(page(slack_standin, channel="support").text)
    message = root.find_all("article", "msg")[0]
    assert message.find_all("div", "header")[0].text() == "Handoffs today"
    text = message.find_all("div", "text")[0]
    assert [b.text() for b in text.find_all("b")] == ["+1 415-555-0142 · Support"]
    assert [i.text() for i in text.find_all("i")] == ["open"]
    assert [c.text() for c in text.find_all("code")] == ["A-20931"]
    assert [s.text() for s in text.find_all("s")] == ["old text"]
    link = text.find_all("a")[0]
    assert link.attrs["href"] == "https://example.com/x" and link.text() == "the order"
    assert "💬" in text.text()
    assert "Ana Alvarez" in message.find_all("div", "context")[0].text()
    assert message.find_all("hr", "divider")
    buttons = message.find_all("span", "btn")
    assert [b.text() for b in buttons] == ["Take over", "Resolve"]
    assert (
        "btn-primary" in buttons[0].classes and "Thread Notes" in message.text() and "APP" in message.text()
    )


def test_page_escapes_untrusted_text_from_people_blocks_links_and_names(slack_standin: SlackStandin) -> None:
    slack_standin.add_user("mallory", real_name=HOSTILE, channels=["support"])
    slack_standin.post_as("mallory", "support", HOSTILE + " <javascript:alert(3)|click me> &lt;b&gt;")
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    post(slack_standin, "support", [section(escaped + " <@" + slack_standin.user_id("mallory") + ">")])
    post(slack_standin, "support", [], text=f'"quoted" {escaped}')
    body = page(slack_standin, channel="support").text
    root = parse_html(body)
    elements = root.find_all()
    assert [e for e in elements if e.tag in ("img", "iframe", "object", "embed")] == []
    assert [e.tag for e in elements if e.tag == "script"] == ["script"]  # the page's own, nothing else
    assert [a for e in elements for a in e.attrs if a.lower().startswith("on")] == []
    hrefs = [e.attrs["href"] for e in elements if "href" in e.attrs]
    assert all(h.startswith(("?", "https://", "http://", "mailto:")) for h in hrefs), hrefs
    shown = [m.text() for m in root.find_all("article", "msg")]
    assert len(shown) == 3
    assert "alert(1)" in shown[0] and "click me" in shown[0] and "<b>" in shown[0]  # as text, never as markup
    assert (
        HOSTILE in root.find_all("article", "msg")[0].find_all("span", "who")[0].text()
    )  # the name, literally
    assert HOSTILE in shown[1] and f"@{HOSTILE}" in shown[1]  # escaped text and the mention's name
    assert '"quoted"' in shown[2] and HOSTILE in shown[2]
    assert len(root.find_all("script")) == 1


def test_page_nests_replies_in_their_thread_and_marks_edits_and_deleted_parents(
    slack_standin: SlackStandin,
) -> None:
    client = slack_standin.sync_client()
    channel = slack_standin.channel_id("handoffs")
    parent = post(slack_standin, "handoffs", [section("The conversation")])
    slack_standin.post_as("alice", "handoffs", "A reply from Alice", thread_ts=parent)
    reply = post(slack_standin, "handoffs", [section("A note")], thread_ts=parent)
    client.chat_update(channel=channel, ts=reply, blocks=[section("~A note~ (deleted)")], text="x")
    lonely = post(slack_standin, "handoffs", [section("Soon gone")])
    with_reply = post(slack_standin, "handoffs", [section("Parent to delete")])
    slack_standin.post_as("bob", "handoffs", "still here", thread_ts=with_reply)
    client.chat_delete(channel=channel, ts=lonely)
    client.chat_delete(channel=channel, ts=with_reply)

    root = parse_html(page(slack_standin, channel="handoffs").text)
    top = [m for m in root.find_all("article", "msg") if "reply" not in m.classes]
    assert len(top) == 2
    thread = top[0].find_all("div", "thread")[0]
    assert thread.find_all("div", "thread-count")[0].text() == "2 replies"
    replies = thread.find_all("article", "reply")
    assert [("Alice Archer" in r.text(), r.find_all("span", "edited") != []) for r in replies] == [
        (True, False),
        (False, True),
    ]
    assert [s.text() for s in replies[1].find_all("s")] == ["A note"]
    assert "Soon gone" not in root.text()
    assert top[1].find_all("div", "tombstone")[0].text() == "This message was deleted."
    assert "still here" in top[1].find_all("div", "thread")[0].text()


def test_page_lists_every_channel_and_its_refreshing_part_is_a_fragment_under_a_nonce_policy(
    slack_standin: SlackStandin,
) -> None:
    post(slack_standin, "general", [section("hello")])
    full = page(slack_standin)
    root = parse_html(full.text)
    names = [a.text() for a in root.find_all("nav")[0].find_all("a")]
    assert names[0] == "All channels" and "# general1" in names and "🔒 handoffs" in names
    assert {s.attrs["data-name"] for s in root.find_all("section", "channel")} >= {"general", "support"}
    policy = full.headers["content-security-policy"]
    nonce = root.find_all("script")[0].attrs["nonce"]
    assert f"script-src 'nonce-{nonce}'" in policy and "default-src 'none'" in policy
    part = page(slack_standin, part="main", channel="general").text
    assert part.startswith("<nav>") and "<html" not in part and "hello" in part
    missing = httpx.get(f"{slack_standin.url}/sandbox/slack/", params={"team_id": "T404"}, timeout=10)
    assert missing.status_code == 404


class _PostsAfterFirstView:
    """The stand-in, where the bot posts a message right after the page was first served."""

    def __init__(self) -> None:
        self.app = create_slack_app()
        self.posted = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        first_view = (
            scope["type"] == "http"
            and scope["path"] == "/sandbox/slack/"
            and b"part" not in scope["query_string"]
        )
        if first_view and not self.posted:
            self.posted = True
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://standin") as http:
                ws = (await http.get("/sandbox/slack/workspaces")).json()["workspaces"][0]
                blocks = json.dumps([section("Posted while you were looking")])
                await http.post(
                    "/api/chat.postMessage",
                    headers={"Authorization": f"Bearer {ws['bot_token']}"},
                    data={"channel": ws["channels"]["support"], "text": "x", "blocks": blocks},
                )  # fmt: skip


@pytest.fixture
def posting_standin() -> Iterator[str]:
    with BackgroundServer(_PostsAfterFirstView()) as server:
        yield server.url


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_in_chromium_refreshes_itself_when_the_bot_posts(posting_standin: str) -> None:
    url = f"{posting_standin}/sandbox/slack/?channel=support"  # the page comes without the message
    dom = chromium(url, "--dump-dom", "--virtual-time-budget=5000")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Posted while you were looking" in dom.stdout
