"""The workspaces the stand-in starts with, and new ones added at run time.

Every workspace gets the same cast (different ids): a bot user, four people and five channels.

| name | who | tz | flags |
| --- | --- | --- | --- |
| `alice` | Alice Archer | America/New_York | admin |
| `bob` | Bob Baker | Europe/Berlin | |
| `carol` | Carol Chen | Asia/Tokyo | primary owner (owner, admin) |
| `dave` | Dave Diaz | America/Los_Angeles | |

| channel | kind | members | bot member |
| --- | --- | --- | --- |
| `#general` | public, general | everyone | yes |
| `#support` | public | alice, bob, carol | yes |
| `#handoffs` | private | alice, bob | yes |
| `#random` | public | everyone | **no** (`not_in_channel`, `conversations.join`) |
| `#management` | private | carol, dave | **no** (`channel_not_found` for the bot) |
"""

from __future__ import annotations

import hashlib
import secrets

from bot.sandbox.slack.workspace_data import Channel, SlackState, User, Workspace, make_id

DEFAULT_TEAM_ID = "T0SANDBOX"
DEFAULT_BOT_TOKEN = "xoxb-1000000001-2000000002-SandboxBotToken0000000"
DEFAULT_APP_TOKEN = "xapp-1-A0SANDBOX1-3000000003-" + hashlib.sha256(b"sandbox app token").hexdigest()
DEFAULT_SIGNING_SECRET = "sandbox-signing-secret-0123456789abcdef"

_PEOPLE = [
    # name, real name, tz, is_admin, is_owner, is_primary_owner
    ("alice", "Alice Archer", "America/New_York", True, False, False),
    ("bob", "Bob Baker", "Europe/Berlin", False, False, False),
    ("carol", "Carol Chen", "Asia/Tokyo", True, True, True),
    ("dave", "Dave Diaz", "America/Los_Angeles", False, False, False),
]
_CHANNELS = [
    # name, private, general, members (None = everyone), bot is a member
    ("general", False, True, None, True),
    ("support", False, False, ["alice", "bob", "carol"], True),
    ("handoffs", True, False, ["alice", "bob"], True),
    ("random", False, False, None, False),
    ("management", True, False, ["carol", "dave"], False),
]


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


def build_workspace(
    team_id: str,
    name: str,
    domain: str,
    *,
    bot_token: str | None = None,
    app_token: str | None = None,
    signing_secret: str | None = None,
) -> Workspace:
    """A workspace with the standard cast. Tokens default to fresh random ones."""
    app_id = make_id("A", team_id, "app")
    ws = Workspace(
        team_id=team_id,
        name=name,
        domain=domain,
        bot_token=bot_token
        or f"xoxb-{_digits(10)}-{_digits(10)}-{secrets.token_urlsafe(18).replace('_', 'x')}",
        app_token=app_token or f"xapp-1-{app_id}-{_digits(10)}-{secrets.token_hex(32)}",
        signing_secret=signing_secret or secrets.token_hex(16),
        bot_user_id=make_id("U", team_id, "bot-user"),
        bot_id=make_id("B", team_id, "bot"),
        app_id=app_id,
    )
    bot = User(
        id=ws.bot_user_id,
        team_id=team_id,
        name="thread-notes",
        real_name="Thread Notes",
        is_bot=True,
        bot_id=ws.bot_id,
    )
    ws.users[bot.id] = bot
    for uname, real, tz, admin, owner, primary in _PEOPLE:
        user = User(
            id=make_id("U", team_id, uname),
            team_id=team_id,
            name=uname,
            real_name=real,
            tz=tz,
            is_admin=admin,
            is_owner=owner,
            is_primary_owner=primary,
            email=f"{uname}@{domain}.example.com",
        )
        ws.users[user.id] = user
    people = [u for u in ws.users.values() if not u.is_bot]
    creator = people[0].id
    for cname, private, general, member_names, bot_member in _CHANNELS:
        members = [u.id for u in people if member_names is None or u.name in member_names]
        if bot_member:
            members.append(ws.bot_user_id)
        channel = Channel(
            id=make_id("C", team_id, cname),
            team_id=team_id,
            name=cname,
            is_private=private,
            is_general=general,
            creator=creator,
            members=members,
        )
        ws.channels[channel.id] = channel
    return ws


def seed_default(state: SlackState, team_id: str = DEFAULT_TEAM_ID) -> Workspace:
    """The default workspace, with fixed tokens so a `demo` or a developer can paste them."""
    return state.add_workspace(
        build_workspace(
            team_id,
            "Sandbox",
            "sandbox",
            bot_token=DEFAULT_BOT_TOKEN,
            app_token=DEFAULT_APP_TOKEN,
            signing_secret=DEFAULT_SIGNING_SECRET,
        )
    )
