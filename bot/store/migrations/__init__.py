"""Alembic revisions of the store's schema (see `bot.store.migrate`). `python -m bot.store.migrations …`."""
