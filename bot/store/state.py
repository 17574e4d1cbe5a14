"""Small named state: a sync cursor, the service identity's cached tokens (encrypted), and so on."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from bot.store._base import StoreBase, put
from bot.store.schema import kv_state


class NamedState(StoreBase):
    async def get_state(self, name: str) -> Any:
        """The JSON value stored under `name` (decrypted if it was stored secret), or None."""
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(kv_state.c.value, kv_state.c.secret_value).where(kv_state.c.name == name)
                )
            ).first()
        if row is None:
            return None
        if row.secret_value is not None:
            return json.loads(self._cipher.decrypt(row.secret_value))
        return row.value

    async def get_states(self, names: Iterable[str]) -> dict[str, Any]:
        """The plain (not secret) values stored under `names`, in one query: those stored, by name."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        async with self._tx() as conn:
            rows = await conn.execute(
                sa.select(kv_state.c.name, kv_state.c.value).where(
                    kv_state.c.name.in_(wanted), kv_state.c.secret_value.is_(None)
                )
            )
            return {name: value for name, value in rows}

    async def set_state(self, name: str, value: Any, *, secret: bool = False) -> None:
        """Store a JSON-serialisable value; `secret=True` keeps it only as ciphertext."""
        values = {
            "name": name,
            "value": None if secret else value,
            "secret_value": self._cipher.encrypt(json.dumps(value)) if secret else None,
            "updated_at": self._now(),
        }
        async with self._tx() as conn:
            await put(conn, kv_state, values, key=[kv_state.c.name])

    async def delete_state(self, name: str) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(kv_state.delete().where(kv_state.c.name == name))
        return bool(result.rowcount)
