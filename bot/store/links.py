"""Links between a Slack user (team, user) and their RingCentral extension, with encrypted tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping

from bot.store._base import StoreBase, upsert
from bot.store.errors import NotFoundInStore, StaleLink
from bot.store.schema import rc_links


@dataclass(frozen=True)
class Tokens:
    """A user's RingCentral tokens, decrypted. `repr` shows only the expiry times."""

    access_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: datetime | None = None

    @classmethod
    def from_lifetimes(
        cls,
        *,
        now: datetime,
        access_token: str,
        expires_in: int,
        refresh_token: str | None = None,
        refresh_token_expires_in: int | None = None,
    ) -> Tokens:
        """From a token response's `expires_in` seconds (the names match `TokenSet`'s fields)."""
        return cls(
            access_token=access_token,
            access_expires_at=now + timedelta(seconds=expires_in),
            refresh_token=refresh_token,
            refresh_expires_at=(
                now + timedelta(seconds=refresh_token_expires_in)
                if refresh_token_expires_in is not None
                else None
            ),
        )


@dataclass(frozen=True)
class Link:
    """A Slack user's RingCentral identity. `version` is what `update_link_tokens` compares against."""

    team_id: str
    user_id: str
    extension_id: str
    extension_name: str | None
    tokens: Tokens
    version: int
    connected_at: datetime
    updated_at: datetime


class LinkQueries(StoreBase):
    async def save_link(
        self, team_id: str, user_id: str, *, extension_id: str, extension_name: str | None, tokens: Tokens
    ) -> Link:
        """Create or replace the user's link (a fresh connect); an existing link's version moves on."""
        now = self._now()
        values = {
            "team_id": team_id,
            "user_id": user_id,
            "extension_id": extension_id,
            "extension_name": extension_name,
            **self._encrypted(tokens),
            "version": 1,
            "connected_at": now,
            "updated_at": now,
        }
        async with self._tx() as conn:
            stmt = upsert(conn, rc_links).values(values)
            replaced = {k: stmt.excluded[k] for k in values if k not in ("team_id", "user_id", "version")}
            stmt = stmt.on_conflict_do_update(
                index_elements=[rc_links.c.team_id, rc_links.c.user_id],
                set_={**replaced, "version": rc_links.c.version + 1},
            ).returning(*rc_links.c)
            row = (await conn.execute(stmt)).one()
        return self._link(row._mapping)

    async def get_link(self, team_id: str, user_id: str) -> Link | None:
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(rc_links).where(*_key(team_id, user_id)))).first()
        return None if row is None else self._link(row._mapping)

    async def update_link_tokens(
        self, team_id: str, user_id: str, tokens: Tokens, *, expected_version: int
    ) -> Link:
        """Store refreshed tokens if the link is still at `expected_version` (compare-and-set).

        Two refreshes racing: the first to commit wins; the other gets `StaleLink` and should read the link
        again and use the winner's tokens. `NotFoundInStore` when the user disconnected meanwhile.
        """
        async with self._tx() as conn:
            stmt = (
                rc_links.update()
                .where(*_key(team_id, user_id), rc_links.c.version == expected_version)
                .values(**self._encrypted(tokens), version=rc_links.c.version + 1, updated_at=self._now())
                .returning(*rc_links.c)
            )
            row = (await conn.execute(stmt)).first()
            if row is None:
                found = await conn.scalar(sa.select(rc_links.c.version).where(*_key(team_id, user_id)))
                if found is None:
                    raise NotFoundInStore(f"no RingCentral link for Slack user {user_id} in team {team_id}")
                raise StaleLink(f"link of {user_id} is at version {found}, not {expected_version}")
        return self._link(row._mapping)

    async def delete_link(self, team_id: str, user_id: str, *, expected_version: int | None = None) -> bool:
        """Forget the link (disconnect); with `expected_version`, only while the link is still at that version
        (compare-and-set, as `update_link_tokens`). False when nothing was deleted."""
        where = [*_key(team_id, user_id)]
        if expected_version is not None:
            where.append(rc_links.c.version == expected_version)
        async with self._tx() as conn:
            result = await conn.execute(rc_links.delete().where(*where))
        return bool(result.rowcount)

    async def delete_team_links(self, team_id: str) -> int:
        """Forget every person's link in the workspace (it changed RingCentral account: each was to an
        extension of the account it used before). How many there were."""
        async with self._tx() as conn:
            result = await conn.execute(rc_links.delete().where(rc_links.c.team_id == team_id))
        return int(result.rowcount or 0)

    async def users_linked_to(self, extension_id: str) -> list[tuple[str, str]]:
        """(team id, user id) of every Slack user linked to this RingCentral extension (one person may use
        several workspaces). Reads no token, so a link no key decrypts does not stand in the way."""
        async with self._tx() as conn:
            rows = await conn.execute(
                sa.select(rc_links.c.team_id, rc_links.c.user_id)
                .where(rc_links.c.extension_id == extension_id)
                .order_by(rc_links.c.team_id, rc_links.c.user_id)
            )
            return [(r.team_id, r.user_id) for r in rows]

    def _encrypted(self, tokens: Tokens) -> dict[str, Any]:
        refresh = tokens.refresh_token
        return {
            "access_token": self._cipher.encrypt(tokens.access_token),
            "refresh_token": None if refresh is None else self._cipher.encrypt(refresh),
            "access_expires_at": tokens.access_expires_at,
            "refresh_expires_at": tokens.refresh_expires_at,
        }

    def _link(self, row: RowMapping) -> Link:
        refresh = row["refresh_token"]
        return Link(
            team_id=row["team_id"],
            user_id=row["user_id"],
            extension_id=row["extension_id"],
            extension_name=row["extension_name"],
            tokens=Tokens(
                access_token=self._cipher.decrypt(row["access_token"]),
                access_expires_at=row["access_expires_at"],
                refresh_token=None if refresh is None else self._cipher.decrypt(refresh),
                refresh_expires_at=row["refresh_expires_at"],
            ),
            version=row["version"],
            connected_at=row["connected_at"],
            updated_at=row["updated_at"],
        )


def _key(team_id: str, user_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (rc_links.c.team_id == team_id, rc_links.c.user_id == user_id)
