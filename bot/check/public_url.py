"""The public URL: set, https (plain http only on this machine), the bot's base URL, and `/healthz` of the
running bot answering (not asked with `--before-start`)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from bot.check.results import TIMEOUT, Result, bad, json_body, ok, reason
from bot.config import Settings

_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


def check_public_url(settings: Settings, before_start: bool = False) -> Result:
    """Set (people connect through its OAuth callback, in Socket Mode too), https, and, once the bot runs,
    answering `/healthz`. `before_start`: the bot is not running yet, so only the first two are checked."""
    url = settings.public_url
    if url is None:
        if settings.socket_mode:
            return bad(
                "Public URL: THREAD_NOTE_PUBLIC_URL is not set, so nobody can connect a RingCentral account "
                "(RingCentral sends the sign-in back to its /ringcentral/oauth/callback, in Socket Mode "
                "too): set it to the bot's https URL."
            )
        return bad(
            "Public URL: THREAD_NOTE_PUBLIC_URL is not set, so Slack cannot reach /slack/events in HTTP "
            "mode: set it to the bot's https URL, or use Socket Mode (SLACK_APP_TOKEN)."
        )
    parts = urlsplit(url)
    loopback = (parts.hostname or "") in _LOOPBACK
    if parts.scheme != "https" and not loopback:
        return bad(
            f"Public URL: {url} is not https: Slack and RingCentral call only https URLs; put TLS in front "
            "of the bot (a load balancer or reverse proxy) and set THREAD_NOTE_PUBLIC_URL to its https URL."
        )
    if parts.path.rstrip("/") in _BOT_PATHS:
        return bad(
            f"Public URL: THREAD_NOTE_PUBLIC_URL ends with {parts.path}: give only the bot's base URL "
            f"({parts.scheme}://{parts.netloc}); the bot adds its paths itself."
        )
    if before_start:
        return ok(f"Public URL: {url} (not asked for /healthz: --before-start)")
    return _check_healthz(url, parts.scheme != "https")


_BOT_PATHS = ("/slack/events", "/healthz", "/ringcentral/oauth/callback", "/ringcentral/webhook")


def _check_healthz(url: str, plain_http: bool) -> Result:
    try:
        response = httpx.get(f"{url}/healthz", timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return bad(
            f"Public URL: {url}/healthz is not reachable ({reason(exc)}): start `thread-note-bot serve`, "
            "check DNS and the proxy in front of it, then run check again (before the first start: "
            "check --before-start)."
        )
    data = json_body(response)
    if response.status_code == 200 and isinstance(data, dict) and data.get("ok"):
        note = " (http on this machine: fine for trying it out)" if plain_http else ""
        return ok(f"Public URL: {url}/healthz answers{note}")
    if isinstance(data, dict) and "ok" in data:
        return bad(f"Public URL: the bot at {url} reports a problem: {data}.")
    return bad(
        f"Public URL: {url}/healthz answered HTTP {response.status_code}, not the bot: point "
        "THREAD_NOTE_PUBLIC_URL (and the proxy) at thread-note-bot."
    )
