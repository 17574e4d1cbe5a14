"""Table definitions (SQLAlchemy Core). The migrations in `migrations/versions/` must produce exactly this;
`tests/store` compares the two, so a change here without a new revision fails the suite.

Secrets (tokens, PKCE verifiers, secret state) are stored only as Fernet ciphertext (`TokenCipher`);
OAuth `state` values only as a SHA-256 hash. All times are aware UTC datetimes, supplied by the store's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    PostgreSQL keeps `timestamptz`; SQLite keeps naive UTC text in a fixed format (so comparisons in SQL
    still order correctly) and gets its `tzinfo` back on the way out. Naive input is refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_json = sa.JSON(none_as_null=True)

rc_links = sa.Table(
    "rc_links",
    metadata,
    sa.Column("team_id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("extension_id", sa.String(32), nullable=False, index=True),
    sa.Column("extension_name", sa.String(255), nullable=True),
    sa.Column("access_token", sa.Text, nullable=False),  # ciphertext
    sa.Column("refresh_token", sa.Text, nullable=True),  # ciphertext
    sa.Column("access_expires_at", UtcDateTime, nullable=False),
    sa.Column("refresh_expires_at", UtcDateTime, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),  # bumped by every token change: compare-and-set
    sa.Column("connected_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),  # sha256 hex of the state
    sa.Column("team_id", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("code_verifier", sa.Text, nullable=False),  # ciphertext
    sa.Column("pending_action", _json, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("used_at", UtcDateTime, nullable=True),
    # ciphertext of the state itself, kept only for the App Home's link, which is reused while it lives
    sa.Column("state_cipher", sa.Text, nullable=True),
)

# A RingCentral sign-in that the person has not confirmed yet ("link Slack user X to RingCentral Y?"): the
# callback page shows it, only the confirming POST (one-time form token, stored as a hash) makes it a link.
pending_links = sa.Table(
    "pending_links",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("team_id", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("extension_id", sa.String(32), nullable=False),
    sa.Column("extension_name", sa.String(255), nullable=True),
    sa.Column("extension_number", sa.String(32), nullable=True),
    sa.Column("access_token", sa.Text, nullable=False),  # ciphertext
    sa.Column("refresh_token", sa.Text, nullable=True),  # ciphertext
    sa.Column("access_expires_at", UtcDateTime, nullable=False),
    sa.Column("refresh_expires_at", UtcDateTime, nullable=True),
    sa.Column("pending_action", _json, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("team_id", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("extension_id", sa.String(32), nullable=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("thread_id", sa.String(64), nullable=True),
    sa.Column("note_ids", _json, nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Index(None, "team_id", "at"),
)

kv_state = sa.Table(
    "kv_state",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", _json, nullable=True),  # plain JSON, or NULL when the value is secret
    sa.Column("secret_value", sa.Text, nullable=True),  # ciphertext of the JSON text
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("acquired_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

# --- channel notifications (bot/notify/) ---------------------------------------------------------------

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("team_id", sa.String(32), nullable=False),
    sa.Column("channel_id", sa.String(32), nullable=False),
    sa.Column("channel_name", sa.String(255), nullable=True),
    sa.Column("channel_private", sa.Boolean, nullable=False),
    sa.Column("resource_id", sa.String(32), nullable=False, index=True),
    sa.Column("resource_name", sa.String(255), nullable=False),
    # tags, exclude_authors, unassigned_only (see bot/notify/filters.py)
    sa.Column("filters", _json, nullable=False),
    sa.Column("broadcast", sa.Boolean, nullable=False),
    sa.Column("deleted_mode", sa.String(8), nullable=False),  # "strike" | "remove"
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Notes created before this moment (RingCentral's time) are not posted: a subscription starts from now.
    sa.Column("start_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # "active" | "paused"
    sa.Column("paused_reason", sa.String(64), nullable=True),
    sa.Column("paused_at", UtcDateTime, nullable=True),
    sa.Column("last_delivery_at", UtcDateTime, nullable=True),  # to within a minute (`finish_delivered`)
    sa.Column("last_error", sa.String(255), nullable=True),
    sa.Column("last_error_at", UtcDateTime, nullable=True),
    # two_way, digest, quiet hours, tz (see bot/notify/options.py); NULL: none of them (revision 0004)
    sa.Column("options", _json, nullable=True),
    # The rule that allowed the last subscribe (bot/notify/service.py: SMS recipient, sees its threads,
    # workspace admin); NULL for subscriptions made before revision 0005.
    sa.Column("granted_by", sa.String(64), nullable=True),
    sa.UniqueConstraint("team_id", "channel_id", "resource_id"),
)

# One row per change to post: (subscription, note id, note version) is the idempotency key, so a poll that
# sees a change twice (overlapping sync windows, reconciliation, a crash before the cursor moved) adds
# nothing.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("note_id", sa.String(80), nullable=False),  # "thread:<id>" for a thread state change
    sa.Column("version", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # "note" | "deleted" | "thread"
    sa.Column("thread_id", sa.String(64), nullable=False),
    sa.Column("payload", _json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # "pending" | "done" | "skipped" | "failed"
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("attempted_at", UtcDateTime, nullable=True),  # set before posting (crash repair)
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),
    sa.Column("done_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.String(255), nullable=True),
    sa.UniqueConstraint("subscription_id", "note_id", "version"),
    sa.Index(None, "status", "id"),
    sa.Index(None, "done_at"),  # retention: finished rows by age (revision 0008)
)

# The Slack thread of each RingCentral thread in each channel: its parent message.
slack_threads = sa.Table(
    "slack_threads",
    metadata,
    sa.Column("team_id", sa.String(32), primary_key=True),
    sa.Column("channel_id", sa.String(32), primary_key=True),
    sa.Column("thread_id", sa.String(64), primary_key=True),
    sa.Column("parent_ts", sa.String(32), nullable=False),
    sa.Column("first_note_id", sa.String(64), nullable=False),
    sa.Column("muted", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),  # index: retention (revision 0008)
    sa.UniqueConstraint("team_id", "channel_id", "parent_ts"),
    sa.Index(None, "thread_id"),  # a thread's Slack threads in every channel (revision 0008)
)

# Each posted note's Slack message, and what it shows now (to update it in place).
note_messages = sa.Table(
    "note_messages",
    metadata,
    sa.Column("team_id", sa.String(32), primary_key=True),
    sa.Column("channel_id", sa.String(32), primary_key=True),
    sa.Column("note_id", sa.String(64), primary_key=True),
    sa.Column("thread_id", sa.String(64), nullable=False),
    sa.Column("ts", sa.String(32), nullable=False),
    sa.Column("version", sa.String(40), nullable=False),
    sa.Column("is_parent", sa.Boolean, nullable=False),
    sa.Column("note", _json, nullable=False),  # the note as last shown (text, author, times)
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # True: shown as a line of a quiet-hours summary (`ts` is the summary's), not as its own message
    sa.Column("in_summary", sa.Boolean, nullable=False, server_default=sa.false()),
    # Revision 0008: a note's messages in every channel (the feed asks for each note it routes), a thread's
    # messages (retention, inferred deletions) and messages by age (retention).
    sa.Index(None, "note_id"),
    sa.Index(None, "thread_id"),
    sa.Index(None, "updated_at"),
)
# The lines of each quiet-hours summary (`summary_lines`, and retention, which keeps a summary whole): only
# the rows shown in a summary are indexed (revision 0008).
sa.Index(
    "ix_note_messages_summary",
    note_messages.c.team_id,
    note_messages.c.channel_id,
    note_messages.c.ts,
    sqlite_where=sa.text("in_summary = 1"),  # spelled as SQLAlchemy spells the test, so SQLite matches it
    postgresql_where=sa.text("in_summary"),
)
# A note's Slack message per channel is identified by these (the upsert key of every write to the table).
NOTE_MESSAGE_KEY = (note_messages.c.team_id, note_messages.c.channel_id, note_messages.c.note_id)

# What the feed knows of each RingCentral thread (owner resource, state, assignee): routes notes to the
# subscriptions of the thread's resource and renders parent messages. Refreshed when a thread is unknown.
rc_threads = sa.Table(
    "rc_threads",
    metadata,
    sa.Column("thread_id", sa.String(64), primary_key=True),
    sa.Column("resource_id", sa.String(32), nullable=False, index=True),
    sa.Column("data", _json, nullable=False),  # the Thread model as JSON
    sa.Column("updated_at", UtcDateTime, nullable=False, index=True),  # index: retention (revision 0008)
    # the feed (RingCentral account) that saw it: "" the deployment's own (revision 0010, issue 16)
    sa.Column("account_id", sa.String(32), primary_key=True, server_default=""),
)

# Per-resource health of the feed: last success, last error, and backoff after errors.
feed_resources = sa.Table(
    "feed_resources",
    metadata,
    sa.Column("resource_id", sa.String(32), primary_key=True),
    sa.Column("last_ok_at", UtcDateTime, nullable=True),
    sa.Column("last_reconciled_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.String(255), nullable=True),
    sa.Column("error_count", sa.Integer, nullable=False),
    sa.Column("next_retry_at", UtcDateTime, nullable=True),
    sa.Column("account_id", sa.String(32), primary_key=True, server_default=""),  # as rc_threads'
)

# --- many workspaces (Slack OAuth, bot/slack/install.py) -------------------------------------------------
# slack-sdk's Installation and Bot, as JSON, stored only as ciphertext (tokens included); the ids beside it
# are what lookups need. "" stands for "none" in the key columns (no enterprise, an org-wide install).

slack_installations = sa.Table(
    "slack_installations",
    metadata,
    sa.Column("enterprise_id", sa.String(32), primary_key=True),
    sa.Column("team_id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),  # who installed (or re-authorised)
    sa.Column("data", sa.Text, nullable=False),  # ciphertext of the Installation's JSON
    sa.Column("installed_at", UtcDateTime, nullable=False),
)

slack_bots = sa.Table(
    "slack_bots",
    metadata,
    sa.Column("enterprise_id", sa.String(32), primary_key=True),
    sa.Column("team_id", sa.String(32), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),  # ciphertext of the Bot's JSON (bot token)
    sa.Column("installed_at", UtcDateTime, nullable=False),
)

# One-time `state` values of the Slack install flow, kept only as a SHA-256 hash.
slack_oauth_states = sa.Table(
    "slack_oauth_states",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("used_at", UtcDateTime, nullable=True),
)

# --- two-way threads, digests, quiet hours (revision 0004) --------------------------------------------------

# A person's reply in a subscribed Slack thread and the note it became. The row is inserted (note_id NULL,
# state "creating") *before* the note is created: a retried or duplicated Slack event finds it and does
# nothing, and the sender waits for the note id instead of posting the note back as a copy.
slack_notes = sa.Table(
    "slack_notes",
    metadata,
    sa.Column("team_id", sa.String(32), primary_key=True),
    sa.Column("channel_id", sa.String(32), primary_key=True),
    sa.Column("ts", sa.String(32), primary_key=True),  # the person's Slack message
    sa.Column("thread_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("note_id", sa.String(64), nullable=True, index=True),
    sa.Column("state", sa.String(16), nullable=False),  # "creating" | "created" | "refused" | "deleted"
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# One handoff digest per subscription and local day: the row is the claim, so replicas post it once.
digest_runs = sa.Table(
    "digest_runs",
    metadata,
    sa.Column(
        "subscription_id", sa.Integer, sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("day", sa.String(10), primary_key=True),  # the subscription's local date, YYYY-MM-DD
    sa.Column("ts", sa.String(32), nullable=True),
    sa.Column("threads", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# --- signatures of Slack requests already handled (revision 0007, bot/store/replays.py) ---------------------
# A replay of a signed request is refused by every replica, not only the one that saw it first. Only a SHA-256
# hash of the signature is kept, and only while Slack's 5-minute window could still accept its timestamp.
seen_signatures = sa.Table(
    "seen_signatures",
    metadata,
    sa.Column("signature_hash", sa.String(64), primary_key=True),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# --- workspaces with their own RingCentral account (revision 0009, bot/store/tenant_accounts.py) ------------
# A Slack workspace (or org) linked to a RingCentral account: the service user's credential, as ciphertext.
# No row: the workspace uses the deployment's account (RINGCENTRAL_JWT).
tenant_accounts = sa.Table(
    "tenant_accounts",
    metadata,
    sa.Column("team_id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),  # "jwt" | "oauth"
    sa.Column("credential", sa.Text, nullable=False),  # ciphertext: the JWT, or the OAuth TokenSet's JSON
    sa.Column("extension_id", sa.String(32), nullable=False),  # the service user
    sa.Column("account_name", sa.String(255), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # "active" | "paused"
    sa.Column("paused_reason", sa.String(255), nullable=True),
    sa.Column("linked_by", sa.String(32), nullable=False),
    sa.Column("linked_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # bumped by every credential change: compare-and-set
)
