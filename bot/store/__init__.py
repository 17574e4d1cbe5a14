"""Persistence: SQLAlchemy 2 Core over SQLite (default) or PostgreSQL, Alembic migrations, encrypted tokens.

    store = await Store.open(settings.database_url, settings.secret_keys)
    ...
    await store.close()

Layout: `urls.py` (plain URL → async driver), `engine.py` (per-backend connection settings), `schema.py`
(tables), `migrations/` (Alembic revisions; see `migrate.py` for adding one), `crypto.py` (`TokenCipher`),
`errors.py` (the error tree and the one translation boundary), and one module per domain (`links.py`,
`oauth.py`, `audit.py`, `state.py`, `leases.py`) whose methods `Store` (`store.py`) combines.

New tables (subscriptions, outbox, Slack message map, …): add them to `schema.py`, add a revision with
`python -m bot.store.migrations revision --autogenerate -m "…"`, add a domain module and mix it into `Store`.
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
    "TokenCipher",
    "Tokens",
    "UndecryptableSecret",
]
