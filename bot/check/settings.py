"""Settings, read the way `serve` reads them, every malformed or missing one named; the signing secret's
format (Slack never says whether a secret matches)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from bot.config import ConfigError, Settings, load_settings, serve_required, type_alias


def read_settings(env_file: str | None = ".env") -> tuple[Settings | None, list[str]]:
    """Settings as `serve` reads them, and one line per malformed or missing setting (all of them)."""
    overrides: dict[str, Any] = {}
    problems: list[str] = []
    named: set[str] = set()
    settings: Settings | None = None
    for _ in range(len(Settings.model_fields) + 1):
        try:
            settings = load_settings(env_file=env_file, **overrides)
            break
        except ConfigError as exc:
            alias = type_alias(str(exc).split(" ", 1)[0])
            field = next((n for n, f in Settings.model_fields.items() if f.validation_alias == alias), None)
            if field is None or alias in overrides:
                problems.append(str(exc))
                return None, problems
            problems.append(str(exc))
            named.add(alias)
            overrides[alias] = Settings.model_fields[field].default  # check the rest as if it were unset
    if settings is None:
        return None, problems
    for name in serve_required(settings):
        if name in named:
            continue
        try:
            settings.require(name)
        except ConfigError as exc:
            problems.append(str(exc))
            named.add(name)
    if settings.slack_signing_secret is not None and "SLACK_SIGNING_SECRET" not in named:
        problem = signing_secret_problem(
            settings.slack_signing_secret.get_secret_value(), _is_slack(settings)
        )
        if problem:
            problems.append(f"SLACK_SIGNING_SECRET {problem}")
            named.add("SLACK_SIGNING_SECRET")
    return settings, problems


def _is_slack(settings: Settings) -> bool:
    host = urlsplit(settings.slack_api_url).hostname or ""
    return host == "slack.com" or host.endswith(".slack.com")


def signing_secret_problem(secret: str, real_slack: bool = True) -> str | None:
    """What is wrong with a signing secret's format, or None. Slack's are 32 lowercase hex characters; a
    stand-in (`SLACK_API_URL` elsewhere) may use its own, so there only the common mix-ups are caught."""
    what = "the Signing Secret from the Slack app's Basic Information page (App Credentials)"
    if secret != secret.strip() or any(c in secret for c in " \t\r\n\"'"):
        return f"holds spaces, quotes or line breaks: paste only {what}."
    for prefix, kind in (
        ("xoxb-", "a bot token"),
        ("xoxp-", "a user token"),
        ("xapp-", "an app-level token"),
    ):
        if secret.startswith(prefix):
            return f"is {kind} ({prefix}…), not a signing secret: use {what}."
    if re.fullmatch(r"[A-Za-z0-9]{24}", secret) and not re.fullmatch(r"[0-9a-f]{24}", secret):
        return f"looks like the deprecated Verification Token (24 characters): use {what}."
    if real_slack and not re.fullmatch(r"[0-9a-f]{32}", secret):
        return f"is not 32 hexadecimal characters, as Slack's signing secrets are: use {what}."
    if not real_slack and len(secret) < 16:
        return f"is too short for a signing secret: use {what}."
    return None
