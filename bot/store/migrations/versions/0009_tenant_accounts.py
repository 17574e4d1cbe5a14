"""Workspaces that bring their own RingCentral account (issue 16): one row per Slack workspace (or org) linked
to a RingCentral account, with the service user's credential (a JWT, or OAuth tokens as JSON) as ciphertext.

A workspace without a row keeps the deployment's account (RINGCENTRAL_JWT), as before this revision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_accounts",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("credential", sa.Text(), nullable=False),
        sa.Column("extension_id", sa.String(length=32), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.String(length=255), nullable=True),
        sa.Column("linked_by", sa.String(length=32), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_tenant_accounts")),
    )
    with op.batch_alter_table("tenant_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tenant_accounts_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tenant_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_accounts_account_id"))
    op.drop_table("tenant_accounts")
