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

DEFAULT_DATABASE_URL = "sqlite:///thread-note-bot.db"
DEFAULT_RINGCENTRAL_SERVER_URL = "https://platform.ringcentral.com"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


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
    "SLACK_ALLOWED_TEAMS": (
        "comma-separated Slack team ids (T…) and/or Enterprise org ids (E…) that may install and use the app"
    ),
    "THREAD_NOTE_ADMIN_SUBSCRIBE": "true or false: may Slack workspace admins without a RingCentral link "
    "subscribe channels",
}

_SLACK_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,31}$")


def _http_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return value


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
    # Who may install and be served: Slack team ids and Enterprise org ids. Many workspaces: required for
    # any install (unset: every install is refused). One workspace: applies when set.
    allowed_teams: Annotated[tuple[str, ...], NoDecode] = Field((), validation_alias="SLACK_ALLOWED_TEAMS")
    # May a Slack workspace admin/owner without a RingCentral link subscribe channels? None: the mode's
    # default (see `admin_subscribe_allowed`).
    admin_subscribe: bool | None = Field(None, validation_alias="THREAD_NOTE_ADMIN_SUBSCRIBE")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value() and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must start with xoxb-")
        return v or None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value() and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must start with xapp-")
        return v if v is not None and v.get_secret_value() else None

    @field_validator("slack_api_url", "ringcentral_server_url")
    @classmethod
    def _required_url(cls, v: str) -> str:
        url = _http_url(v)
        if url is None:
            raise ValueError("must not be empty")
        return url

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        url = _http_url(v)
        return url.rstrip("/") if url else None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        scheme = urlsplit(v).scheme.split("+")[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("unsupported database")
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
    """What `serve` needs: one bot token, or (many workspaces) the app's OAuth client instead."""
    return SERVE_OAUTH_REQUIRED if settings.oauth else SERVE_REQUIRED


def load_settings(
    required: Iterable[str] = (), env_file: str | None = ".env", **overrides: object
) -> Settings:
    """Load settings, turning pydantic's report into one line that names the setting."""
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg,arg-type]  # env names
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        alias = type_alias(field)
        reason = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(
            f"{alias} is invalid ({reason}): set it to {_HINTS.get(alias, 'a valid value')}."
        ) from None
    return settings.require(*required)


def type_alias(field_or_alias: str) -> str:
    for name, f in Settings.model_fields.items():
        if field_or_alias in (name, f.validation_alias):
            return str(f.validation_alias)
    return field_or_alias
