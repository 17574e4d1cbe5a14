"""Composition root: builds the store, RingCentral clients, Slack app and scheduler from Settings."""

from __future__ import annotations

from bot.config import SERVE_REQUIRED, load_settings


def run_serve(host: str, port: int | None) -> int:
    settings = load_settings(SERVE_REQUIRED)
    from bot.web import serve

    return serve(settings, host=host, port=port if port is not None else settings.port)
