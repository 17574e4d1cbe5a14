"""Seeds: the app, and each account's users, common resources and conversations, the emulator starts with.

A seed is `"demo"` (the built-in `seeds/demo.yml`), a path to a YAML file, or an already-parsed dict. One
account::

    account: {id: "400017701", name: Acme, mainNumber: "+16505550100"}
    app: {clientId: ..., clientSecret: ..., jwtSecret: ..., redirectUris: [http://localhost:3000/cb]}
    users:            # people and service identities that can sign in (each gets a signed JWT credential)
      - {id: "62001001", name: Ana Alvarez, extensionNumber: "101", email: ..., timezone: America/New_York}
      - {id: "62001099", name: Thread Note Bot, extensionNumber: "199", service: true}
    resources:        # common resources (call queues and sites) with shared numbers
      - {id: "62000601", name: Support, type: CallQueue, extensionNumber: "601",
         phoneNumbers: ["+16505550123"],
         handlers: ["62001001", "62001099"],    # the SMS recipients: who handles its threads and notes
         members: ["62001001", "62001005"]}     # call-queue members (calls only); default: the handlers
      - {id: "62000100", name: Main Office, type: Site, extensionNumber: "1", phoneNumbers: ["+16505550100"],
         handlers: ["62001001"]}                # a site has SMS recipients but no queue members
    threads:
      - id: <uuid, optional>
        resource: "62000601"
        guest: "+14155550142"          # E.164
        status: Open | Resolved         # default Open
        assignee: "62001001"            # optional, must be a handler
        messages: [{direction: Inbound | Outbound, text: ..., author: <user id, outbound only>, ago: 4h30m}]
        notes: [{author: <user id>, text: ..., ago: 1h}]

`ago` is a duration before start-up (`2d`, `3h`, `45m`, `10s`, combinable: `1d2h`). Items are created in
time order, so creation and modification times are realistic and strictly increasing.

Several accounts: `app` as above, and `accounts: [{account, users, resources, threads}, ...]`, one item per
account (the first is the default one). As on RingCentral, the app is one client that every account may
use, while people, resources, threads and JWT credentials belong to one account; extension ids, thread ids
and phone numbers are unique across accounts. Or `load_seed(seed, accounts=N)`: the seed's accounts and
then copies of its first account, up to N, each with its own ids (`copy_account`).
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SEEDS_DIR = Path(__file__).parent / "seeds"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class SeedError(ValueError):
    """A seed file is malformed; the message names the item and what to fix."""


@dataclass
class SeedUser:
    id: str
    name: str
    extension_number: str
    email: str
    timezone: str
    service: bool
    admin: bool = False  # an account admin: may change SMS recipients (bulkAssignSmsRecipients)


RESOURCE_TYPES = ("CallQueue", "Site")


@dataclass
class SeedResource:
    id: str
    name: str
    extension_number: str
    phone_numbers: list[str]
    handlers: list[str]  # SMS recipients
    type: str = "CallQueue"
    members: list[str] = field(default_factory=list)  # call-queue members (none for a site)


@dataclass
class SeedAccount:
    account_id: str
    account_name: str
    main_number: str
    users: list[SeedUser]
    resources: list[SeedResource]
    threads: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Seed:
    """The app (one client for every account, as a RingCentral app is) and the accounts, default first."""

    client_id: str
    client_secret: str
    jwt_secret: str
    redirect_uris: list[str]
    accounts: list[SeedAccount]


def parse_duration(text: str | int | float) -> float:
    if isinstance(text, int | float):
        return float(text)
    total, pos = 0.0, 0
    for match in _DURATION.finditer(text.strip()):
        if match.start() != pos:
            break
        total += float(match.group(1)) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[match.group(2)]
        pos = match.end()
    if pos != len(text.strip()) or not text.strip():
        raise SeedError(f"bad duration {text!r}: use e.g. '2d', '3h', '45m', '1h30m'")
    return total


def load_seed(seed: str | Path | dict[str, Any], *, accounts: int = 1) -> Seed:
    """Parse a seed; with `accounts=N`, copies of its first account are added until there are N."""
    if isinstance(seed, dict):
        raw = seed
    else:
        path = SEEDS_DIR / "demo.yml" if str(seed) == "demo" else Path(seed)
        if not path.is_file():
            raise SeedError(f"seed file {str(path)!r} not found: pass 'demo' or a path to a YAML seed")
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise SeedError(
                f"seed file {str(path)!r} must hold a mapping with account, app, users, resources"
            )
    parsed = _parse(raw)
    for number in range(len(parsed.accounts) + 1, accounts + 1):
        parsed.accounts.append(copy_account(parsed.accounts[0], number))
    _check_unique(parsed.accounts)
    return parsed


def _req(item: dict[str, Any], key: str, where: str) -> Any:
    if key not in item or item[key] in (None, ""):
        raise SeedError(f"{where}: '{key}' is required")
    return item[key]


def _parse(raw: dict[str, Any]) -> Seed:
    app = raw.get("app") or {}
    listed = raw.get("accounts")
    if listed is None:
        accounts = [_parse_account(raw, "", 0)]
    else:
        one_account_keys = sorted(k for k in ("account", "users", "resources", "threads") if k in raw)
        if one_account_keys:
            raise SeedError(
                f"give either 'accounts' (a list of accounts) or one account's {one_account_keys} at the "
                "top level, not both"
            )
        if not isinstance(listed, list) or not listed or not all(isinstance(a, dict) for a in listed):
            raise SeedError("'accounts' must be a non-empty list of {account, users, resources, threads}")
        accounts = [_parse_account(item, f"accounts[{i}].", i) for i, item in enumerate(listed)]
    return Seed(
        client_id=str(_req(app, "clientId", "app")),
        client_secret=str(_req(app, "clientSecret", "app")),
        jwt_secret=str(app.get("jwtSecret") or app["clientSecret"] + "-jwt-signing-key-0123456789"),
        redirect_uris=[str(u) for u in app.get("redirectUris") or []],
        accounts=accounts,
    )


def _parse_account(raw: dict[str, Any], where_prefix: str, index: int) -> SeedAccount:
    account = raw.get("account") or {}
    users = [
        SeedUser(
            id=str(_req(u, "id", f"{where_prefix}users[{i}]")),
            name=str(_req(u, "name", f"{where_prefix}users[{i}]")),
            extension_number=str(u.get("extensionNumber", str(_req(u, "id", "users"))[-3:])),
            email=str(u.get("email", f"user{i}@sandbox.example")),
            timezone=str(u.get("timezone", "UTC")),
            service=bool(u.get("service", False)),
            admin=bool(u.get("admin", False)),
        )
        for i, u in enumerate(raw.get("users") or [])
    ]
    user_ids = {u.id for u in users}
    resources = [
        _parse_resource(r, f"{where_prefix}resources[{i}]", user_ids)
        for i, r in enumerate(raw.get("resources") or [])
    ]
    if not users:
        raise SeedError(
            f"{where_prefix}users: an account needs at least one user"
            if where_prefix
            else "a seed needs at least one user"
        )
    seeded = SeedAccount(
        account_id=str(account.get("id", 400000001 + index)),
        account_name=str(
            account.get("name", "Sandbox Account" if index == 0 else f"Sandbox Account {index + 1}")
        ),
        main_number=str(account.get("mainNumber", "+16505550100")),
        users=users,
        resources=resources,
        threads=list(raw.get("threads") or []),
    )
    resource_ids = {r.id for r in resources}
    for i, t in enumerate(seeded.threads):
        where = f"{where_prefix}threads[{i}]"
        if str(_req(t, "resource", where)) not in resource_ids:
            raise SeedError(f"{where}: resource {t['resource']!r} is not one of the resources' ids")
        if not _E164.match(str(_req(t, "guest", where))):
            raise SeedError(f"{where}: guest {t['guest']!r} is not E.164 (e.g. +14155550142)")
        if t.get("status", "Open") not in ("Open", "Resolved"):
            raise SeedError(f"{where}: status must be Open or Resolved")
    return seeded


def _parse_resource(r: dict[str, Any], where: str, user_ids: set[str]) -> SeedResource:
    numbers = [str(n) for n in r.get("phoneNumbers") or []]
    for number in numbers:
        if not _E164.match(number):
            raise SeedError(f"{where}: phone number {number!r} is not E.164 (e.g. +16505550123)")
    handlers = [str(h) for h in r.get("handlers") or []]
    kind = str(r.get("type", "CallQueue"))
    if kind not in RESOURCE_TYPES:
        raise SeedError(f"{where}: type must be CallQueue or Site, not {kind!r}")
    if kind == "Site" and r.get("members"):
        raise SeedError(f"{where}: a site has no call-queue members (its handlers are SMS recipients)")
    members = [str(m) for m in r.get("members", handlers)] if kind == "CallQueue" else []
    for person in handlers + members:
        if person not in user_ids:
            raise SeedError(f"{where}: handler or member {person!r} is not one of the users' ids")
    return SeedResource(
        id=str(_req(r, "id", where)),
        name=str(_req(r, "name", where)),
        extension_number=str(r.get("extensionNumber", str(r["id"])[-3:])),
        phone_numbers=numbers,
        handlers=handlers,
        type=kind,
        members=members,
    )


def _check_unique(accounts: list[SeedAccount]) -> None:
    """Ids and numbers are RingCentral-wide: no two accounts share an account id, an extension id (person or
    resource), a thread id or a resource's phone number."""
    owner: dict[tuple[str, str], int] = {}
    for index, account in enumerate(accounts):
        claims = [("account id", account.account_id)]
        claims += [("extension id", u.id) for u in account.users]
        claims += [("extension id", r.id) for r in account.resources]
        claims += [("thread id", str(t["id"])) for t in account.threads if t.get("id")]
        claims += [("phone number", n) for r in account.resources for n in r.phone_numbers]
        for key in claims:
            if owner.setdefault(key, index) != index:
                raise SeedError(
                    f"accounts[{owner[key]}] and accounts[{index}] both use {key[0]} {key[1]!r}: ids and "
                    "phone numbers are unique across accounts"
                )


def copy_account(first: SeedAccount, number: int) -> SeedAccount:
    """Account `number` (2, 3, ...) made from the first one: the same people, queues, sites and
    conversations under ids of its own: account id + number - 1, extension ids prefixed with `number`
    ("62001001" -> "262001001"), thread ids derived from the original's, phone numbers moved by
    (number - 1) million, emails under `a<number>.` + the domain. Guests keep their numbers: one customer
    may text two companies."""

    def ext(ext_id: str) -> str:
        return f"{number}{ext_id}"

    def phone(e164: str) -> str:
        return f"+{int(e164[1:]) + (number - 1) * 1_000_000}"

    account_id = (
        str(int(first.account_id) + number - 1)
        if first.account_id.isdigit()
        else f"{first.account_id}-{number}"
    )
    threads = copy.deepcopy(first.threads)
    for thread in threads:
        thread["resource"] = ext(str(thread["resource"]))
        if thread.get("id"):
            thread["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox:{account_id}:{thread['id']}"))
        if thread.get("assignee"):
            thread["assignee"] = ext(str(thread["assignee"]))
        for item in [*(thread.get("messages") or []), *(thread.get("notes") or [])]:
            if item.get("author"):
                item["author"] = ext(str(item["author"]))
    return SeedAccount(
        account_id=account_id,
        account_name=f"{first.account_name} {number}",
        main_number=phone(first.main_number),
        users=[
            SeedUser(
                ext(u.id),
                u.name,
                u.extension_number,
                u.email.replace("@", f"@a{number}.", 1),
                u.timezone,
                u.service,
                u.admin,
            )
            for u in first.users
        ],
        resources=[
            SeedResource(
                ext(r.id),
                r.name,
                r.extension_number,
                [phone(n) for n in r.phone_numbers],
                [ext(h) for h in r.handlers],
                r.type,
                [ext(m) for m in r.members],
            )
            for r in first.resources
        ],
        threads=threads,
    )
