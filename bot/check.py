"""`thread-note-bot check`: is this configuration ready to `serve`? One line per check, each red one with what
to do; exit status 1 when any check fails.

1. Settings: every setting is read the way `serve` reads it (`load_settings`, environment and `.env`); every
   malformed or missing one is named, not only the first. The Slack signing secret cannot be verified by
   asking Slack (Slack never says whether a secret matches); only its format is checked, and the line says so.
2. Database: connects, and compares the Alembic revision with the bot's (`serve` applies pending migrations
   when it starts; a database migrated by a newer bot is an error).
3. Slack: `auth.test` with the bot token; when Slack reports the token's scopes (`x-oauth-scopes`), the scopes
   `manifest.yml` asks for are compared with them; in Socket Mode, the app-level token opens a connection URL.
4. RingCentral: the service identity signs in with `RINGCENTRAL_JWT`; it is a handler of at least one common
   resource (an SMS recipient of a queue or site, or it sees message threads); the app has the SMS
   permission (listing message threads does not answer 403 `CMN-401`).
5. Public URL (when `THREAD_NOTE_PUBLIC_URL` is set, or needed by HTTP mode): https (plain http only on this
   machine), and `GET /healthz` of the running bot answers.

Dependent checks are skipped (shown with `·`) while what they need is broken.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from bot.config import SERVE_REQUIRED, ConfigError, Settings, load_settings, type_alias

# The bot scopes `manifest.yml` asks for (tests/check pins this list to the manifest).
MANIFEST_BOT_SCOPES = (
    "commands",
    "chat:write",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "users:read",
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
    for name in SERVE_REQUIRED:
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
    engine = make_engine(target, connect_timeout=TIMEOUT)
    try:
        async with translated(where), engine.connect() as conn:
            current = set(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))
    except StoreError as exc:
        return _bad(f"Database: {exc}; check THREAD_NOTE_DATABASE_URL and that the server runs.")
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


def _missing_sqlite(path: Path) -> Result | None:
    """A SQLite file that does not exist yet is fine (serve creates it) when its folder exists."""
    if path.exists():
        return None
    if not path.parent.is_dir():
        return _bad(
            f"Database: the folder {path.parent} of the SQLite file does not exist: create it or change "
            "THREAD_NOTE_DATABASE_URL."
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
        return [_bad(f"Slack: {api}auth.test answered HTTP {response.status_code}: check SLACK_API_URL.")]
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
    if "SLACK_SIGNING_SECRET" in broken:
        return results
    results.append(
        _ok(
            "Slack: SLACK_SIGNING_SECRET looks right; only Slack's first request can prove it "
            "(\u201cdispatch_failed\u201d in Slack means copy it again)"
        )
    )
    return results


def _check_app_token(settings: Settings, token: str) -> Result:
    try:
        response = _slack_call(settings, "apps.connections.open", token)
    except httpx.HTTPError as exc:
        return _bad(f"Slack: cannot reach {settings.slack_api_url} for Socket Mode ({_reason(exc)}).")
    data = _json(response)
    if isinstance(data, dict) and data.get("ok"):
        return _ok("Slack: Socket Mode works (SLACK_APP_TOKEN opens a connection)")
    error = data.get("error") if isinstance(data, dict) else f"HTTP {response.status_code}"
    return _bad(
        f"Slack: SLACK_APP_TOKEN is refused ({error}): create an app-level token with connections:write "
        "(Basic Information → App-Level Tokens) and turn Socket Mode on, or unset it for HTTP mode."
    )


# --- RingCentral --------------------------------------------------------------------------------------------


async def check_ringcentral(settings: Settings) -> list[Result]:
    from bot.ringcentral import JwtAuth, RingCentralClient
    from bot.ringcentral.errors import AuthError, Forbidden, InvalidInput, RingCentralError, Unavailable

    assert settings.ringcentral_client_id and settings.ringcentral_client_secret and settings.ringcentral_jwt
    server = settings.ringcentral_server_url
    client = RingCentralClient(
        server,
        settings.ringcentral_client_id,
        settings.ringcentral_client_secret.get_secret_value(),
        auth=JwtAuth(settings.ringcentral_jwt.get_secret_value()),
        timeout=TIMEOUT,
        max_attempts=1,
        max_rate_limit_wait=TIMEOUT,
    )
    results: list[Result] = []
    try:
        try:
            me = await client.get_extension()
        except Unavailable as exc:
            return [
                _bad(
                    f"RingCentral: cannot reach {server} ({exc.message}): check RINGCENTRAL_SERVER_URL "
                    "and this machine's network or proxy."
                )
            ]
        except (AuthError, InvalidInput, Forbidden) as exc:
            return [_bad(_sign_in_problem(exc))]
        name = me.name or "the service user"
        results.append(
            _ok(f"RingCentral: the service identity signs in with RINGCENTRAL_JWT as {name} (ext {me.id})")
        )
        handled, recipients_error = await _handled_resources(client, me.id)
        threads_error: RingCentralError | None = None
        visible = 0
        try:
            visible = len((await client.list_threads(per_page=1)).records)
        except RingCentralError as exc:
            threads_error = exc
        if handled:
            results.append(_ok(f"RingCentral: {name} handles {', '.join(handled)} (an SMS recipient)"))
        elif visible and recipients_error is not None:
            results.append(
                _ok(
                    f"RingCentral: {name} sees message threads (a handler of a site or queue; RingCentral "
                    f"does not let this app read SMS recipients: {recipients_error.error_code or 'refused'})"
                )
            )
        elif recipients_error is not None and threads_error is not None:
            results.append(
                _bad(
                    f"RingCentral: cannot tell what {name} handles "
                    f"({recipients_error.error_code or recipients_error.status}): give the app the Read "
                    "Accounts permission."
                )
            )
        else:
            results.append(
                _bad(
                    f"RingCentral: {name} (ext {me.id}) handles no shared resource: make this user an SMS "
                    "recipient of the call queues and sites whose notes should reach Slack (Admin Portal → "
                    "Call Queues or Sites → SMS recipients; queue membership alone is not enough)."
                )
            )
        if threads_error is None:
            results.append(_ok("RingCentral: the app may read SMS message threads (SMS permission)"))
        elif isinstance(threads_error, Forbidden) and threads_error.error_code == "CMN-401":
            results.append(
                _bad(
                    "RingCentral: the app lacks the SMS permission (CMN-401): add SMS in the app's "
                    "settings in the Developer Console, then make a new JWT-authorized session."
                )
            )
        else:
            code = threads_error.error_code or threads_error.status or type(threads_error).__name__
            results.append(
                _bad(f"RingCentral: listing message threads failed ({code}): {threads_error.message}")
            )
    finally:
        await client.aclose()
    return results


def _sign_in_problem(exc: Exception) -> str:
    from bot.ringcentral.errors import RingCentralError

    code = exc.error_code if isinstance(exc, RingCentralError) else None
    body = exc.body if isinstance(exc, RingCentralError) else None
    error = body.get("error") if isinstance(body, dict) else None
    detail = exc.message if isinstance(exc, RingCentralError) else str(exc)
    if error == "invalid_client" or code in ("OAU-123", "OAU-146"):
        return (
            f"RingCentral: RINGCENTRAL_CLIENT_ID / RINGCENTRAL_CLIENT_SECRET are refused ({code or error}): "
            "copy them again from the app's Credentials page in the Developer Console."
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


def check_public_url(settings: Settings) -> Result:
    url = settings.public_url
    if url is None:
        if settings.socket_mode:
            return _ok(
                "Public URL: not set; Socket Mode needs none, but /thread-note connect sign-ins then return "
                f"to http://localhost:{settings.port} (this machine only)"
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
            "of the bot (a load balancer or reverse proxy) and use its https URL."
        )
    try:
        response = httpx.get(f"{url}/healthz", timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return _bad(
            f"Public URL: {url}/healthz is not reachable ({_reason(exc)}): start `thread-note-bot serve`, "
            "check DNS and the proxy in front of it, then run check again."
        )
    data = _json(response)
    if response.status_code == 200 and isinstance(data, dict) and data.get("ok"):
        note = " (http on this machine: fine for trying it out)" if parts.scheme != "https" else ""
        return _ok(f"Public URL: {url}/healthz answers{note}")
    if isinstance(data, dict) and "ok" in data:
        return _bad(f"Public URL: the bot at {url} reports a problem: {data}.")
    return _bad(
        f"Public URL: {url}/healthz answered HTTP {response.status_code}, not the bot: point "
        "THREAD_NOTE_PUBLIC_URL (and the proxy) at thread-note-bot."
    )


# --- running it all -----------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def collect(env_file: str | None = ".env") -> list[Result]:
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

    def needs(*names: str) -> str | None:
        bad = [n for n in names if n in broken]
        return ", ".join(bad) if bad else None

    def run(label: str, names: tuple[str, ...], check: Callable[[], list[Result]]) -> None:
        blocked = needs(*names)
        if blocked:
            results.append(_skip(f"{label}: not checked until {blocked} is fixed"))
        else:
            results.extend(check())

    run(
        "Database",
        ("THREAD_NOTE_DATABASE_URL",),
        lambda: [asyncio.run(check_database(settings.database_url))],
    )
    run(
        "Slack",
        ("SLACK_API_URL", "SLACK_BOT_TOKEN"),
        lambda: check_slack(settings, broken),
    )
    run(
        "RingCentral",
        ("RINGCENTRAL_SERVER_URL", "RINGCENTRAL_CLIENT_ID", "RINGCENTRAL_CLIENT_SECRET", "RINGCENTRAL_JWT"),
        lambda: asyncio.run(check_ringcentral(settings)),
    )
    run("Public URL", ("THREAD_NOTE_PUBLIC_URL", "PORT"), lambda: [check_public_url(settings)])
    return results


def run_check(env_file: str | None = ".env", out: Any = None) -> int:
    from bot import logs
    from bot.demo import Printer  # the demo's ✓/✗ lines, colours and fallbacks

    logs.configure("WARNING")  # the report is the output; request logs would drown it
    p = Printer(out)
    p.line("thread-note-bot check")
    results = collect(env_file)
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


if TYPE_CHECKING:  # the RingCentral package is imported by the checks themselves, when they run
    from bot.ringcentral import RingCentralClient, RingCentralError


async def _handled_resources(client: RingCentralClient, me: str) -> tuple[list[str], RingCentralError | None]:
    """The call queues and sites (first 50) whose SMS recipients include `me`, and the error that kept the
    bot from reading resources or SMS recipients (getSmsRecipients is a Limited API an app may lack)."""
    from bot.ringcentral import RingCentralError

    handled: list[str] = []
    try:
        resources = [(q.id, q.name) for q in await client.list_call_queues()]
        resources += [(site.id, site.name) for site in await client.list_sites()]
        for resource_id, resource_name in resources[:50]:
            recipients = await client.list_sms_recipients(resource_id)
            if any(r.id == str(me) for r in recipients):
                handled.append(resource_name or resource_id)
    except RingCentralError as exc:
        return handled, exc
    return handled, None
