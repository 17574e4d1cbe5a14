"""`thread-note-bot serve`: settings checked, the database and the operators' address tried once, then the web
app (bot/web.py) under uvicorn until a signal stops it.

Apart from bot/app.py (the composition root) and bot/web.py (the ASGI app) so that neither imports the
other's caller: cli → serve → web → app.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from bot.config import ConfigError, Settings, load_settings, serve_required, split_host_port
from bot.logs import get_logger
from bot.store import Store, StoreError
from bot.web import create_web_app

log = get_logger(__name__)


def run_serve(
    host: str, port: int | None, env_file: str | None = ".env", metrics_address: str | None = None
) -> int:
    overrides = {"THREAD_NOTE_METRICS_ADDRESS": metrics_address} if metrics_address else {}
    settings = load_settings(env_file=env_file, **overrides)
    settings.require(*serve_required(settings))
    return serve(settings, host=host, port=port if port is not None else settings.port)


def serve(settings: Settings, host: str, port: int) -> int:
    if settings.metrics_address:
        _can_listen(settings.metrics_address)
    _database_opens(settings)
    log.info("serve.start", host=host, port=port, mode="socket" if settings.socket_mode else "http")
    uvicorn.run(create_web_app(settings), host=host, port=port, log_config=None, ws="websockets-sansio")
    return 0


def _database_opens(settings: Settings) -> None:
    """Open (and migrate) the database once before the server starts, so that an unreachable or refused
    database is one line naming THREAD_NOTE_DATABASE_URL and exit status 2, not a lifespan traceback; the
    supervisor's restart then tries again."""

    async def probe() -> None:
        store = await Store.open(settings.database_url, [k.get_secret_value() for k in settings.secret_keys])
        await store.close()

    try:
        asyncio.run(probe())
    except StoreError as exc:
        raise ConfigError(str(exc)) from None


def _can_listen(address: str) -> None:
    """Refuse at once (one line naming the setting) when THREAD_NOTE_METRICS_ADDRESS cannot be opened,
    instead of a traceback from the lifespan after the bot has started."""
    host, port = split_host_port(address)
    try:
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET):
            pass
    except OSError as exc:
        raise ConfigError(
            f"THREAD_NOTE_METRICS_ADDRESS={address} could not be opened ({exc.strerror or exc}): pick a free "
            "host:port of this machine, such as 127.0.0.1:9100."
        ) from None
