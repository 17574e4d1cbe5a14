"""A local Slack Web API stand-in that answers like Slack, records what it is sent, and is strict.

Alone: `thread-note-bot sandbox --slack [--port 8090]` prints the URL and the default workspace's tokens.
`create_slack_app(*, clock=None, team_id="T0SANDBOX") -> Starlette`: in-memory state, an injectable epoch
clock; the `SlackSandbox` behind it is `app.state.slack`. Run it with `bot.servers.BackgroundServer` and point
`AsyncWebClient(token=..., base_url="<url>/api/")` (or `SLACK_API_URL`) at it. The default workspace and its
fixed tokens are in `seed.py`; more workspaces can be added, each with its own tokens; a token only sees its
own workspace.

Web API: `POST /api/<method>` with a form or JSON body (and GET with a query string, as slack-sdk sends the
read methods). Bearer token in `Authorization`, or a `token` field in a form or query (a JSON body's `token`
is ignored, as by Slack). Errors are HTTP 200 with `ok: false`, except 429 (`ratelimited`, `Retry-After`) and
injected 5xx. Missing token → `not_authed`; unknown → `invalid_auth`; wrong kind → `not_allowed_token_type`;
unknown method → `unknown_method`. Channel arguments are ids only. Methods and their errors:

- `auth.test` (bot or app token); `apps.connections.open` (app `xapp-` token only) →
  `ws://<host>:<port>/sandbox/slack/socket?ticket=…`
- `chat.postMessage`: `channel_not_found`, `not_in_channel`, `is_archived`, `no_text`, `msg_too_long`
  (> 40 000), `invalid_blocks` (with reasons), `invalid_blocks_format`, `thread_not_found` (`thread_ts` must
  name a live top-level message), `invalid_metadata_format`; `reply_broadcast`, `metadata`, `unfurl_*`.
- `chat.update`: own messages only (`cant_update_message`), `message_not_found`, `is_archived`; replies kept.
- `chat.delete`: own messages only (`cant_delete_message`); a parent with replies stays as a tombstone.
- `chat.postEphemeral`: `user_not_found`, `user_not_in_channel`; recorded per user, never in history.
- `chat.getPermalink`: `message_not_found`.
- `views.open`, `views.push`: a `trigger_id` minted here, valid 3 s on the clock, single use
  (`invalid_trigger_id`, `expired_trigger_id`, `exchanged_trigger_id`); modal shape → `invalid_arguments`
  with reasons; `push_limit_reached` (stack of 3); `duplicate_external_id`.
- `views.update` (by `view_id` or `external_id`): `not_found`, `hash_conflict`.
- `views.publish` (home tab per user): `user_not_found`, `hash_conflict`.
- `users.info` (`include_locale`), `users.list` (paged): `user_not_found`.
- `conversations.info`, `conversations.members`: a private channel the bot is not in is `channel_not_found`.
- `conversations.history`, `conversations.replies`: `not_in_channel` for a public channel the bot is not in;
  `metadata` only with `include_all_metadata`; `oldest`/`latest`/`inclusive`/`limit`/`cursor`;
  `thread_not_found`.
- `conversations.join`: public only (`method_not_supported_for_channel_type`), `is_archived`.
- `reactions.add`: `already_reacted`, `invalid_name`, `message_not_found`.

Control routes (tests and `demo` only), all under `/sandbox/slack/`, JSON in and out:

- `GET workspaces`: each workspace's credentials (`team_id`, `bot_token`, `app_token`, `signing_secret`,
  `bot_user_id`, `bot_id`, `app_id`, `users` {name: id}, `channels` {name: id}).
  `POST workspaces` `{name?, team_id?, domain?}` adds one (same cast, own ids and tokens) → its credentials.
- `POST users` `{name, real_name?, tz?, is_admin?, is_owner?, email?, channels?, team_id?}` → the user.
- `POST scopes` `{scopes: [...], team_id?}`: the scopes of the workspace's bot token. Only `users:read.email`
  changes answers: without it `users.info` / `users.list` carry no `profile.email`. Seeded workspaces lack it
  (their app predates it); an OAuth install gets the scopes it asked for.
- `GET channels`; `POST channels` `{action, channel, ...}` with action `create` (`name`, `private?`,
  `members?`, `bot?`), `archive`, `unarchive`, `rename` (`name`), `convert` (`private`), `add_members` /
  `remove_members` (`members`: names or ids, `bot` for the bot), and Slack Connect with `org` (the other
  organisation's name): `invite_org` (pending: `is_pending_ext_shared`, `pending_connected_team_ids`),
  `share` (`is_shared`, `is_ext_shared`, `shared_team_ids`, `conversation_host_id`; a person of that
  organisation, `ext-<org>`, admin of their own, joins the channel and is visible to `users.info` with their
  own `team_id`), `unshare`.
- `GET messages?channel=`: the channel's messages as they stand now, oldest first: ts, user, bot_id, text,
  blocks, metadata, edited flag, reactions, replies nested; deleted ones gone (a deleted parent that still
  has replies shows as a tombstone). `POST messages` `{channel, user, text, thread_ts?, blocks?}`: a person
  writes (members only).
- `GET ephemeral?channel=&user=`: ephemeral messages (`chat.postEphemeral`, ephemeral response_url replies).
- `GET views?user=`: views, modal stacks, home tabs.
- `GET calls?method=&team_id=`, `DELETE calls`: the record, `{method, args, team_id, token_type, time,
  status, ok, error}` per call.
- `POST faults` `{method (or "*"), channel?, team_id?, error?, status?, retry_after?, delay?, land?,
  count=1}`: the next `count` calls answer `error` (with HTTP `status`; `ratelimited` → 429 + `Retry-After`)
  after waiting `delay` seconds; a delay alone is latency, and the call goes through after it even if the
  client gave up (`land: true`, the default: a timed-out post may still land); `land: false` drops it
  unperformed (504 `request_timeout`). `GET faults`; `DELETE faults` clears all and frees hung calls.
- Profiles (`create_slack_app(profile=...)`; README.md has the table of readings): `slack_history_tier1`
  limits `conversations.history`/`replies` to one request a minute per method and workspace, 15 a page;
  `slack_workspace_post_limit` adds a workspace-wide `chat.postMessage` limit. These hold whatever
  `rate-limits` says.
- `POST rate-limits`: off by default; `{preset: "slack", scale?, workspace_posts?}` (chat.postMessage 1/s per
  channel, the tiers per method per workspace, limits times scale; `workspace_posts` adds a workspace-wide
  chat.postMessage limit, messages a minute) or `{method, limit, window?, per?}` or `{rules: [...]}`.
  `DELETE rate-limits` turns them off.
- `POST clock` `{advance: seconds}`: moves the stand-in's clock forward.
- `POST triggers` `{user, team_id?}` → `{trigger_id, expires_at}`.
- `POST response-urls` `{channel?, user?, message_ts?, team_id?}` → `{response_url}` (5 uses, 30 minutes).
  `POST responses/{id}` is the response_url itself: records the post; `response_type: in_channel` posts,
  `replace_original` / `delete_original` change the original message; answers `ok` (text) like Slack.
  `GET responses`: everything posted to response URLs.
- `WS socket?ticket=`: the Socket Mode connection (see `socket.py`). `POST socket/dispatch`
  `{type: slash_commands|interactive|events_api, payload, team_id?}` → `{ok, envelope_id, ack}` once the app
  acks, 504 `no_ack` after 3 s, 409 `no_socket_connection`. `POST socket/disconnect` asks apps to reconnect;
  `GET socket/envelopes` lists the envelopes sent and their acks.

Install flow (`install_flow.py`): `GET /oauth/v2/authorize` (consents at once, `team=`/`user=` pick who) and
`oauth.v2.access` (code → the workspace's bot token, bound to the app's client id/secret and redirect URI,
single use); `GET /sandbox/slack/app` gives the app's client id and secret; `POST /sandbox/slack/uninstall
{team_id}` revokes a workspace's tokens until it installs again.

Not modelled: OAuth scopes other than `users:read.email` (`missing_scope`), legacy attachments (rejected),
files, DMs, enterprise grid.
"""

from bot.sandbox.slack.app import SlackSandbox, create_slack_app
from bot.sandbox.slack.seed import (
    DEFAULT_APP_TOKEN,
    DEFAULT_BOT_TOKEN,
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TEAM_ID,
)
from bot.sandbox.slack.workspace_data import ShiftableClock

__all__ = [
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BOT_TOKEN",
    "DEFAULT_SIGNING_SECRET",
    "DEFAULT_TEAM_ID",
    "ShiftableClock",
    "SlackSandbox",
    "create_slack_app",
]
