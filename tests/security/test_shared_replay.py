"""Issue 16, item 4: the replay guard is shared through the store. Two replicas of the bot on one database
(PostgreSQL, as replicas run; and one SQLite file): a signed request that replica A handled, sent again byte
for byte to replica B, is refused by B as A refuses it (401), and the note it asked for exists once; a
request that A could not handle (it did nothing) is no replay anywhere."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from tests.kit.bot import RunningBot, running_bot
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SignedRequest, SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD


@pytest.fixture
def replicas(
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    database_url: str,
) -> Iterator[tuple[RunningBot, RunningBot]]:
    """Two bots on `database_url` (every backend), with the same settings as replicas have."""
    same_key = {"THREAD_NOTE_SECRET_KEY": Fernet.generate_key().decode()}
    replica = (rc_sandbox, rc_admin, slack_standin, slack_request, database_url, same_key)
    with running_bot(*replica) as a, running_bot(*replica) as b:
        slack_request.app_url = a.url
        yield a, b


def _to(bot: RunningBot, request: SignedRequest) -> SignedRequest:
    """The same bytes and headers (signature, timestamp), sent to `bot`."""
    return SignedRequest(url=f"{bot.url}/slack/events", body=request.body, headers=dict(request.headers))


def test_a_request_replayed_to_another_replica_is_refused_there_too(
    replicas: tuple[RunningBot, RunningBot], slack_request: SlackRequests
) -> None:
    a, b = replicas
    a.connect("alice", "Ana Alvarez")
    assert "saved" in a.command(f"add {SUPPORT_THREAD} Replayed across replicas").text.lower()
    handled = slack_request.last
    assert handled is not None and handled.url.startswith(a.url)

    on_b = slack_request.send(_to(b, handled))
    assert on_b.status_code == 401, on_b.text
    on_a = slack_request.send(_to(a, handled))
    assert (
        (on_b.status_code, on_b.json())
        == (on_a.status_code, on_a.json())
        == (401, {"error": "invalid request"})
    )

    slack_request.app_url = b.url
    assert b.command("help", answers=0).ack is not None  # a new request is still B's to answer
    time.sleep(1.0)  # anything B would have done with the replay, it would have done by now
    notes = [n for n in a.rc_state_notes() if n["text"] == "Replayed across replicas"]
    assert len(notes) == 1


def test_a_request_one_replica_could_not_handle_is_no_replay_on_another(
    replicas: tuple[RunningBot, RunningBot], slack_request: SlackRequests
) -> None:
    a, b = replicas
    malformed = slack_request.sign(b"payload=%7Bnot%20json", "application/x-www-form-urlencoded")
    first = slack_request.send(_to(a, malformed))
    assert first.status_code == 400, first.text  # Bolt could not parse it: nothing was done
    again = slack_request.send(_to(b, malformed))
    assert (again.status_code, again.json()) == (400, {"error": "malformed request"})  # not 401: forgotten
