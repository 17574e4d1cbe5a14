"""RingCentral, in one session of the service identity: who it is, what it handles, the SMS permission and
real time (its webhook subscriptions)."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import httpx

from bot.check.results import TIMEOUT, Result, bad, json_body, ok, reason
from bot.config import Settings

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
        return bad(
            f"RingCentral: cannot reach {server} ({reason(exc)}): check RINGCENTRAL_SERVER_URL and this "
            "machine's network or proxy."
        )
    body = json_body(response)
    status = response.status_code
    if status == 429:
        return bad(_rate_limited("signing in", _retry_after(response)))
    if status == 200 and isinstance(body, dict) and "access_token" in body:
        try:
            return TokenEndpoint.parse(response, issued_at=time.time())
        except ValueError:
            pass  # not a token answer after all: named below
    elif status in (400, 401, 403) and isinstance(body, dict) and ("error" in body or "errorCode" in body):
        return bad(_sign_in_problem(token_error(response)))
    elif status >= 500 and isinstance(body, dict):
        return bad(
            f"RingCentral: {server} answered HTTP {status} to the sign-in: RingCentral is having trouble; "
            "run check again in a few minutes."
        )
    shape = "JSON" if body is not None else "not JSON"
    return bad(
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
            return [bad(_rc_failure(settings, "reading the service user", exc))]
        name = me.name or "the service user"
        results = [
            ok(f"RingCentral: the service identity signs in with RINGCENTRAL_JWT as {name} (ext {me.id})")
        ]
        threads = await _threads_visible(client)
        if isinstance(threads, RateLimited):  # one line, and no more requests into the penalty
            results.append(bad(_rc_failure(settings, "listing message threads", threads)))
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
        return bad(_rc_failure(settings, "reading SMS recipients", exc))
    except Forbidden as exc:
        refused = exc
    except RingCentralError as exc:
        return bad(_rc_failure(settings, f"telling what {name} handles", exc))
    if handled:
        return ok(f"RingCentral: {name} handles {handled} (an SMS recipient)")
    if refused is not None and isinstance(threads, int) and threads:
        return ok(
            f"RingCentral: {name} sees message threads (a handler of a site or queue; RingCentral does not "
            f"let this app read SMS recipients: {refused.error_code or 'refused'})"
        )
    if refused is not None:
        return bad(
            f"RingCentral: cannot tell what {name} handles ({refused.error_code or refused.status}): give "
            "the app the Read Accounts permission."
        )
    return bad(
        f"RingCentral: {name} (ext {me.id}) handles no shared resource: make this user an SMS recipient of "
        "the call queues and sites whose notes should reach Slack (Admin Portal → Call Queues or Sites → SMS "
        "recipients; queue membership alone is not enough)."
    )


def _check_sms_permission(settings: Settings, threads: Any) -> Result:
    """Listing message threads is allowed (not 403 `CMN-401`, the missing SMS permission)."""
    if isinstance(threads, int):
        return ok("RingCentral: the app may read SMS message threads (SMS permission)")
    return bad(_rc_failure(settings, "listing message threads", threads))


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
        return [ok("Real time: off (THREAD_NOTE_PUBLIC_URL is not set); notes arrive by polling")]
    address = settings.public_url + "/ringcentral/webhook"
    try:
        subs = await client.list_subscriptions()
    except RingCentralError as exc:
        return [bad("Real time: " + _rc_failure(settings, "listing webhook subscriptions", exc))]
    ours = [x for x in subs if x.delivery_mode is not None and x.delivery_mode.address == address]
    need = f"webhooks need the app's {APP_PERMISSION} permission"
    if not ours:
        return [ok(f"Real time: no webhook to {address} yet; `serve` creates it ({need})")]
    results: list[Result] = []
    for sub in ours:
        if sub.disabled_filters:
            names = ", ".join(
                f"{f.filter} ({f.reason or f.message or 'no reason given'})" for f in sub.disabled_filters
            )
            results.append(bad(
                f"Real time: OFF, RingCentral disabled {names}: give the app the {APP_PERMISSION} permission "
                "in the Developer Console (the bot makes the subscription anew every 5 minutes). Notes still "
                "arrive by polling."
            ))  # fmt: skip
        elif sub.status not in (None, "Active"):
            results.append(bad(
                f"Real time: the webhook {sub.id} is {sub.status}: check that {address} answers, the bot "
                "re-creates it on its next renewal. Notes still arrive by polling."
            ))  # fmt: skip
    if not results:
        results.append(ok(f"Real time: RingCentral delivers to {address} ({need})"))
    return results
