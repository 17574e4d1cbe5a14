"""A feed per RingCentral account (issue 16): the thread cache (`rc_threads`) and each resource's poll health
(`feed_resources`) carry the account whose feed wrote them, `account_id`, in their primary keys. "" is the
deployment's own account (RINGCENTRAL_JWT): every existing row is its, so an upgrade changes nothing for it
(its sync token and cursor keep their names in `kv_state`, and nothing is synced again).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {"rc_threads": "thread_id", "feed_resources": "resource_id"}


def upgrade() -> None:
    for table, key in KEYS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("account_id", sa.String(length=32), nullable=False, server_default="")
            )
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", [key, "account_id"])


def downgrade() -> None:
    for table, key in KEYS.items():
        # Only the deployment's rows fit the old keys; other accounts' are a cache and health, rebuilt.
        op.execute(sa.text(f"DELETE FROM {table} WHERE account_id <> ''"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", [key])
            batch_op.drop_column("account_id")
