"""Settings from the environment (or a `.env` file).

Every name here is part of the interface contract in DESIGN.md. A missing or malformed setting stops
start-up with one line that names it and says what to do (`ConfigError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.store.retention import DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS

DEFAULT_DATABASE_URL = "sqlite:///thread-note-bot.db"
DEFAULT_RINGCENTRAL_SERVER_URL = "https://platform.ringcentral.com"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


class SettingProblem(ValueError):
    """A validator's complete sentence about a setting ("has a trailing space: remove it"): shown after the
    setting's name as it is, instead of "is invalid (…): set it to …"."""


_HINTS = {
    "SLACK_BOT_TOKEN": "the app's Bot User OAuth Token (xoxb-…), from OAuth & Permissions",
    "SLACK_SIGNING_SECRET": "the Signing Secret from the Slack app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-…) with connections:write, or unset it for HTTP mode",
    "SLACK_API_URL": "an http(s) URL such as https://slack.com/api/",
    "RINGCENTRAL_SERVER_URL": "an http(s) URL such as https://platform.ringcentral.com",
    "RINGCENTRAL_CLIENT_ID": "the client ID of your RingCentral app",
    "RINGCENTRAL_CLIENT_SECRET": "the client secret of your RingCentral app",
    "RINGCENTRAL_JWT": "a JWT credential of the service user (a handler of the watched resources)",
    "THREAD_NOTE_DATABASE_URL": "sqlite:///path/to/file.db or postgresql://user@host:port/db",
    "THREAD_NOTE_SECRET_KEY": (
        "one or more comma-separated Fernet keys, newest first; "
        "make one with: python -c "
        '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    ),
    "THREAD_NOTE_PUBLIC_URL": "the https URL where Slack and RingCentral reach this bot",
    "THREAD_NOTE_POLL_INTERVAL": "a number of seconds between polls, at least 1",
    "PORT": "a TCP port number from 1 to 65535",
    "SLACK_CLIENT_ID": "the Client ID from the Slack app's Basic Information page (many workspaces)",
    "SLACK_CLIENT_SECRET": "the Client Secret from the Slack app's Basic Information page",
    "THREAD_NOTE_LEASE_TTL": "a number of seconds, at least 2, after which a dead replica's work moves",
    "THREAD_NOTE_METRICS_ADDRESS": "host:port of a private listener for /metrics and /healthz's detail, "
    "such as 127.0.0.1:9100",
    "THREAD_NOTE_METRICS_TOKEN": "a long random string that Prometheus sends as `Authorization: Bearer …`",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "SLACK_ALLOWED_TEAMS": (
        "comma-separated Slack team ids (T…) and/or Enterprise org ids (E…) that may install and use the app"
    ),
    "THREAD_NOTE_ADMIN_SUBSCRIBE": "true or false: may Slack workspace admins without a RingCentral link "
    "subscribe channels",
    "THREAD_NOTE_RETENTION_DAYS": f"a whole number of days from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} "
    f"that delivered notifications are kept (default {DEFAULT_RETENTION_DAYS})",
}

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Settings whose values are pasted secrets or ids: a stray space or quote breaks them in ways that look like
# a refusal or a network problem, so they are caught here, naming the setting and never showing the value.
_PASTED = (
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "ringcentral_client_id",
    "ringcentral_client_secret",
    "ringcentral_jwt",
    "slack_client_id",
    "slack_client_secret",
)
_QUOTES = "\"'\u2018\u2019\u201c\u201d`"
_SLACK_TOKEN_KINDS = {
    "xoxb-": "a bot token",
    "xoxp-": "a user token",
    "xapp-": "an app-level token",
    "xoxe": "a refresh or configuration token",
}


def pasting_problem(value: str) -> str | None:
    """What a stray character does to a pasted secret, in words that never include the secret."""
    if not value:
        return None
    if value[0] in _QUOTES or value[-1] in _QUOTES:
        return "is wrapped in quotes: remove them"
    if value != value.rstrip():
        return "has a trailing space or line break: remove it"
    if value != value.lstrip():
        return "has a leading space: remove it"
    if any(c.isspace() for c in value):
        return "holds a space or line break in the middle: paste it again in one piece"
    if not value.isascii() or not value.isprintable():
        return (
            "holds a character that is not plain ASCII (a typographic dash or quote, or an invisible one, "
            "from a document or chat): copy it again from its source"
        )
    return None


def _slack_token_kind(value: str) -> str:
    return next((kind for prefix, kind in _SLACK_TOKEN_KINDS.items() if value.startswith(prefix)), "")


def _jwt_problem(value: str) -> str | None:
    """RingCentral's JWT credentials are three base64url parts joined by dots (header.payload.signature)."""
    parts = value.split(".")
    if len(parts) != 3 or not all(re.fullmatch(r"[A-Za-z0-9_-]+=*", p) for p in parts):
        return "is not a JWT (three base64url parts joined by dots)"
    return None


def _database_server_problem(value: str) -> str | None:
    """A PostgreSQL URL whose host or port cannot be right (a password holding `@`, a port out of range)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
        port = url.port
    except (ArgumentError, ValueError):
        return "is not a database URL: write postgresql://user:password@host:5432/database"
    if url.host and "@" in url.host:
        return "has an @ too many (in the password?): percent-encode it in the password as %40"
    if port is not None and not 1 <= port <= 65535:
        return f"has port {port}: use a TCP port from 1 to 65535 (PostgreSQL's is 5432)"
    return None


def _sqlite_problem(value: str) -> str | None:
    """`sqlite://bot.db` (two slashes) names a host, not a file: SQLAlchemy would open an empty in-memory
    database (or fail), so the mistake is named with the spelling that works."""
    parts = urlsplit(value)
    if parts.netloc:
        path = parts.netloc + parts.path
        return f"has two slashes, so {parts.netloc} reads as a host: write sqlite:///{path} (three slashes)"
    return None


def split_host_port(value: str) -> tuple[str, int]:
    """`127.0.0.1:9100`, `[::1]:9100` or `:9100` (every interface) → (host, port); ValueError otherwise."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


_SLACK_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,31}$")


def _http_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value != value.strip() or any(c in value for c in _QUOTES):
        raise SettingProblem("holds spaces or quotes: remove them")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return value


def _nonempty_url(value: str) -> str:
    url = _http_url(value)
    if url is None:
        raise ValueError("must not be empty")
    return url


class Settings(BaseSettings):
    """All settings; which ones are required depends on the command (see `require`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, validation_alias="SLACK_API_URL")
    ringcentral_server_url: str = Field(
        DEFAULT_RINGCENTRAL_SERVER_URL, validation_alias="RINGCENTRAL_SERVER_URL"
    )
    ringcentral_client_id: str | None = Field(None, validation_alias="RINGCENTRAL_CLIENT_ID")
    ringcentral_client_secret: SecretStr | None = Field(None, validation_alias="RINGCENTRAL_CLIENT_SECRET")
    ringcentral_jwt: SecretStr | None = Field(None, validation_alias="RINGCENTRAL_JWT")
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="THREAD_NOTE_DATABASE_URL")
    secret_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), validation_alias="THREAD_NOTE_SECRET_KEY"
    )
    public_url: str | None = Field(None, validation_alias="THREAD_NOTE_PUBLIC_URL")
    poll_interval: float = Field(30.0, validation_alias="THREAD_NOTE_POLL_INTERVAL", ge=1)
    port: int = Field(3000, validation_alias="PORT", ge=1, le=65535)
    # Many workspaces: Slack OAuth (install pages, per-workspace tokens kept encrypted in the database).
    slack_client_id: str | None = Field(None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, validation_alias="SLACK_CLIENT_SECRET")
    # Replicas: how long a replica's leases (polling, channel claims) outlive it; default max(3 polls, 10 s).
    lease_ttl: float | None = Field(None, validation_alias="THREAD_NOTE_LEASE_TTL", ge=2)
    # Operators' surfaces: /metrics and /healthz's detail on a private listener, or behind a bearer token.
    metrics_address: str | None = Field(None, validation_alias="THREAD_NOTE_METRICS_ADDRESS")
    metrics_token: SecretStr | None = Field(None, validation_alias="THREAD_NOTE_METRICS_TOKEN")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")

    @field_validator(*_PASTED, mode="before")
    @classmethod
    def _pasted(cls, v: object) -> object:
        text = v.get_secret_value() if isinstance(v, SecretStr) else v
        problem = pasting_problem(text) if isinstance(text, str) else None
        if problem:
            raise SettingProblem(problem)
        return v

    # How often subscribed channels are checked again (paused ones resumed, newly shared ones paused).
    channel_check_interval: float = Field(300.0, validation_alias="THREAD_NOTE_CHANNEL_CHECK_INTERVAL", ge=1)
    # Who may install and be served: Slack team ids and Enterprise org ids. Many workspaces: required for
    # any install (unset: every install is refused). One workspace: applies when set.
    allowed_teams: Annotated[tuple[str, ...], NoDecode] = Field((), validation_alias="SLACK_ALLOWED_TEAMS")
    # May a Slack workspace admin/owner without a RingCentral link subscribe channels? None: the mode's
    # default (see `admin_subscribe_allowed`).
    admin_subscribe: bool | None = Field(None, validation_alias="THREAD_NOTE_ADMIN_SUBSCRIBE")
    # How long what delivery leaves behind is kept (bot/store/retention.py); a note's link stays for as long
    # as RingCentral lets the note change, whatever this says.
    retention_days: int = Field(
        DEFAULT_RETENTION_DAYS,
        validation_alias="THREAD_NOTE_RETENTION_DAYS",
        ge=MIN_RETENTION_DAYS,
        le=MAX_RETENTION_DAYS,
    )

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr | None) -> SecretStr | None:
        value = v.get_secret_value() if v is not None else ""
        if value and not value.startswith("xoxb-"):
            kind = _slack_token_kind(value)
            if kind:
                raise SettingProblem(f"is {kind}, not the bot token: use the Bot User OAuth Token (xoxb-…)")
            raise ValueError("must start with xoxb-")
        return v or None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        value = v.get_secret_value() if v is not None else ""
        if value and not value.startswith("xapp-"):
            kind = _slack_token_kind(value)
            if kind:
                raise SettingProblem(f"is {kind}, not an app-level token (xapp-…)")
            raise ValueError("must start with xapp-")
        return v if value else None

    @field_validator("ringcentral_jwt")
    @classmethod
    def _jwt(cls, v: SecretStr | None) -> SecretStr | None:
        value = v.get_secret_value() if v is not None else ""
        problem = _jwt_problem(value) if value else None
        if problem:
            raise SettingProblem(
                f"{problem}: copy the JWT credential of the service user again (Developer Console → "
                "Credentials → JWT)"
            )
        return v if value else None

    @field_validator("ringcentral_server_url")
    @classmethod
    def _server_url(cls, v: str) -> str:
        url = _nonempty_url(v)
        path = urlsplit(url).path.rstrip("/")
        if path:
            raise SettingProblem(
                f"ends with {path}: give only the server, e.g. https://platform.ringcentral.com "
                "(the bot adds /restapi/v1.0 itself)"
            )
        return url

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, v: object) -> str:
        level = str(v or "INFO").strip().upper()
        if level not in LOG_LEVELS:
            raise SettingProblem(f"is {str(v)[:20]!r}, not a log level: use DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, v: str) -> str:
        """With its trailing slash: slack_sdk joins method names to it (…/api + auth.test would lose /api)."""
        url = _nonempty_url(v)
        return url if url.endswith("/") else url + "/"

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        url = _http_url(v)
        return url.rstrip("/") if url else None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        if v != v.strip():
            raise SettingProblem("has spaces around it: remove them")
        scheme = urlsplit(v).scheme.split("+")[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("unsupported database")
        problem = _sqlite_problem(v) if scheme == "sqlite" else _database_server_problem(v)
        if problem:
            raise SettingProblem(problem)
        return v

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _secret_keys(cls, v: object) -> tuple[SecretStr, ...]:
        if v is None or v == "":
            return ()
        raw = [k.strip() for k in str(v).split(",") if k.strip()] if isinstance(v, str) else list(v)  # type: ignore[call-overload]
        keys = []
        for k in raw:
            text = k.get_secret_value() if isinstance(k, SecretStr) else str(k)
            if text and (text[0] in _QUOTES or text[-1] in _QUOTES):
                raise SettingProblem("is wrapped in quotes: remove them")
            try:
                Fernet(text.encode())
            except (ValueError, TypeError):
                raise ValueError("not a Fernet key") from None
            keys.append(SecretStr(text))
        return tuple(keys)

    @field_validator("allowed_teams", mode="before")
    @classmethod
    def _allowed_teams(cls, v: object) -> tuple[str, ...]:
        if v is None or v == "":
            return ()
        items = [t.strip() for t in str(v).split(",")] if isinstance(v, str) else [str(t) for t in v]  # type: ignore[attr-defined]
        teams = tuple(t for t in items if t)
        for team in teams:
            if not _SLACK_TEAM_ID.match(team):
                raise ValueError(f"{team!r} is not a Slack team id (T…) or Enterprise org id (E…)")
        return teams

    @field_validator("admin_subscribe", mode="before")
    @classmethod
    def _admin_subscribe(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("slack_client_id")
    @classmethod
    def _client_id(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("slack_client_secret")
    @classmethod
    def _client_secret(cls, v: SecretStr | None) -> SecretStr | None:
        return v if v is not None and v.get_secret_value() else None

    @field_validator("metrics_address")
    @classmethod
    def _metrics_address(cls, v: str | None) -> str | None:
        if not v:
            return None
        split_host_port(v)
        return v

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        if len(v.get_secret_value()) < 16 or v.get_secret_value() != v.get_secret_value().strip():
            raise ValueError("at least 16 characters, no spaces around it")
        return v

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth(self) -> bool:
        """Many workspaces: the app installs through Slack's OAuth instead of one SLACK_BOT_TOKEN."""
        return self.slack_client_id is not None

    @property
    def admin_subscribe_allowed(self) -> bool:
        """Whether a Slack admin without RingCentral access may subscribe. Off by default with many
        workspaces (an installer's admin rights say nothing about our RingCentral account). On by default
        with one workspace: that workspace is the operator's own, whose admins already control the app and
        its token, as DESIGN.md grants them; set THREAD_NOTE_ADMIN_SUBSCRIBE=false to require a link."""
        return self.admin_subscribe if self.admin_subscribe is not None else not self.oauth

    def team_allowed(self, team_id: str | None, enterprise_id: str | None = None) -> bool:
        """Whether SLACK_ALLOWED_TEAMS lets this team (or its Enterprise org) in. Unset: no workspace with
        many workspaces, any with one (its single bot token already pins the workspace)."""
        if not self.allowed_teams:
            return not self.oauth
        return bool({team_id, enterprise_id} & set(self.allowed_teams))

    def require(self, *names: str) -> Settings:
        """Raise ConfigError naming the first of `names` (env names) that is not set."""
        fields = {f.validation_alias: name for name, f in type(self).model_fields.items()}
        for env_name in names:
            value = getattr(self, fields[env_name])
            if value is None or value == () or value == "":
                raise ConfigError(f"{env_name} is not set: set it to {_HINTS[env_name]}.")
        return self


SERVE_REQUIRED = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "RINGCENTRAL_CLIENT_ID",
    "RINGCENTRAL_CLIENT_SECRET",
    "RINGCENTRAL_JWT",
    "THREAD_NOTE_SECRET_KEY",
)


SERVE_OAUTH_REQUIRED = (
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_SIGNING_SECRET",
    "RINGCENTRAL_CLIENT_ID",
    "RINGCENTRAL_CLIENT_SECRET",
    "RINGCENTRAL_JWT",
    "THREAD_NOTE_SECRET_KEY",
)


def serve_required(settings: Settings) -> tuple[str, ...]:
    """What `serve` needs: one bot token, or (many workspaces) the app's OAuth client instead. Socket Mode
    receives Slack's requests over the app token's connection, so nothing needs signing there."""
    names: tuple[str, ...] = SERVE_OAUTH_REQUIRED if settings.oauth else SERVE_REQUIRED
    if settings.socket_mode and not settings.oauth:
        names = tuple(n for n in names if n != "SLACK_SIGNING_SECRET")
    return names


def load_settings(
    required: Iterable[str] = (), env_file: str | None = ".env", **overrides: object
) -> Settings:
    """Load settings, turning pydantic's report into one line that names the setting."""
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg,arg-type]  # env names
    except (OSError, UnicodeDecodeError) as exc:  # the settings file itself
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(
            f"the settings file {env_file} cannot be read ({reason}): check it is a text file "
            "this user may read."
        ) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        alias = type_alias(field)
        reason = str(err["msg"]).removeprefix("Value error, ")
        if isinstance((err.get("ctx") or {}).get("error"), SettingProblem):
            raise ConfigError(f"{alias} {reason}.") from None
        raise ConfigError(
            f"{alias} is invalid ({reason}): set it to {_HINTS.get(alias, 'a valid value')}."
        ) from None
    return settings.require(*required)


def type_alias(field_or_alias: str) -> str:
    for name, f in Settings.model_fields.items():
        if field_or_alias in (name, f.validation_alias):
            return str(f.validation_alias)
    return field_or_alias
