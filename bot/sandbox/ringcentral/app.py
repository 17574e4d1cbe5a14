"""The Starlette app: real RingCentral paths, the rules around them, and the `/sandbox/*` control routes.

Each API request goes: thread TTL check → request log → injected faults → bearer check → rate limit (group
from the spec's `x-throttling-group`) → handler; errors become RingCentral error bodies; rate-limit headers
go on every answer the limiter saw; changes are pushed to webhooks afterwards, in the background.
"""

from __future__ import annotations

import html
import itertools
import json
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.sandbox.ringcentral import params as p
from bot.sandbox.ringcentral.account_data import State
from bot.sandbox.ringcentral.clock import SandboxClock, iso_ms
from bot.sandbox.ringcentral.error_bodies import ApiError, OAuthError, invalid, not_found
from bot.sandbox.ringcentral.faults import Faults, InjectedRateLimit, Requested
from bot.sandbox.ringcentral.oauth_server import Auth
from bot.sandbox.ringcentral.seeds import load_seed
from bot.sandbox.ringcentral.settings import SandboxSettings
from bot.sandbox.ringcentral.spec import throttling_group
from bot.sandbox.ringcentral.sync import SyncTokens, entries_sync, threads_sync
from bot.sandbox.ringcentral.throttling import RateLimiter
from bot.sandbox.ringcentral.webhooks import Webhooks

MT = "/restapi/v1.0/account/{accountId}/message-threads"
EXT = "/restapi/v1.0/account/{accountId}/extension/{extensionId}"
TIMELINE_LENGTH = 200_000  # requests kept with their times (`GET /sandbox/requests?timeline=1`)
Handler = Callable[["Call"], Awaitable[Response]]


class Call:
    """One API request as a handler sees it: `user` is the token's extension, `account` its account."""

    def __init__(self, sandbox: Sandbox, request: Request, user: str | None) -> None:
        self.sandbox = sandbox
        self.request = request
        self._user = user
        self.query = p.query_of(request)
        self.headers: dict[str, str] = {}

    @property
    def user(self) -> str:
        assert self._user is not None, "route declared without bearer auth"
        return self._user

    @property
    def account(self) -> Account:
        return self.sandbox.account_of(self.user)

    @property
    def state(self) -> State:
        return self.account.state

    def base(self) -> str:
        return str(self.request.base_url).rstrip("/")


@dataclass
class Account:
    """One emulated account: its data and rules, its sync tokens and its webhook subscriptions. Nothing
    here is shared with another account, so a token of one account reaches nothing of another."""

    state: State
    tokens: SyncTokens
    webhooks: Webhooks

    @property
    def id(self) -> str:
        return self.state.account_id


class Sandbox:
    """Everything the emulator holds; one per app. The app (client id and secret) is one for every account,
    as a RingCentral app is; people, resources, threads, notes, sync tokens and subscriptions are each
    account's own. The first account is the default one."""

    def __init__(
        self,
        seed: str | Path | dict[str, Any],
        clock: SandboxClock,
        settings: SandboxSettings,
        accounts: int = 1,
    ) -> None:
        self.seed = load_seed(seed, accounts=accounts)
        self.clock = clock
        self.settings = settings
        message_ids = itertools.count(2268298947)
        self.accounts = {
            a.account_id: Account(
                State.from_seed(a, clock, settings, message_ids),
                SyncTokens(),
                Webhooks(clock, settings, a.account_id),
            )
            for a in self.seed.accounts
        }
        # Extension ids are unique across accounts (as RingCentral's are): each names its account.
        self._owners = {
            ext_id: account
            for account in self.accounts.values()
            for ext_id in [*account.state.users, *account.state.resources]
        }
        self.auth = Auth(
            self.seed.client_id,
            self.seed.client_secret,
            self.seed.jwt_secret,
            clock,
            settings,
            {u for a in self.accounts.values() for u in a.state.users},
        )
        self.limiter = RateLimiter(settings)
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.requests_by_user: Counter[str] = Counter()
        self.requests_by_route_user: dict[str, Counter[str]] = {}
        self.requests_by_status: Counter[str] = Counter()
        self.requests_by_route_status: dict[str, Counter[str]] = {}
        # The last requests with their times, for benchmarks that time each step of a note's way (a proxy's
        # access log): (arrived ms, answered ms, "METHOD template", user, status).
        self.timeline: deque[tuple[int, int, str, str, int]] = deque(maxlen=TIMELINE_LENGTH)

    @property
    def default(self) -> Account:
        return next(iter(self.accounts.values()))

    def account_of(self, extension_id: str | None) -> Account:
        """The account of a person or resource; the default one for an unknown id (which it then refuses)."""
        return self._owners.get(extension_id or "", self.default)

    def account_named(self, account_id: str) -> Account:
        """An account by id, for the control routes (404 `SBX-404` when there is none)."""
        if account_id not in self.accounts:
            raise ApiError(404, "SBX-404", f"no account {account_id!r}; known: {sorted(self.accounts)}")
        return self.accounts[account_id]

    def tick(self) -> None:
        """Apply the passage of time (thread TTL) and push pending changes."""
        for account in self.accounts.values():
            account.state.expire_threads()
        self.flush()

    def flush(self) -> None:
        for account in self.accounts.values():
            if account.state.pending:
                pending, account.state.pending = account.state.pending, []
                account.webhooks.dispatch(pending)

    def log(self, method: str, template: str, user: str | None) -> None:
        key = f"{method} {template}"
        self.requests[key] += 1
        self.requests_by_user[user or "anonymous"] += 1
        self.requests_by_route_user.setdefault(key, Counter())[user or "anonymous"] += 1

    def log_status(self, method: str, template: str, status: int, user: str | None, arrived_ms: int) -> None:
        key = f"{method} {template}"
        self.requests_by_status[str(status)] += 1
        self.requests_by_route_status.setdefault(key, Counter())[str(status)] += 1
        self.timeline.append((arrived_ms, self.clock.now_ms(), key, user or "anonymous", status))

    def redirect_uris(self) -> list[str]:
        return self.seed.redirect_uris if self.settings.redirect_uris is None else self.settings.redirect_uris

    def credentials(self) -> dict[str, Any]:
        """The default account's credentials at the top level (as with one account), and every account's
        under `accounts`, each with the same fields."""
        accounts = [self._credentials_of(a.state) for a in self.accounts.values()]
        return {**accounts[0], "accounts": accounts}

    def _credentials_of(self, state: State) -> dict[str, Any]:
        return {
            "clientId": self.seed.client_id,
            "clientSecret": self.seed.client_secret,
            "accountId": state.account_id,
            "accountName": state.account_name,
            "redirectUris": self.redirect_uris(),
            "resources": [
                {"extensionId": r.id, "name": r.name, "type": r.type} for r in state.resources.values()
            ],
            "users": [
                {
                    "extensionId": u.id,
                    "name": u.name,
                    "jwt": self.auth.user_jwt(u.id),
                    "resources": [r.id for r in state.resources.values() if u.id in r.handlers],
                    "service": u.service,
                }
                for u in state.users.values()
            ],
        }

    def requested(self, method: str, template: str, request: Request, bearer: bool) -> Requested:
        """The request as faults match it (the caller's account from its token, unchecked)."""
        holder = self.auth.holder(request.headers.get("authorization")) if bearer else None
        return Requested(
            method,
            request.url.path,
            template,
            tuple(self.accounts),
            self.account_of(holder).id if holder else None,
        )


def _api(sandbox: Sandbox, method: str, template: str, handler: Handler, *, bearer: bool = True) -> Route:
    group = throttling_group(method, template)

    async def endpoint(request: Request) -> Response:
        arrived_ms = sandbox.clock.now_ms()
        sandbox.tick()
        user: str | None = None
        call: Call | None = None
        headers: dict[str, str] = {}
        requested = sandbox.requested(method, template, request, bearer)
        try:
            account = request.path_params.get("accountId")
            try:
                await sandbox.faults.apply(requested)
            except InjectedRateLimit as injected:
                if bearer:  # like a real 429: the caller's penalty starts, with the limiter's headers
                    user = sandbox.auth.bearer(request.headers.get("authorization"))
                    injected.headers = sandbox.limiter.penalise(
                        user, sandbox.seed.client_id, group, sandbox.clock.now(), injected.retry_after
                    )
                raise
            if bearer:
                user = sandbox.auth.bearer(request.headers.get("authorization"))
                headers = sandbox.limiter.hit(user, sandbox.seed.client_id, group, sandbox.clock.now())
            # `~` is the token's own account; any other account's id is as unknown as a made-up one.
            if account is not None and account not in ("~", sandbox.account_of(user).id):
                raise not_found("accountId", account)
            call = Call(sandbox, request, user)
            response = await handler(call)
            await sandbox.faults.apply_after(requested)
        except (ApiError, OAuthError) as exc:
            response = exc.response()
            headers = {**headers, **exc.headers}
        finally:
            sandbox.log(method, template, user)
        sandbox.log_status(method, template, response.status_code, user, arrived_ms)
        if call is not None:
            headers = {**headers, **call.headers}
        response.headers.update(headers)
        sandbox.flush()
        return response

    return Route(template, endpoint, methods=[method])


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


# ---- message threads ---------------------------------------------------------------------------------------


async def list_threads(c: Call) -> Response:
    q = c.query
    status = p.enum(q, "threadStatus", ("Open", "Resolved"))
    owners = p.id_list(q, "ownerExtensionIds")
    availability = p.id_list(q, "availability", choices=("Alive", "Deleted")) or ["Alive"]
    guest, owner_number = p.e164(q, "guestPhoneNumber"), p.e164(q, "ownerPhoneNumber")
    window = p.time_range(q)
    page, per_page = p.integer(q, "page", 1, 1, 1000), p.integer(q, "perPage", 100, 1, 1000, clamp=True)
    threads = [
        t
        for t in c.state.visible_threads(c.user)
        if (status is None or t.status == status)
        and (owners is None or t.resource_id in owners)
        and t.availability in availability
        and (guest is None or t.guest_number == guest)
        and (owner_number is None or t.owner_number == owner_number)
        and (window is None or window[0] <= t.created_ms <= window[1])
    ]
    threads.sort(key=lambda t: t.created_ms)
    chunk, meta = p.paging(threads, page, per_page)
    return _json({"records": [c.state.thread_json(t) for t in chunk], "paging": meta})


async def get_thread(c: Call) -> Response:
    return _json(c.state.thread_json(c.state.thread_for(c.user, c.request.path_params["threadId"])))


async def delete_thread(c: Call) -> Response:
    c.state.delete_thread(c.user, c.state.thread_for(c.user, c.request.path_params["threadId"]))
    return Response(status_code=204)


async def resolve_thread(c: Call) -> Response:
    thread = c.state.thread_for(c.user, c.request.path_params["threadId"])
    return _json(c.state.thread_json(c.state.resolve(c.user, thread)))


async def assign_thread(c: Call) -> Response:
    body = await p.json_object(c.request)
    if "assignee" not in body:
        raise invalid(
            "assignee",
            'Parameter [assignee] is required: {"assignee": {"extensionId": "…"}} or {"assignee": null}',
        )
    raw = body["assignee"]
    if raw is not None and (not isinstance(raw, dict) or not isinstance(raw.get("extensionId"), str)):
        raise invalid("assignee.extensionId", "Parameter [assignee.extensionId] must be a string")
    thread = c.state.thread_for(c.user, c.request.path_params["threadId"])
    return _json(c.state.thread_json(c.state.assign(c.user, thread, raw["extensionId"] if raw else None)))


async def sync_threads(c: Call) -> Response:
    return _json(threads_sync(c.state, c.account.tokens, c.user, c.query))


async def sync_entries(c: Call) -> Response:
    return _json(entries_sync(c.state, c.account.tokens, c.user, c.query))


async def list_messages(c: Call) -> Response:
    q = c.query
    status = p.enum(q, "threadStatus", ("Open", "Resolved"))
    owners = p.id_list(q, "ownerExtensionIds")
    availability = p.id_list(q, "availability", choices=("Alive", "Deleted")) or ["Alive"]
    message_ids, thread_ids = p.id_list(q, "messageIds"), p.id_list(q, "threadIds")
    window = p.time_range(q)
    page, per_page = p.integer(q, "page", 1, 1, 1000), p.integer(q, "perPage", 100, 1, 1000, clamp=True)
    visible = {t.id: t for t in c.state.visible_threads(c.user)}
    messages = [
        m
        for m in c.state.messages.values()
        if m.thread_id in visible
        and m.availability in availability
        and (status is None or visible[m.thread_id].status == status)
        and (owners is None or visible[m.thread_id].resource_id in owners)
        and (message_ids is None or m.id in message_ids)
        and (thread_ids is None or m.thread_id in thread_ids)
        and (window is None or window[0] <= m.created_ms <= window[1])
    ]
    messages.sort(key=lambda m: m.created_ms)
    chunk, meta = p.paging(messages, page, per_page)
    return _json({"records": [c.state.message_json(m) for m in chunk], "paging": meta})


async def list_notes(c: Call) -> Response:
    q = c.query
    owners = p.id_list(q, "ownerExtensionIds")
    availability = p.id_list(q, "availability", choices=("Alive", "Deleted")) or ["Alive"]
    if "Deleted" in availability and c.sandbox.settings.profile.deleted_notes_listing_refused:
        # profile `deleted_notes_listing_refused`: no guide or client shows deleted notes listed
        raise invalid(
            "availability", "Parameter [availability] value Deleted is not supported for notes", "Deleted"
        )
    thread_ids, note_ids = p.id_list(q, "threadIds"), p.id_list(q, "noteIds")
    page, per_page = p.integer(q, "page", 1, 1, 1000), p.integer(q, "perPage", 100, 1, 1000, clamp=True)
    visible = {t.id: t for t in c.state.visible_threads(c.user)}
    notes = [
        n
        for n in c.state.notes.values()
        if n.thread_id in visible
        and n.availability in availability
        and (owners is None or visible[n.thread_id].resource_id in owners)
        and (thread_ids is None or n.thread_id in thread_ids)
        and (note_ids is None or n.id in note_ids)
    ]
    notes.sort(key=lambda n: n.created_ms)
    chunk, meta = p.paging(notes, page, per_page)
    return _json({"records": [c.state.note_json(n) for n in chunk], "paging": meta})


async def create_note(c: Call) -> Response:
    body = await p.json_object(c.request)
    thread_id = body.get("threadId")
    if not isinstance(thread_id, str) or not thread_id:
        raise invalid("threadId", "Parameter [threadId] is required and must be a string")
    text = p.note_text(body, utf16=c.sandbox.settings.profile.text_length_utf16)
    return _json(c.state.note_json(c.state.create_note(c.user, thread_id, text)), 201)


async def update_note(c: Call) -> Response:
    text = p.note_text(await p.json_object(c.request), utf16=c.sandbox.settings.profile.text_length_utf16)
    return _json(c.state.note_json(c.state.update_note(c.user, c.request.path_params["noteId"], text)))


async def delete_notes(c: Call) -> Response:
    ids = (await p.json_object(c.request)).get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise invalid("ids", "Parameter [ids] must be a list of 1 to 100 note ids")
    for note_id in ids:
        if not isinstance(note_id, str) or not p.UUID.match(note_id):
            raise invalid("ids", "Parameter [ids] must hold note ids (UUIDs)", note_id)
    if len(set(ids)) != len(ids):
        raise invalid("ids", "Parameter [ids] must not repeat an id")
    c.state.delete_notes(c.user, ids)
    return Response(status_code=204)


# ---- account: extension, phone numbers, call queues --------------------------------------------------------


def _extension_json(c: Call, ext_id: str) -> dict[str, Any]:
    account = c.state.account_id
    uri = f"{c.base()}/restapi/v1.0/account/{account}/extension/{ext_id}"
    body: dict[str, Any] = {
        "id": int(ext_id),
        "uri": uri,
        "status": "Enabled",
        "hidden": False,
        "account": {"id": account, "uri": f"{c.base()}/restapi/v1.0/account/{account}"},
    }
    if ext_id in c.state.users:
        user = c.state.users[ext_id]
        first, _, last = user.name.partition(" ")
        body |= {
            "name": user.name,
            "extensionNumber": user.extension_number,
            "type": "User",
            "contact": {"firstName": first, "lastName": last, "email": user.email},
            "regionalSettings": {"timezone": {"id": user.timezone, "name": user.timezone}},
            "permissions": {"admin": {"enabled": user.admin}},
        }
    else:
        resource = c.state.resources[ext_id]
        body |= {
            "name": resource.name,
            "extensionNumber": resource.extension_number,
            "type": resource.extension_type,
        }
    return body


def _extension_id(c: Call) -> str:
    raw = c.request.path_params["extensionId"]
    ext_id = c.user if raw == "~" else raw
    if ext_id not in c.state.users and ext_id not in c.state.resources:
        raise not_found("extensionId", raw)
    return ext_id


async def read_extension(c: Call) -> Response:
    return _json(_extension_json(c, _extension_id(c)))


async def phone_numbers(c: Call) -> Response:
    ext_id = _extension_id(c)
    if ext_id != c.user:
        raise ApiError(
            403,
            "CMN-408",
            "In order to call this API endpoint, user needs to have "
            "[ReadUserPhoneNumbers] permission for the requested extension",
        )
    page, per_page = (
        p.integer(c.query, "page", 1, 1, 1000),
        p.integer(c.query, "perPage", 100, 1, 1000, clamp=True),
    )
    main = c.state.main_number
    records: list[dict[str, Any]] = [
        {
            "id": 1,
            "phoneNumber": main,
            "usageType": "MainCompanyNumber",
            "status": "Normal",
            "paymentType": "Local",
            "type": "VoiceFax",
            "primary": False,
            "features": ["CallerId"],
        }
    ]
    for index, resource in enumerate(r for r in c.state.resources.values() if c.user in r.handlers):
        for number in resource.phone_numbers:
            shared = {
                "features": ["CallerId", "SmsSender", "A2PSmsSender", "MmsSender"],
                "extension": {
                    "id": int(resource.id),
                    "extensionNumber": resource.extension_number,
                    "name": resource.name,
                    "type": resource.extension_type,
                },
            }
            if number == main:  # a site that shares the company number: an SMS recipient may send from it
                records[0] |= shared
                continue
            records.append(
                {
                    "id": 1000 + index,
                    "phoneNumber": number,
                    "usageType": "DirectNumber",
                    "status": "Normal",
                    "paymentType": "Local",
                    "type": "VoiceOnly",
                    "primary": False,
                    **shared,
                }
            )
    chunk, meta = p.paging(records, page, per_page)
    uri = f"{c.base()}{c.request.url.path}"
    return _json({"uri": uri, "records": chunk, "navigation": {}, "paging": meta})


async def call_queues(c: Call) -> Response:
    member = p.one(c.query, "memberExtensionId")
    page, per_page = (
        p.integer(c.query, "page", 1, 1, 1000),
        p.integer(c.query, "perPage", 100, 1, 1000, clamp=True),
    )
    queues = [
        r
        for r in c.state.resources.values()
        if r.type == "CallQueue" and (member is None or member in r.members)
    ]
    account = c.state.account_id
    records = [
        {
            "uri": f"{c.base()}/restapi/v1.0/account/{account}/call-queues/{r.id}",
            "id": r.id,
            "extensionNumber": r.extension_number,
            "name": r.name,
            "status": "Enabled",
        }
        for r in queues
    ]
    chunk, meta = p.paging(records, page, per_page)
    return _json(
        {"uri": f"{c.base()}{c.request.url.path}", "records": chunk, "navigation": {}, "paging": meta}
    )


async def call_queue_members(c: Call) -> Response:
    group_id = c.request.path_params["groupId"]
    resource = c.state.resources.get(group_id)
    if resource is None or resource.type != "CallQueue":
        raise not_found("groupId", group_id)
    page, per_page = (
        p.integer(c.query, "page", 1, 1, 1000),
        p.integer(c.query, "perPage", 100, 1, 1000, clamp=True),
    )
    account = c.state.account_id
    records = [
        {
            "uri": f"{c.base()}/restapi/v1.0/account/{account}/extension/{h}",
            "id": int(h),
            "extensionNumber": c.state.users[h].extension_number,
        }
        for h in resource.members
    ]
    chunk, meta = p.paging(records, page, per_page)
    return _json(
        {"uri": f"{c.base()}{c.request.url.path}", "records": chunk, "navigation": {}, "paging": meta}
    )


async def sites(c: Call) -> Response:
    """listSites: the account's sites (here every seeded one, the main site included)."""
    account = c.state.account_id
    records = [
        {
            "id": r.id,
            "uri": f"{c.base()}/restapi/v1.0/account/{account}/sites/{r.id}",
            "name": r.name,
            "extensionNumber": r.extension_number,
        }
        for r in c.state.resources.values()
        if r.type == "Site"
    ]
    return _json({"uri": f"{c.base()}{c.request.url.path}", "records": records})


def _recipients_of(c: Call) -> Any:
    """The common resource whose SMS recipients are asked for; 403 where the app may not use this Limited
    API (profile `sms_recipients_refused`); 404 for an id that is no call queue or site."""
    if c.sandbox.settings.profile.sms_recipients_refused:
        raise ApiError(
            403,
            "CMN-401",
            "In order to call this API endpoint, application needs to have [ReadAccounts] permission "
            "and access to this Limited API",
        )
    raw = c.request.path_params["extensionId"]
    resource = c.state.resources.get(raw)
    if resource is None:
        raise not_found("extensionId", raw)
    return resource


async def sms_recipients(c: Call) -> Response:
    resource = _recipients_of(c)
    records = []
    for ext_id in resource.handlers:
        user = c.state.users[ext_id]
        records.append(
            {
                "id": ext_id,
                "extensionNumber": user.extension_number,
                "extensionType": "User",
                "name": user.name,
                "assignable": True,
                "hasLicense": True,
            }
        )
    return _json({"smsRecipients": records})


async def bulk_assign_sms_recipients(c: Call) -> Response:
    """Only an account admin may change who handles a resource (EditExtensions)."""
    resource = _recipients_of(c)
    body = await p.json_object(c.request)
    lists: dict[str, list[str]] = {}
    for name in ("addedExtensionIds", "removedExtensionIds"):
        value = body.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(name, f"Parameter [{name}] must be a list of extension ids")
        if len(value) > 50 or len(set(value)) != len(value):
            raise invalid(name, f"Parameter [{name}] takes at most 50 distinct extension ids")
        for ext_id in value:
            if ext_id not in c.state.users:
                raise not_found(name, ext_id)
        lists[name] = value
    added, removed = lists["addedExtensionIds"], lists["removedExtensionIds"]
    if not added and not removed:
        raise invalid("addedExtensionIds", "One of [addedExtensionIds], [removedExtensionIds] must be given")
    if set(added) & set(removed):
        raise invalid("removedExtensionIds", "An extension cannot be both added and removed")
    if not c.state.users[c.user].admin:
        raise ApiError(
            403,
            "CMN-408",
            "In order to call this API endpoint, user needs to have [EditExtensions] permission "
            "for the requested extension",
        )
    c.state.assign_sms_recipients(resource.id, added, removed)
    return Response(status_code=204)


# ---- subscriptions -----------------------------------------------------------------------------------------


def _subs(c: Call) -> Webhooks:
    """The caller's account's subscriptions: another account's subscription id is unknown (404)."""
    hooks = c.account.webhooks
    hooks.base_url = c.base()
    return hooks


async def list_subscriptions(c: Call) -> Response:
    hooks = _subs(c)
    now = c.sandbox.clock.now_ms()
    mine = [
        hooks.to_json(s) for s in hooks.subscriptions.values() if s.user_id == c.user and s.expires_ms > now
    ]
    return _json({"uri": f"{c.base()}/restapi/v1.0/subscription", "records": mine})


async def create_subscription(c: Call) -> Response:
    hooks = _subs(c)
    return _json(hooks.to_json(await hooks.create(c.user, await p.json_object(c.request))))


async def get_subscription(c: Call) -> Response:
    hooks = _subs(c)
    return _json(hooks.to_json(hooks.get(c.user, c.request.path_params["subscriptionId"])))


async def update_subscription(c: Call) -> Response:
    hooks = _subs(c)
    body = await p.json_object(c.request) if await c.request.body() else {}
    return _json(hooks.to_json(hooks.renew(c.user, c.request.path_params["subscriptionId"], body)))


async def renew_subscription(c: Call) -> Response:
    hooks = _subs(c)
    return _json(hooks.to_json(hooks.renew(c.user, c.request.path_params["subscriptionId"])))


async def delete_subscription(c: Call) -> Response:
    _subs(c).delete(c.user, c.request.path_params["subscriptionId"])
    return Response(status_code=204)


# ---- OAuth -------------------------------------------------------------------------------------------------


async def _form(c: Call) -> dict[str, str]:
    ctype = c.request.headers.get("content-type", "")
    if not ctype.startswith("application/x-www-form-urlencoded"):
        raise OAuthError(
            415, "invalid_request", "Content-Type must be application/x-www-form-urlencoded", "OAU-101"
        )
    return dict(parse_qsl((await c.request.body()).decode(), keep_blank_values=True))


async def token(c: Call) -> Response:
    form = await _form(c)
    c.sandbox.auth.check_client(c.request.headers.get("authorization"))
    c.headers |= c.sandbox.limiter.hit(
        c.sandbox.auth.peek_subject(form), c.sandbox.seed.client_id, "Auth", c.sandbox.clock.now()
    )
    answer = c.sandbox.auth.token(form)
    return JSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def revoke(c: Call) -> Response:
    form = await _form(c) if await c.request.body() else {}
    c.sandbox.auth.check_client(c.request.headers.get("authorization"))
    value = form.get("token") or p.one(c.query, "token")
    owner = c.sandbox.auth.peek_subject({"grant_type": "refresh_token", "refresh_token": value or ""})
    c.headers |= c.sandbox.limiter.hit(owner, c.sandbox.seed.client_id, "Auth", c.sandbox.clock.now())
    if not value:
        raise OAuthError(400, "invalid_request", "Parameter [token] is missing", "OAU-101", parameter="token")
    c.sandbox.auth.revoke_token(value)
    return Response(status_code=200)


async def authorize(c: Call) -> Response:
    args = (
        dict(c.request.query_params.multi_items())
        if c.request.method == "GET"
        else dict(parse_qsl((await c.request.body()).decode(), keep_blank_values=True))
    )
    sandbox = c.sandbox
    # A web page a person signs in on, not an API call: RingCentral's rate-limit groups apply to the token
    # endpoint that follows (limited above, per user), not here. Trying the demo with a few people, or a page
    # reloaded a few times, must never answer 429.

    def bad(error: str, description: str, parameter: str) -> OAuthError:
        return OAuthError(400, error, description, "OAU-101", parameter=parameter)

    if args.get("client_id") != sandbox.seed.client_id:
        raise bad("unauthorized_client", f"Unknown client_id [{args.get('client_id')}]", "client_id")
    if args.get("response_type") != "code":
        raise bad("unsupported_response_type", "Parameter [response_type] must be 'code'", "response_type")
    allowed = sandbox.redirect_uris()
    redirect_uri = args.get("redirect_uri")
    anything = not allowed or allowed == ["*"]
    if redirect_uri is None:
        if anything or len(allowed) != 1:
            raise bad("invalid_request", "Parameter [redirect_uri] is required", "redirect_uri")
    elif not redirect_uri.startswith(("http://", "https://")) or (
        not anything and redirect_uri not in allowed
    ):
        raise bad(
            "invalid_request",
            f"Parameter [redirect_uri] [{redirect_uri}] is not registered for this app; "
            f"registered: {allowed} (change with POST /sandbox/config {{redirectUris}})",
            "redirect_uri",
        )
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method", "plain")
    if method not in ("plain", "S256"):
        raise bad(
            "invalid_request",
            "Parameter [code_challenge_method] must be plain or S256",
            "code_challenge_method",
        )
    if "code_challenge_method" in args and not challenge:
        raise bad(
            "invalid_request",
            "Parameter [code_challenge] is required with code_challenge_method",
            "code_challenge",
        )
    picked = args.pop("sandbox_user", None)
    if picked is None:
        # An absolute URL, as the spec's Location header (format: uri) and real servers give it.
        login = str(c.request.url_for("sandbox_login"))
        return RedirectResponse(f"{login}?{urlencode(args)}", status_code=302)
    if picked not in sandbox.account_of(picked).state.users:  # whoever signs in gets a token of their account
        raise bad("access_denied", f"sandbox_user [{picked}] is not a user of any account", "sandbox_user")
    code = sandbox.auth.new_code(picked, redirect_uri, challenge, method)
    target = redirect_uri or allowed[0]
    extra = {"code": code, "expires_in": str(int(sandbox.settings.auth_code_ttl))}
    if "state" in args:
        extra["state"] = args["state"]
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}{urlencode(extra)}", status_code=302)


async def not_implemented(c: Call) -> Response:
    raise ApiError(404, "AGW-404", f"The sandbox does not emulate {c.request.method} {c.request.url.path}")


# ---- control routes (/sandbox/*) ---------------------------------------------------------------------------


def person_label(name: str, extension_number: str | None) -> str:
    """How a person is named wherever the sign-in shows them: "Ana Alvarez (ext. 101)"."""
    return f"{name} (ext. {extension_number})" if extension_number else name


def _login_query(args: list[tuple[str, str]], user_id: str) -> str:
    return html.escape(urlencode([*args, ("sandbox_user", user_id)]))


def _snapshot(account: Account) -> dict[str, list[dict[str, Any]]]:
    """One account's records for `GET /sandbox/state`, each tagged with its `accountId`."""
    s, hooks, tag = account.state, account.webhooks, {"accountId": account.id}
    return {
        "threads": [{**s.thread_json(t), **tag} for t in s.threads.values()],
        "notes": [
            {**asdict(n), **s.note_json(n), "text": n.text, "authorId": n.author_id, **tag}
            for n in s.notes.values()
        ],
        "messages": [{**s.message_json(m), **tag} for m in s.messages.values()],
        "subscriptions": [
            {**hooks.to_json(x), "ownerId": x.user_id, **tag} for x in hooks.subscriptions.values()
        ],
        "deliveries": [{**asdict(d), **tag} for d in hooks.deliveries],
    }


def _login_page(sandbox: Sandbox, args: list[tuple[str, str]]) -> str:
    """The sign-in page: every person, under their account's name when there are several accounts."""

    def people(state: State) -> str:
        rows = "".join(
            f'<li><a href="/restapi/oauth/authorize?{_login_query(args, u.id)}">'
            f"{html.escape(person_label(u.name, u.extension_number))}</a>"
            f"{' — the service user' if u.service else ''}</li>"
            for u in state.users.values()
        )
        return f"<ul>{rows}</ul>"

    head = "<!doctype html><html><head><title>RingCentral sandbox sign-in</title></head><body>"
    if len(sandbox.accounts) == 1:
        state = sandbox.default.state
        return (
            f"{head}<h1>{html.escape(state.account_name)} — sign in to the RingCentral sandbox</h1>"
            f"<p>Pick the person to sign in as:</p>{people(state)}</body></html>"
        )
    sections = "".join(
        f"<h2>{html.escape(a.state.account_name)} (account {html.escape(a.id)})</h2>{people(a.state)}"
        for a in sandbox.accounts.values()
    )
    return (
        f"{head}<h1>Sign in to the RingCentral sandbox</h1>"
        f"<p>Pick the person to sign in as; each belongs to one account:</p>{sections}</body></html>"
    )


def _control_routes(sandbox: Sandbox) -> list[BaseRoute]:
    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, "SBX-400", "send a JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(400, "SBX-400", "send a JSON object")
        return body

    def control(
        handler: Callable[[Request], Awaitable[Any]], status: int = 200
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await handler(request)
            except ApiError as exc:
                return exc.response()
            except (KeyError, TypeError, ValueError) as exc:
                return JSONResponse({"errorCode": "SBX-400", "message": f"bad control request: {exc!r}"}, 400)
            sandbox.flush()
            return result if isinstance(result, Response) else JSONResponse(result, status_code=status)

        return endpoint

    async def credentials(_: Request) -> Any:
        return sandbox.credentials()

    async def add_fault(request: Request) -> Any:
        body = await body_of(request)
        scope = sandbox.account_named(str(body["accountId"])) if body.get("accountId") else None
        fault = sandbox.faults.add(body)
        if fault.kind == "expire_tokens":
            users = set(scope.state.users) if scope is not None else None
            sandbox.auth.expire_access({body["extensionId"]} if body.get("extensionId") else users)
        return {"id": fault.id}

    async def list_faults(_: Request) -> Any:
        return {"faults": [f.to_json() for f in sandbox.faults.active]}

    async def clear_faults(_: Request) -> Any:
        return {"cleared": sandbox.faults.clear()}

    async def release(request: Request) -> Any:
        return sandbox.faults.release(request.path_params["faultId"]).to_json()

    async def config(request: Request) -> Any:
        if request.method == "POST":
            sandbox.settings.update(await body_of(request))
        return sandbox.settings.to_json()

    async def new_thread(request: Request) -> Any:
        body = await body_of(request)
        guest = str(body.get("guestNumber", ""))
        if not p.E164.match(guest):
            raise ApiError(400, "SBX-400", "guestNumber must be E.164, e.g. +14155550142")
        sandbox.tick()
        text = str(body.get("text") or "Hello, I need some help.")
        resource_id = str(body.get("resourceId"))
        state = sandbox.account_of(resource_id).state  # the resource's account: its ids are unique
        thread, created = state.customer_texts(resource_id, guest, text)
        return JSONResponse(state.thread_json(thread), status_code=201 if created else 200)

    async def sms_recipients(request: Request) -> Any:
        """What an admin does in the Admin Portal: change who handles a resource (its SMS recipients)."""
        body = await body_of(request)
        resource_id = str(body.get("resourceId"))
        state = sandbox.account_of(resource_id).state
        if resource_id not in state.resources:
            raise ApiError(404, "SBX-404", f"no resource {resource_id}")
        added, removed = list(body.get("added") or []), list(body.get("removed") or [])
        unknown = [e for e in added + removed if e not in state.users]
        if unknown:
            raise ApiError(400, "SBX-400", f"no user {unknown[0]} in the resource's account")
        state.assign_sms_recipients(resource_id, added, removed)
        return {"resourceId": resource_id, "handlers": state.resources[resource_id].handlers}

    async def clock(request: Request) -> Any:
        if request.method == "POST":
            sandbox.clock.advance(float((await body_of(request)).get("advance", 0)))
            sandbox.tick()
        return {"now": iso_ms(sandbox.clock.now_ms()), "offset": sandbox.clock.offset}

    async def expire_sync(_: Request) -> Any:
        return {"expired": sum(a.tokens.expire_all() for a in sandbox.accounts.values())}

    async def revoke_user(request: Request) -> Any:
        return {"revokedSessions": sandbox.auth.revoke_user(str((await body_of(request))["extensionId"]))}

    async def requests(request: Request) -> Any:
        if request.method == "DELETE":
            sandbox.requests.clear()
            sandbox.requests_by_user.clear()
            sandbox.requests_by_route_user.clear()
            sandbox.requests_by_status.clear()
            sandbox.requests_by_route_status.clear()
            sandbox.timeline.clear()
        timeline = {"timeline": list(sandbox.timeline)} if request.query_params.get("timeline") else {}
        return {
            "byStatus": dict(sandbox.requests_by_status),
            "byRouteAndStatus": {k: dict(v) for k, v in sandbox.requests_by_route_status.items()},
            "total": sum(sandbox.requests.values()),
            "byRoute": dict(sandbox.requests),
            "byUser": dict(sandbox.requests_by_user),
            "byRouteAndUser": {k: dict(v) for k, v in sandbox.requests_by_route_user.items()},
        } | timeline

    async def state(request: Request) -> Any:
        sandbox.tick()
        chosen = request.query_params.get("accountId")
        accounts = [sandbox.account_named(chosen)] if chosen else list(sandbox.accounts.values())
        out: dict[str, Any] = {"now": iso_ms(sandbox.clock.now_ms())}
        for key in ("threads", "notes", "messages", "subscriptions", "deliveries"):
            out[key] = [record for account in accounts for record in _snapshot(account)[key]]
        return out

    async def login(request: Request) -> Response:
        return HTMLResponse(_login_page(sandbox, list(request.query_params.multi_items())))

    return [
        Route("/sandbox/credentials", control(credentials), methods=["GET"]),
        Route("/sandbox/faults", control(add_fault), methods=["POST"]),
        Route("/sandbox/faults", control(list_faults), methods=["GET"]),
        Route("/sandbox/faults", control(clear_faults), methods=["DELETE"]),
        Route("/sandbox/faults/{faultId}/release", control(release), methods=["POST"]),
        Route("/sandbox/config", control(config), methods=["GET", "POST"]),
        Route("/sandbox/threads", control(new_thread), methods=["POST"]),
        Route("/sandbox/sms-recipients", control(sms_recipients), methods=["POST"]),
        Route("/sandbox/clock", control(clock), methods=["GET", "POST"]),
        Route("/sandbox/sync/expire", control(expire_sync), methods=["POST"]),
        Route("/sandbox/revoke", control(revoke_user), methods=["POST"]),
        Route("/sandbox/requests", control(requests), methods=["GET", "DELETE"]),
        Route("/sandbox/state", control(state), methods=["GET"]),
        Route("/sandbox/login", login, methods=["GET"], name="sandbox_login"),
    ]


def create_app(
    seed: str | Path | dict[str, Any] = "demo",
    *,
    clock: Callable[[], float] | None = None,
    settings: SandboxSettings | None = None,
    accounts: int = 1,
) -> Starlette:
    """The emulator as an ASGI app. `clock` returns epoch seconds (default `time.time`); `accounts=N` adds
    copies of the seed's first account until there are N (`seeds.copy_account`)."""
    sandbox = Sandbox(seed, SandboxClock(clock), settings or SandboxSettings(), accounts)
    s = sandbox
    routes: list[BaseRoute] = [
        _api(s, "GET", MT, list_threads),
        _api(s, "GET", f"{MT}/sync", sync_threads),
        _api(s, "GET", f"{MT}/entries/sync", sync_entries),
        _api(s, "GET", f"{MT}/messages", list_messages),
        _api(s, "GET", f"{MT}/notes", list_notes),
        _api(s, "POST", f"{MT}/notes", create_note),
        _api(s, "DELETE", f"{MT}/notes", delete_notes),
        _api(s, "PATCH", f"{MT}/notes/{{noteId}}", update_note),
        _api(s, "GET", f"{MT}/{{threadId}}", get_thread),
        _api(s, "DELETE", f"{MT}/{{threadId}}", delete_thread),
        _api(s, "POST", f"{MT}/{{threadId}}/resolve", resolve_thread),
        _api(s, "POST", f"{MT}/{{threadId}}/assign", assign_thread),
        _api(s, "GET", "/restapi/v1.0/account/{accountId}/extension/{extensionId}", read_extension),
        _api(
            s, "GET", "/restapi/v1.0/account/{accountId}/extension/{extensionId}/phone-number", phone_numbers
        ),
        _api(s, "GET", "/restapi/v1.0/account/{accountId}/call-queues", call_queues),
        _api(s, "GET", "/restapi/v1.0/account/{accountId}/call-queues/{groupId}/members", call_queue_members),
        _api(s, "GET", "/restapi/v1.0/account/{accountId}/sites", sites),
        _api(s, "GET", f"{EXT}/sms-recipients", sms_recipients),
        _api(s, "POST", f"{EXT}/sms-recipients/bulk-assign", bulk_assign_sms_recipients),
        _api(s, "GET", "/restapi/v1.0/subscription", list_subscriptions),
        _api(s, "POST", "/restapi/v1.0/subscription", create_subscription),
        _api(s, "GET", "/restapi/v1.0/subscription/{subscriptionId}", get_subscription),
        _api(s, "PUT", "/restapi/v1.0/subscription/{subscriptionId}", update_subscription),
        _api(s, "DELETE", "/restapi/v1.0/subscription/{subscriptionId}", delete_subscription),
        _api(s, "POST", "/restapi/v1.0/subscription/{subscriptionId}/renew", renew_subscription),
        _api(s, "POST", "/restapi/oauth/token", token, bearer=False),
        _api(s, "POST", "/restapi/oauth/revoke", revoke, bearer=False),
        _api(s, "GET", "/restapi/oauth/authorize", authorize, bearer=False),
        _api(s, "POST", "/restapi/oauth/authorize", authorize, bearer=False),
        *_control_routes(s),
        *[
            _api(s, m, "/restapi/{rest:path}", not_implemented, bearer=False)
            for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
        ],
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        for account in sandbox.accounts.values():
            await account.webhooks.drain()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
