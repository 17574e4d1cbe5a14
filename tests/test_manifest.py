from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]


def _manifest() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "manifest.yml").read_text())


def test_manifest_is_valid_against_slack_manifest_schema_1_0_0() -> None:
    schema = json.loads((REPO / "tests" / "fixtures" / "manifest.schema.1.0.0.json").read_text())
    jsonschema.validate(_manifest(), schema)


def test_manifest_declares_the_command_shortcut_and_home_the_app_listens_for() -> None:
    from bot.blockkit.ids import COMMAND, SAVE_SHORTCUT

    manifest = _manifest()
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [COMMAND]
    assert [s["callback_id"] for s in manifest["features"]["shortcuts"]] == [SAVE_SHORTCUT]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_manifest_asks_only_for_the_scopes_the_bot_uses() -> None:
    scopes = set(_manifest()["oauth_config"]["scopes"]["bot"])
    assert scopes == {
        "commands",  # /thread-note and the message shortcut
        "chat:write",  # notifications, confirmations, DMs after connecting
        "channels:read",  # conversations.info: is the channel public, is the bot in it
        "groups:read",
        # conversations.history/replies with metadata: crash repair without double posts; and the
        # message.channels / message.groups events: replies in two-way threads become notes
        "channels:history",
        "groups:history",
        "users:read",  # users.info: names for mentions, time zones for note times, digests and quiet hours
        "reactions:write",  # reactions.add: ✅ on a two-way reply that became a note
        # users.info's profile.email: a RingCentral sign-in whose email differs from the Slack person's is not
        # linked (a forwarded connect link cannot link someone else's RingCentral identity)
        "users:read.email",
    }


def test_manifest_subscribes_to_the_message_events_two_way_threads_listen_for() -> None:
    events = set(_manifest()["settings"]["event_subscriptions"]["bot_events"])
    # public and private channels; DMs (message.im) and group DMs are never subscription channels
    assert {"message.channels", "message.groups"} <= events
    assert "message.im" not in events and "message.mpim" not in events
