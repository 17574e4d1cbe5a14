"""Slack: the bot token (`auth.test`), its scopes against `manifest.yml`, the app-level token in Socket
Mode, and the signing secret's (format only) line."""

from __future__ import annotations

import httpx

from bot.check.results import TIMEOUT, Result, bad, json_body, ok, reason
from bot.config import Settings

# The bot scopes `manifest.yml` asks for (tests/check pins this list to the manifest).
MANIFEST_BOT_SCOPES = (
    "commands",
    "chat:write",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",  # connect: a sign-in whose email differs from the Slack person's is refused
    "reactions:write",
)


def _slack_call(settings: Settings, method: str, token: str) -> httpx.Response:
    url = settings.slack_api_url.rstrip("/") + "/" + method
    return httpx.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)


def check_slack(settings: Settings, broken: set[str] | None = None) -> list[Result]:
    """`broken`: settings already reported as wrong (their own lines are left out here)."""
    broken = broken or set()
    assert settings.slack_bot_token is not None
    api = settings.slack_api_url
    try:
        response = _slack_call(settings, "auth.test", settings.slack_bot_token.get_secret_value())
    except httpx.HTTPError as exc:
        return [
            bad(
                f"Slack: cannot reach {api} ({reason(exc)}): check SLACK_API_URL (default "
                "https://slack.com/api/) and this machine's network or proxy."
            )
        ]
    data = json_body(response)
    if response.status_code != 200 or not isinstance(data, dict):
        return [_slack_http_problem(api, "auth.test", response)]
    if not data.get("ok"):
        error = str(data.get("error") or "unknown error")
        hint = {
            "invalid_auth": "copy the Bot User OAuth Token again (OAuth & Permissions) into SLACK_BOT_TOKEN",
            "not_authed": "set SLACK_BOT_TOKEN to the Bot User OAuth Token",
            "token_revoked": "the token was revoked: reinstall the app and copy the new token",
            "account_inactive": "the app was uninstalled: reinstall it and copy the new token",
        }.get(error, "check SLACK_BOT_TOKEN")
        return [bad(f"Slack: SLACK_BOT_TOKEN is refused ({error}): {hint}.")]
    results = [ok(f"Slack: the bot token works (@{data.get('user', '?')} in {data.get('team', '?')})")]
    granted = response.headers.get("x-oauth-scopes")
    if granted is None:
        results.append(
            ok("Slack: scopes not listed by this server (Slack itself lists them; nothing to compare)")
        )
    else:
        have = {s.strip() for s in granted.split(",") if s.strip()}
        missing = [s for s in MANIFEST_BOT_SCOPES if s not in have]
        if missing:
            results.append(
                bad(
                    f"Slack: the bot token lacks {', '.join(missing)}: add them under OAuth & Permissions "
                    "(or create the app from manifest.yml), reinstall the app and copy the new token."
                )
            )
        else:
            results.append(
                ok(f"Slack: the token has every scope manifest.yml asks for ({len(MANIFEST_BOT_SCOPES)})")
            )
    if settings.slack_app_token is not None:
        results.append(_check_app_token(settings, settings.slack_app_token.get_secret_value()))
    if "SLACK_SIGNING_SECRET" in broken or settings.slack_signing_secret is None:
        return results  # reported with the settings, or not needed (Socket Mode)
    results.append(
        ok(
            "Slack: SLACK_SIGNING_SECRET looks right; only Slack's first request can prove it "
            "(\u201cdispatch_failed\u201d in Slack means copy it again)"
        )
    )
    return results


def _slack_http_problem(api: str, method: str, response: httpx.Response) -> Result:
    """A Slack answer that is not Slack's JSON: a rate limit, Slack's own trouble, or not Slack at all."""
    status = response.status_code
    if status == 429:
        wait = response.headers.get("retry-after")
        when = f"wait {wait} s" if wait and wait.isdigit() else "wait a minute"
        return bad(f"Slack: rate-limited on {method} (HTTP 429): {when}, then run check again.")
    if status >= 500:
        return bad(
            f"Slack: {api}{method} answered HTTP {status}: Slack is having trouble (status.slack.com); "
            "run check again in a few minutes."
        )
    return bad(
        f"Slack: {api}{method} answered HTTP {status}, not Slack's JSON: check SLACK_API_URL "
        "(default https://slack.com/api/)."
    )


def _check_app_token(settings: Settings, token: str) -> Result:
    try:
        response = _slack_call(settings, "apps.connections.open", token)
    except httpx.HTTPError as exc:
        return bad(f"Slack: cannot reach {settings.slack_api_url} for Socket Mode ({reason(exc)}).")
    data = json_body(response)
    if response.status_code != 200 or not isinstance(data, dict):
        return _slack_http_problem(settings.slack_api_url, "apps.connections.open", response)
    if isinstance(data, dict) and data.get("ok"):
        return ok("Slack: Socket Mode works (SLACK_APP_TOKEN opens a connection)")
    error = data.get("error") if isinstance(data, dict) else f"HTTP {response.status_code}"
    return bad(
        f"Slack: SLACK_APP_TOKEN is refused ({error}): create an app-level token with connections:write "
        "(Basic Information → App-Level Tokens) and turn Socket Mode on, or unset it for HTTP mode."
    )
