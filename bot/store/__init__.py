"""Persistence: SQLAlchemy 2 Core over SQLite (default) or PostgreSQL, Alembic migrations, encrypted tokens.

    store = await Store.open(settings.database_url, settings.secret_keys)
    ...
    await store.close()

Layout: `urls.py` (plain URL → async driver), `engine.py` (per-backend connection settings), `schema.py`
(tables), `migrations/` (Alembic revisions; see `migrate.py` for adding one), `crypto.py` (`TokenCipher`),
`errors.py` (the error tree and the one translation boundary), and one module per domain, named for what it
keeps, whose methods `Store` (`store.py`) combines: `links.py`, `oauth.py`, `audit.py`, `state.py`,
`leases.py`, `slack_installs.py`, `subscriptions.py`, `outbox.py`, `slack_messages.py` (Slack threads and
note messages), `feed_state.py` (the thread cache, each resource's health), `slack_notes.py` (two-way),
`quiet_hours.py`, `digests.py`, `replays.py` (the replay guard's hashed signatures), `tenants.py` (a
workspace's rows, counted and forgotten), `tenant_accounts.py` (a workspace's own RingCentral account),
`retention.py` (what delivery leaves behind, pruned after THREAD_NOTE_RETENTION_DAYS). Consumers are
typed against the `Protocol`s in `protocols.py` (one per domain, combined per consumer), not against `Store`;
only the composition roots hold a `Store`.

New tables: add them to `schema.py`, add a revision with
`python -m bot.store.migrations revision --autogenerate -m "…"`, add a domain module, mix it into `Store`, and
list the methods consumers call in a `Protocol` in `protocols.py`.
"""

from bot.store.audit import AuditAction, AuditEntry
from bot.store.crypto import TokenCipher
from bot.store.errors import (
    Conflict,
    InvalidOAuthState,
    NotFoundInStore,
    StaleLink,
    StoreError,
    StoreUnavailable,
    UndecryptableSecret,
)
from bot.store.leases import Lease
from bot.store.links import Link, Tokens
from bot.store.oauth import OAuthState
from bot.store.store import Store
from bot.store.tenant_accounts import TenantAccount

__all__ = [
    "AuditAction",
    "AuditEntry",
    "Conflict",
    "InvalidOAuthState",
    "Lease",
    "Link",
    "NotFoundInStore",
    "OAuthState",
    "StaleLink",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TenantAccount",
    "TokenCipher",
    "Tokens",
    "UndecryptableSecret",
]
