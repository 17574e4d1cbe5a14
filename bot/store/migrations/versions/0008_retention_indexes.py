"""Indexes for retention (`bot/store/retention.py`): finished outbox rows by age, note messages by age and by
thread, the lines of each quiet-hours summary, Slack threads by age and by RingCentral thread, cached threads
by age; and for the poll: note messages by note (the feed asks for every note it routes: without it each
question read the whole table).

No table changes. Building them reads each table once: on PostgreSQL `CREATE INDEX` blocks writes to that
table meanwhile (seconds for a million rows), so a big installation upgrades in a quiet moment.

Revision ID: 0008
Revises: 0007_replay_guard
Create Date: 2026-12-02 11:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007_replay_guard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("note_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_note_messages_summary",
            ["team_id", "channel_id", "ts"],
            unique=False,
            sqlite_where=sa.text("in_summary = 1"),
            postgresql_where=sa.text("in_summary"),
        )
        batch_op.create_index(batch_op.f("ix_note_messages_note_id"), ["note_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_note_messages_thread_id"), ["thread_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_note_messages_updated_at"), ["updated_at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_done_at"), ["done_at"], unique=False)
    with op.batch_alter_table("rc_threads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rc_threads_updated_at"), ["updated_at"], unique=False)
    with op.batch_alter_table("slack_threads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_threads_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_slack_threads_thread_id"), ["thread_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_threads_thread_id"))
        batch_op.drop_index(batch_op.f("ix_slack_threads_created_at"))
    with op.batch_alter_table("rc_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rc_threads_updated_at"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_done_at"))
    with op.batch_alter_table("note_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_messages_updated_at"))
        batch_op.drop_index(batch_op.f("ix_note_messages_thread_id"))
        batch_op.drop_index(batch_op.f("ix_note_messages_note_id"))
        batch_op.drop_index("ix_note_messages_summary")
