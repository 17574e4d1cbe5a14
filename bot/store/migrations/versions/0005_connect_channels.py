"""Connect confirmation and reusable sign-in links: `pending_links` (a RingCentral sign-in waiting for the
person to confirm which Slack user it links) and `oauth_states.state_cipher` (the App Home's sign-in link
is reused while it lives, instead of a new state on every open).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("extension_id", sa.String(length=32), nullable=False),
        sa.Column("extension_name", sa.String(length=255), nullable=True),
        sa.Column("extension_number", sa.String(length=32), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_action", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_pending_links")),
    )
    with op.batch_alter_table("pending_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_links_expires_at"), ["expires_at"], unique=False)
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state_cipher", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_column("state_cipher")
    with op.batch_alter_table("pending_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_links_expires_at"))
    op.drop_table("pending_links")
