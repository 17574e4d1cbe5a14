"""`thread-note-bot sandbox --slack`: the Slack stand-in alone, in the foreground under uvicorn.

For a trial run of your own `serve` (or another Slack app) with no Slack workspace: it prints the default
workspace's bot token, signing secret and app-level token (Socket Mode), and the URLs to point the bot at and
to watch the channels. These are the stand-in's own made-up credentials, valid only against it.
"""

from __future__ import annotations

import sys

import uvicorn

from bot.sandbox.profiles import UnknownProfile, get_profile
from bot.sandbox.slack.app import create_slack_app


def run_slack_sandbox(host: str, port: int, profile: str | None = None) -> int:
    try:
        chosen = get_profile(profile)
    except UnknownProfile as exc:
        print(f"thread-note-bot sandbox: {exc}", file=sys.stderr)
        return 2
    app = create_slack_app(profile=chosen)
    ws = app.state.slack.state.workspace().credentials()
    url = f"http://{host}:{port}"
    print(
        f"Slack stand-in (workspace {ws['team']} {ws['team_id']}, profile: {chosen.name}) on {url}\n"
        f"  SLACK_API_URL={url}/api/\n"
        f"  SLACK_BOT_TOKEN={ws['bot_token']}\n"
        f"  SLACK_SIGNING_SECRET={ws['signing_secret']}\n"
        f"  SLACK_APP_TOKEN={ws['app_token']}   (Socket Mode, through apps.connections.open)\n"
        f"  channels, as people would see them: {url}/sandbox/slack/\n"
        f"  credentials, users and channels (JSON): {url}/sandbox/slack/workspaces\n"
        f"  control routes and Web API methods: bot/sandbox/slack/__init__.py; stop with Ctrl-C",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", ws="websockets-sansio")
    return 0
