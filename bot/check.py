"""`thread-note-bot check`: is this configuration ready to `serve`? One line per check, each red one with what
to do; exit status 1 when any check fails.

1. Settings: every setting is read the way `serve` reads it (`load_settings`, environment and `.env`); every
   malformed or missing one is named, not only the first. The Slack signing secret cannot be verified by
   asking Slack (Slack never says whether a secret matches); only its format is checked, and the line says so.
2. Database: connects (libpq's `sslmode` and friends understood), and compares the Alembic revision with the
   bot's (`serve` applies pending migrations when it starts; a database migrated by a newer bot is an error).
   Secret key: every stored secret decrypts with `THREAD_NOTE_SECRET_KEY` (a wrong key is found here, not
   by people getting errors).
3. Slack: `auth.test` with the bot token; when Slack reports the token's scopes (`x-oauth-scopes`), the scopes
   `manifest.yml` asks for are compared with them; in Socket Mode, the app-level token opens a connection URL.
4. RingCentral: the service identity signs in once with `RINGCENTRAL_JWT` (a handful of requests, then it
   signs out, so a running bot keeps its session and rate budget); it is a handler of at least one common
   resource (an SMS recipient of a queue or site, or it sees message threads); the app has the SMS
   permission (listing message threads does not answer 403 `CMN-401`).
5. Public URL (needed in both modes: RingCentral returns sign-ins to it): https (plain http only on this
   machine), and `GET /healthz` of the running bot answers (not asked with `--before-start`).
6. Real time (in the same RingCentral session): RingCentral's list of the webhook subscriptions delivered
   to our address; red when it reports `disabledFilters` (naming the webhooks' permission, SMS) or a
   blacklisting.
7. Change feed (`check_feed`): what the bot last recorded of RingCentral's change feed in the database; red
   while it fails poll after poll.

Dependent checks are skipped (shown with `·`) while what they need is broken. Whatever a check did not
foresee is still one red line (`_never_crash`), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.config import ConfigError, Settings, load_settings, serve_required, type_alias

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
TIMEOUT = 5.0
_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


@dataclass(frozen=True)
class Result:
    ok: bool | None  # None: not checked (something it needs is broken)
    text: str


def _ok(text: str) -> Result:
    return Result(True, text)


def _bad(text: str) -> Result:
    return Result(False, text)


def _skip(text: str) -> Result:
    return Result(None, text)


# --- settings -----------------------------------------------------------------------------------------------


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


# --- database -----------------------------------------------------------------------------------------------


async def check_database(url: str) -> Result:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from bot.store.engine import make_engine
    from bot.store.errors import StoreError, translated
    from bot.store.migrate import alembic_config
    from bot.store.urls import async_url, describe, is_memory, is_sqlite

    try:
        target = async_url(url)
    except StoreError as exc:
        return _bad(f"Database: {exc}")
    where = describe(target)
    if is_sqlite(target) and not is_memory(target):
        missing = _missing_sqlite(Path(str(target.database)))
        if missing is not None:
            return missing
    script = ScriptDirectory.from_config(alembic_config())
    heads = set(script.get_heads())
    try:
        engine = make_engine(target, connect_timeout=TIMEOUT)
    except StoreError as exc:
        return _bad(f"Database: {exc}.")
    try:
        async with translated(where), engine.connect() as conn:
            current = set(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))
    except StoreError as exc:
        return _bad(f"Database: {exc}; {_database_hint(str(exc))}")
    finally:
        await engine.dispose()
    if current == heads:
        return _ok(f"Database: {where} reachable, migrations at head ({', '.join(sorted(heads))})")
    if not current:
        return _ok(f"Database: {where} reachable and empty; serve creates the tables when it starts")
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = current - known
    if unknown:
        return _bad(
            f"Database: {where} is at revision {', '.join(sorted(unknown))}, which this bot does not know: "
            "a newer thread-note-bot migrated it; upgrade this one."
        )
    return _ok(
        f"Database: {where} reachable; migrations {', '.join(sorted(current))} → {', '.join(sorted(heads))} "
        "are pending, serve applies them when it starts"
    )


def _database_hint(problem: str) -> str:
    """The next step for a database that cannot be used, from what the driver said."""
    lowered = problem.lower()
    if "ssl" in lowered and ("rejected" in lowered or "not support" in lowered):
        return (
            "the server does not offer TLS: enable SSL on it, or use sslmode=prefer (or disable) in "
            "THREAD_NOTE_DATABASE_URL."
        )
    if "password" in lowered or "authentication" in lowered:
        return "check the user name and password in THREAD_NOTE_DATABASE_URL."
    if "does not exist" in lowered:
        return "create that database (createdb) or fix its name in THREAD_NOTE_DATABASE_URL."
    if "sqlite file" in lowered:
        return "check the path in THREAD_NOTE_DATABASE_URL and that this user may read and write it."
    return "check THREAD_NOTE_DATABASE_URL and that the server runs."


async def check_secret_key(settings: Settings) -> Result:
    """The key proves itself on what is stored: every stored secret (tokens, installations) is decrypted.

    None fitting means a wrong key (a restore, replicas on different keys): the old key is needed, or people
    reconnect. Nothing stored yet (or no tables yet) is fine.
    """
    import sqlalchemy as sa

    from bot.store.crypto import TokenCipher
    from bot.store.engine import make_engine
    from bot.store.errors import StoreError, translated
    from bot.store.store import count_undecryptable
    from bot.store.urls import async_url, describe

    cipher = TokenCipher(settings.secret_keys)
    target = async_url(settings.database_url)
    nothing_yet = _ok(
        "Secret key: THREAD_NOTE_SECRET_KEY is valid; nothing is stored yet to prove it against"
    )
    if _no_sqlite_file_yet(target):
        return nothing_yet  # connecting would create the file: check changes nothing
    engine = make_engine(target, connect_timeout=TIMEOUT)
    try:
        async with translated(describe(target)), engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            bad, total = await count_undecryptable(conn, cipher, tables)
    except StoreError as exc:
        return _bad(f"Secret key: cannot read the stored secrets ({exc}).")
    finally:
        await engine.dispose()
    if not total:
        return nothing_yet
    if not bad:
        return _ok(f"Secret key: THREAD_NOTE_SECRET_KEY decrypts the {total} stored secret(s)")
    return _bad(
        f"Secret key: THREAD_NOTE_SECRET_KEY does not decrypt {bad} of the {total} stored secret(s): it is "
        "not the key they were saved with. Find the old key (backups of your .env, another replica's "
        "environment), list it after the new one (new,old) and run `thread-note-bot reencrypt`; without "
        "it, people must run /thread-note connect again."
    )


def _no_sqlite_file_yet(target: Any) -> bool:
    from bot.store.urls import is_memory, is_sqlite

    return is_sqlite(target) and not is_memory(target) and not Path(str(target.database)).exists()


async def check_feed(url: str) -> Result:
    """The change feed as the running bot last recorded it (`notify:feed_health` in the database): a feed
    that fails poll after poll is red here too. Read-only: a database not created yet is "not polled"."""
    import sqlalchemy as sa

    from bot.notify.health import HEALTH_KEY, FeedHealth
    from bot.store.engine import make_engine
    from bot.store.errors import StoreError, translated
    from bot.store.schema import kv_state
    from bot.store.urls import async_url, describe, is_memory, is_sqlite

    try:
        target = async_url(url)
    except StoreError as exc:
        return _skip(f"Change feed: not checked ({exc})")
    if is_sqlite(target) and (is_memory(target) or _missing_sqlite(Path(str(target.database)))):
        return _ok("Change feed: not polled yet (serve starts it)")
    engine = make_engine(target, connect_timeout=TIMEOUT)
    try:
        async with translated(describe(target)), engine.connect() as conn:
            if not await conn.run_sync(lambda c: sa.inspect(c).has_table(kv_state.name)):
                return _ok("Change feed: not polled yet (serve starts it)")
            query = sa.select(kv_state.c.value).where(kv_state.c.name == HEALTH_KEY)
            value = (await conn.execute(query)).scalar()
    except StoreError as exc:
        return _skip(f"Change feed: not checked ({exc})")
    finally:
        await engine.dispose()
    health = FeedHealth.from_json(value)
    if health.failing:
        return _bad(
            f"Change feed: {health.describe()}: RingCentral's changes are not read, so no notes are posted; "
            "fix the RingCentral lines above (or RingCentral's status), the bot catches up by itself."
        )
    return _ok(f"Change feed: {health.describe()}")


def _missing_sqlite(path: Path) -> Result | None:
    """A SQLite file that does not exist yet is fine (serve creates it) when its folder exists."""
    if path.is_dir():
        return _bad(
            f"Database: {path} is a folder, not a SQLite file: name a file in THREAD_NOTE_DATABASE_URL, "
            f"e.g. sqlite:///{path / 'thread-note-bot.db'}."
        )
    if path.exists():
        return None
    if not path.parent.is_dir():
        return _bad(
            f"Database: the folder {path.parent} of the SQLite file does not exist: create it or change "
            "THREAD_NOTE_DATABASE_URL."
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return _bad(
            f"Database: this user may not create files in {path.parent}, so serve cannot create the SQLite "
            "file there: give it write access (chown) or change THREAD_NOTE_DATABASE_URL."
        )
    return _ok(f"Database: sqlite file {path} does not exist yet; serve creates it and its tables")


# --- Slack --------------------------------------------------------------------------------------------------


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
            _bad(
                f"Slack: cannot reach {api} ({_reason(exc)}): check SLACK_API_URL (default "
                "https://slack.com/api/) and this machine's network or proxy."
            )
        ]
    data = _json(response)
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
        return [_bad(f"Slack: SLACK_BOT_TOKEN is refused ({error}): {hint}.")]
    results = [_ok(f"Slack: the bot token works (@{data.get('user', '?')} in {data.get('team', '?')})")]
    granted = response.headers.get("x-oauth-scopes")
    if granted is None:
        results.append(
            _ok("Slack: scopes not listed by this server (Slack itself lists them; nothing to compare)")
        )
    else:
        have = {s.strip() for s in granted.split(",") if s.strip()}
        missing = [s for s in MANIFEST_BOT_SCOPES if s not in have]
        if missing:
            results.append(
                _bad(
                    f"Slack: the bot token lacks {', '.join(missing)}: add them under OAuth & Permissions "
                    "(or create the app from manifest.yml), reinstall the app and copy the new token."
                )
            )
        else:
            results.append(
                _ok(f"Slack: the token has every scope manifest.yml asks for ({len(MANIFEST_BOT_SCOPES)})")
            )
    if settings.slack_app_token is not None:
        results.append(_check_app_token(settings, settings.slack_app_token.get_secret_value()))
    if "SLACK_SIGNING_SECRET" in broken or settings.slack_signing_secret is None:
        return results  # reported with the settings, or not needed (Socket Mode)
    results.append(
        _ok(
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
        return _bad(f"Slack: rate-limited on {method} (HTTP 429): {when}, then run check again.")
    if status >= 500:
        return _bad(
            f"Slack: {api}{method} answered HTTP {status}: Slack is having trouble (status.slack.com); "
            "run check again in a few minutes."
        )
    return _bad(
        f"Slack: {api}{method} answered HTTP {status}, not Slack's JSON: check SLACK_API_URL "
        "(default https://slack.com/api/)."
    )


def _check_app_token(settings: Settings, token: str) -> Result:
    try:
        response = _slack_call(settings, "apps.connections.open", token)
    except httpx.HTTPError as exc:
        return _bad(f"Slack: cannot reach {settings.slack_api_url} for Socket Mode ({_reason(exc)}).")
    data = _json(response)
    if response.status_code != 200 or not isinstance(data, dict):
        return _slack_http_problem(settings.slack_api_url, "apps.connections.open", response)
    if isinstance(data, dict) and data.get("ok"):
        return _ok("Slack: Socket Mode works (SLACK_APP_TOKEN opens a connection)")
    error = data.get("error") if isinstance(data, dict) else f"HTTP {response.status_code}"
    return _bad(
        f"Slack: SLACK_APP_TOKEN is refused ({error}): create an app-level token with connections:write "
        "(Basic Information → App-Level Tokens) and turn Socket Mode on, or unset it for HTTP mode."
    )


# --- RingCentral --------------------------------------------------------------------------------------------
#
# A running bot signs in as the same service user, and RingCentral counts sign-ins per user (Auth group: five
# a minute) and keeps a few sessions per user (a new one evicts the oldest). So check signs in once, makes a
# handful of requests with that session (extension, one page of threads, call queues and sites, the SMS
# recipients of at most MAX_RESOURCES of them, its webhook subscriptions), and signs out (revokes it).

RC_SERVERS = (
    "https://platform.ringcentral.com (or https://platform.devtest.ringcentral.com for a sandbox app)"
)
MAX_RESOURCES = 5


async def check_ringcentral(settings: Settings) -> list[Result]:
    """Sign in once as the service identity, read who it is, what it handles and whether the app may read SMS
    threads, then sign out."""
    from bot.ringcentral.auth import TokenEndpoint

    assert settings.ringcentral_client_id and settings.ringcentral_client_secret and settings.ringcentral_jwt
    endpoint = TokenEndpoint(
        settings.ringcentral_server_url,
        settings.ringcentral_client_id,
        settings.ringcentral_client_secret.get_secret_value(),
        timeout=TIMEOUT,
    )
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        signed_in = await _sign_in(http, endpoint, settings.ringcentral_jwt.get_secret_value())
        if isinstance(signed_in, Result):
            return [signed_in]
        try:
            return await _as_service_identity(settings, signed_in)
        finally:
            await _sign_out(http, endpoint, signed_in)


async def _sign_in(http: httpx.AsyncClient, endpoint: Any, jwt: str) -> Any:
    """The TokenSet of one JWT sign-in, or the red line saying why not (read from the raw answer, so that a
    server that is not RingCentral is named as such instead of failing somewhere later)."""
    from bot.ringcentral.auth import JWT_GRANT, TokenEndpoint, token_error

    server = endpoint.server_url
    try:
        response = await http.send(endpoint.request({"grant_type": JWT_GRANT, "assertion": jwt}))
    except httpx.HTTPError as exc:
        return _bad(
            f"RingCentral: cannot reach {server} ({_reason(exc)}): check RINGCENTRAL_SERVER_URL and this "
            "machine's network or proxy."
        )
    body = _json(response)
    status = response.status_code
    if status == 429:
        return _bad(_rate_limited("signing in", _retry_after(response)))
    if status == 200 and isinstance(body, dict) and "access_token" in body:
        try:
            return TokenEndpoint.parse(response, issued_at=time.time())
        except ValueError:
            pass  # not a token answer after all: named below
    elif status in (400, 401, 403) and isinstance(body, dict) and ("error" in body or "errorCode" in body):
        return _bad(_sign_in_problem(token_error(response)))
    elif status >= 500 and isinstance(body, dict):
        return _bad(
            f"RingCentral: {server} answered HTTP {status} to the sign-in: RingCentral is having trouble; "
            "run check again in a few minutes."
        )
    shape = "JSON" if body is not None else "not JSON"
    return _bad(
        f"RingCentral: {server} does not answer like RingCentral (its sign-in, POST /restapi/oauth/token, "
        f"answered HTTP {status}, {shape}): set RINGCENTRAL_SERVER_URL to {RC_SERVERS}."
    )


async def _sign_out(http: httpx.AsyncClient, endpoint: Any, tokens: Any) -> None:
    """Revoke check's session so it neither lingers nor pushes the running bot's session out."""
    from bot.ringcentral.auth import REVOKE_PATH

    token = tokens.refresh_token or tokens.access_token
    with contextlib.suppress(httpx.HTTPError):  # the session expires on its own; nothing for the admin to do
        await http.send(endpoint.request({"token": token}, path=REVOKE_PATH))


async def _as_service_identity(settings: Settings, tokens: Any) -> list[Result]:
    from bot.ringcentral import RingCentralClient, UserTokenAuth
    from bot.ringcentral.errors import RateLimited, RingCentralError

    assert settings.ringcentral_client_id and settings.ringcentral_client_secret
    client = RingCentralClient(
        settings.ringcentral_server_url,
        settings.ringcentral_client_id,
        settings.ringcentral_client_secret.get_secret_value(),
        auth=UserTokenAuth(tokens),
        timeout=TIMEOUT,
        max_attempts=1,
        max_rate_limit_wait=TIMEOUT,
    )
    try:
        try:
            me = await client.get_extension()
        except RingCentralError as exc:
            return [_bad(_rc_failure(settings, "reading the service user", exc))]
        name = me.name or "the service user"
        results = [
            _ok(f"RingCentral: the service identity signs in with RINGCENTRAL_JWT as {name} (ext {me.id})")
        ]
        threads = await _threads_visible(client)
        if isinstance(threads, RateLimited):  # one line, and no more requests into the penalty
            results.append(_bad(_rc_failure(settings, "listing message threads", threads)))
            return results
        results.append(await _check_handler(settings, client, me, threads))
        results.append(_check_sms_permission(settings, threads))
        results.extend(await _check_realtime(settings, client))
    finally:
        await client.aclose()
    return results


async def _threads_visible(client: Any) -> Any:
    """How many message threads the service user sees on one page (0 or 1), or the error that answered."""
    from bot.ringcentral.errors import RingCentralError

    try:
        return len((await client.list_threads(per_page=1)).records)
    except RingCentralError as exc:
        return exc


async def _check_handler(settings: Settings, client: Any, me: Any, threads: Any) -> Result:
    """The service user handles at least one common resource: an SMS recipient of a call queue or site (up to
    MAX_RESOURCES are asked, stopping at the first it handles), or, where RingCentral does not let this app
    read SMS recipients (a Limited API), it sees message threads."""
    from bot.ringcentral.errors import Forbidden, RateLimited, RingCentralError

    name = me.name or "the service user"
    handled: str | None = None
    refused: RingCentralError | None = None
    try:
        resources = [(q.id, q.name) for q in await client.list_call_queues()]
        resources += [(site.id, site.name) for site in await client.list_sites()]
        for resource_id, resource_name in resources[:MAX_RESOURCES]:
            if any(str(r.id) == str(me.id) for r in await client.list_sms_recipients(resource_id)):
                handled = resource_name or resource_id
                break
    except RateLimited as exc:
        return _bad(_rc_failure(settings, "reading SMS recipients", exc))
    except Forbidden as exc:
        refused = exc
    except RingCentralError as exc:
        return _bad(_rc_failure(settings, f"telling what {name} handles", exc))
    if handled:
        return _ok(f"RingCentral: {name} handles {handled} (an SMS recipient)")
    if refused is not None and isinstance(threads, int) and threads:
        return _ok(
            f"RingCentral: {name} sees message threads (a handler of a site or queue; RingCentral does not "
            f"let this app read SMS recipients: {refused.error_code or 'refused'})"
        )
    if refused is not None:
        return _bad(
            f"RingCentral: cannot tell what {name} handles ({refused.error_code or refused.status}): give "
            "the app the Read Accounts permission."
        )
    return _bad(
        f"RingCentral: {name} (ext {me.id}) handles no shared resource: make this user an SMS recipient of "
        "the call queues and sites whose notes should reach Slack (Admin Portal → Call Queues or Sites → SMS "
        "recipients; queue membership alone is not enough)."
    )


def _check_sms_permission(settings: Settings, threads: Any) -> Result:
    """Listing message threads is allowed (not 403 `CMN-401`, the missing SMS permission)."""
    if isinstance(threads, int):
        return _ok("RingCentral: the app may read SMS message threads (SMS permission)")
    return _bad(_rc_failure(settings, "listing message threads", threads))


def _rc_failure(settings: Settings, doing: str, exc: Any) -> str:
    """One line for a RingCentral error after signing in: a rate limit is a rate limit, never a permission."""
    from bot.ringcentral.errors import AuthError, Forbidden, RateLimited, Unavailable

    if isinstance(exc, RateLimited):
        return _rate_limited(doing, exc.retry_after)
    if isinstance(exc, Forbidden) and exc.error_code == "CMN-401":
        return (
            "RingCentral: the app lacks the SMS permission (CMN-401): add SMS in the app's settings in the "
            "Developer Console, then make a new JWT-authorized session."
        )
    if isinstance(exc, Forbidden):
        return (
            f"RingCentral: {doing} was refused ({exc.error_code or 403}): give the app the Read Accounts "
            "permission in the Developer Console."
        )
    if isinstance(exc, AuthError):
        return f"RingCentral: the service identity's session was refused while {doing}: run check again."
    if isinstance(exc, Unavailable):
        return (
            f"RingCentral: {settings.ringcentral_server_url} did not answer while {doing} ({exc.message}): "
            "run check again in a few minutes."
        )
    code = exc.error_code or exc.status or type(exc).__name__
    return (
        f"RingCentral: {doing} failed ({code}): check that RINGCENTRAL_SERVER_URL is {RC_SERVERS} "
        "and run check again."
    )


def _rate_limited(doing: str, retry_after: float | None) -> str:
    wait = f"wait {math.ceil(retry_after)} s" if retry_after else "wait a minute"
    return (
        f"RingCentral: rate-limited while {doing} (too many requests as the service user, counting a running "
        f"bot's): {wait}, then run check again."
    )


def _retry_after(response: httpx.Response) -> float | None:
    from bot.ringcentral._errors import retry_after

    return retry_after(response)


def _sign_in_problem(exc: Exception) -> str:
    from bot.ringcentral.errors import RingCentralError

    code = exc.error_code if isinstance(exc, RingCentralError) else None
    body = exc.body if isinstance(exc, RingCentralError) else None
    error = body.get("error") if isinstance(body, dict) else None
    detail = exc.message if isinstance(exc, RingCentralError) else str(exc)
    if error == "invalid_client" or code in ("OAU-123", "OAU-146"):
        return (
            f"RingCentral: RINGCENTRAL_CLIENT_ID / RINGCENTRAL_CLIENT_SECRET are refused ({code or error}): "
            "copy them again from the app's Credentials page in the Developer Console (an app still in "
            "the sandbox needs RINGCENTRAL_SERVER_URL=https://platform.devtest.ringcentral.com)."
        )
    if error == "unauthorized_client" or code == "OAU-251":
        return (
            f"RingCentral: the app may not use JWT sign-in ({code or error}): enable the JWT auth flow "
            "in the app's settings in the Developer Console."
        )
    return (
        f"RingCentral: RINGCENTRAL_JWT is refused ({code or error or detail}): create a JWT credential "
        "for the service user (Developer Console → Credentials → JWT) and put it in RINGCENTRAL_JWT."
    )


# --- public URL ---------------------------------------------------------------------------------------------


def check_public_url(settings: Settings, before_start: bool = False) -> Result:
    """Set (people connect through its OAuth callback, in Socket Mode too), https, and, once the bot runs,
    answering `/healthz`. `before_start`: the bot is not running yet, so only the first two are checked."""
    url = settings.public_url
    if url is None:
        if settings.socket_mode:
            return _bad(
                "Public URL: THREAD_NOTE_PUBLIC_URL is not set, so nobody can connect a RingCentral account "
                "(RingCentral sends the sign-in back to its /ringcentral/oauth/callback, in Socket Mode "
                "too): set it to the bot's https URL."
            )
        return _bad(
            "Public URL: THREAD_NOTE_PUBLIC_URL is not set, so Slack cannot reach /slack/events in HTTP "
            "mode: set it to the bot's https URL, or use Socket Mode (SLACK_APP_TOKEN)."
        )
    parts = urlsplit(url)
    loopback = (parts.hostname or "") in _LOOPBACK
    if parts.scheme != "https" and not loopback:
        return _bad(
            f"Public URL: {url} is not https: Slack and RingCentral call only https URLs; put TLS in front "
            "of the bot (a load balancer or reverse proxy) and set THREAD_NOTE_PUBLIC_URL to its https URL."
        )
    if parts.path.rstrip("/") in _BOT_PATHS:
        return _bad(
            f"Public URL: THREAD_NOTE_PUBLIC_URL ends with {parts.path}: give only the bot's base URL "
            f"({parts.scheme}://{parts.netloc}); the bot adds its paths itself."
        )
    if before_start:
        return _ok(f"Public URL: {url} (not asked for /healthz: --before-start)")
    return _check_healthz(url, parts.scheme != "https")


_BOT_PATHS = ("/slack/events", "/healthz", "/ringcentral/oauth/callback", "/ringcentral/webhook")


def _check_healthz(url: str, plain_http: bool) -> Result:
    try:
        response = httpx.get(f"{url}/healthz", timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return _bad(
            f"Public URL: {url}/healthz is not reachable ({_reason(exc)}): start `thread-note-bot serve`, "
            "check DNS and the proxy in front of it, then run check again (before the first start: "
            "check --before-start)."
        )
    data = _json(response)
    if response.status_code == 200 and isinstance(data, dict) and data.get("ok"):
        note = " (http on this machine: fine for trying it out)" if plain_http else ""
        return _ok(f"Public URL: {url}/healthz answers{note}")
    if isinstance(data, dict) and "ok" in data:
        return _bad(f"Public URL: the bot at {url} reports a problem: {data}.")
    return _bad(
        f"Public URL: {url}/healthz answered HTTP {response.status_code}, not the bot: point "
        "THREAD_NOTE_PUBLIC_URL (and the proxy) at thread-note-bot."
    )


async def check_realtime(settings: Settings) -> list[Result]:
    """The real-time lines alone (they come from `check_ringcentral`'s one sign-in)."""
    return [r for r in await check_ringcentral(settings) if r.text.startswith("Real time")]


async def _check_realtime(settings: Settings, client: Any) -> list[Result]:
    """Real time (when THREAD_NOTE_PUBLIC_URL is set): RingCentral's own list of the service identity's
    webhook subscriptions (`listSubscriptions`), ours being those delivered to our address. Red when
    RingCentral lists `disabledFilters` (real time is off although the subscription exists: the app lacks a
    permission) or has blacklisted it."""
    from bot.notify.webhook import APP_PERMISSION
    from bot.ringcentral.errors import RingCentralError

    if settings.public_url is None:
        return [_ok("Real time: off (THREAD_NOTE_PUBLIC_URL is not set); notes arrive by polling")]
    address = settings.public_url + "/ringcentral/webhook"
    try:
        subs = await client.list_subscriptions()
    except RingCentralError as exc:
        return [_bad("Real time: " + _rc_failure(settings, "listing webhook subscriptions", exc))]
    ours = [x for x in subs if x.delivery_mode is not None and x.delivery_mode.address == address]
    need = f"webhooks need the app's {APP_PERMISSION} permission"
    if not ours:
        return [_ok(f"Real time: no webhook to {address} yet; `serve` creates it ({need})")]
    results: list[Result] = []
    for sub in ours:
        if sub.disabled_filters:
            names = ", ".join(
                f"{f.filter} ({f.reason or f.message or 'no reason given'})" for f in sub.disabled_filters
            )
            results.append(_bad(
                f"Real time: OFF, RingCentral disabled {names}: give the app the {APP_PERMISSION} permission "
                "in the Developer Console (the bot makes the subscription anew every 5 minutes). Notes still "
                "arrive by polling."
            ))  # fmt: skip
        elif sub.status not in (None, "Active"):
            results.append(_bad(
                f"Real time: the webhook {sub.id} is {sub.status}: check that {address} answers, the bot "
                "re-creates it on its next renewal. Notes still arrive by polling."
            ))  # fmt: skip
    if not results:
        results.append(_ok(f"Real time: RingCentral delivers to {address} ({need})"))
    return results


# --- running it all -----------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def collect(env_file: str | None = ".env", before_start: bool = False) -> list[Result]:
    settings, problems = read_settings(env_file)
    results: list[Result] = []
    if problems:
        results.extend(_bad(f"Settings: {p}") for p in problems)
    elif settings is not None:
        mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
        results.append(_ok(f"Settings: every setting is valid ({mode})"))
    if settings is None:
        return results
    broken = {p.split(" ", 1)[0] for p in problems}

    def run(label: str, names: tuple[str, ...], check: Callable[[], list[Result]]) -> list[Result]:
        blocked = [n for n in names if n in broken]
        if blocked:
            lines = [_skip(f"{label}: not checked until {', '.join(blocked)} is fixed")]
        else:
            lines = _never_crash(label, check)
        results.extend(lines)
        return lines

    database = run(
        "Database",
        ("THREAD_NOTE_DATABASE_URL",),
        lambda: [asyncio.run(check_database(settings.database_url))],
    )
    if all(r.ok for r in database):
        run("Secret key", ("THREAD_NOTE_SECRET_KEY",), lambda: [asyncio.run(check_secret_key(settings))])
        run(
            "Change feed",
            ("THREAD_NOTE_DATABASE_URL",),
            lambda: [asyncio.run(check_feed(settings.database_url))],
        )
    else:
        results.append(_skip("Secret key: not checked until the database can be read"))
    if settings.slack_bot_token is not None or "SLACK_BOT_TOKEN" in broken:
        run("Slack", ("SLACK_API_URL", "SLACK_BOT_TOKEN"), lambda: check_slack(settings, broken))
    elif settings.oauth:
        results.append(
            _ok(
                "Slack: many workspaces (SLACK_CLIENT_ID): each workspace's token comes with its "
                "installation (/slack/install), nothing to check here"
            )
        )
    run(
        "RingCentral",
        ("RINGCENTRAL_SERVER_URL", "RINGCENTRAL_CLIENT_ID", "RINGCENTRAL_CLIENT_SECRET", "RINGCENTRAL_JWT"),
        lambda: asyncio.run(check_ringcentral(settings)),
    )
    run(
        "Public URL",
        ("THREAD_NOTE_PUBLIC_URL", "PORT"),
        lambda: [check_public_url(settings, before_start)],
    )
    return results


def _never_crash(label: str, check: Callable[[], list[Result]]) -> list[Result]:
    """The last line of defence: whatever a check did not foresee is one red line, not a traceback."""
    try:
        return check()
    except Exception as exc:  # check must report, never crash
        return [
            _bad(
                f"{label}: the check failed unexpectedly ({_reason(exc)[:300]}): please report this line "
                "(it holds no secret) and check the settings of this part."
            )
        ]


def run_check(env_file: str | None = ".env", out: Any = None, before_start: bool = False) -> int:
    from bot import logs
    from bot.console import Printer  # the ✓/✗ lines, colours and fallbacks shared with the demo

    logs.configure("WARNING")  # the report is the output; request logs would drown it
    p = Printer(out)
    p.line("thread-note-bot check" + (" (before the first start)" if before_start else ""))
    results = collect(env_file, before_start)
    for r in results:
        if r.ok is True:
            p.passed(r.text)
        elif r.ok is False:
            p.failed(r.text)
        else:
            p.skipped(r.text)
    failed = sum(1 for r in results if r.ok is False)
    skipped = sum(1 for r in results if r.ok is None)
    p.line()
    if failed:
        extra = f", {skipped} not checked" if skipped else ""
        p.line(f"{failed} of {len(results)} checks failed{extra}: fix the red lines, then run check again.")
        return 1
    p.line(f"All {len(results)} checks passed: ready to `thread-note-bot serve`.")
    return 0
