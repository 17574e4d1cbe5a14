"""Seeds: the account, app, users, common resources and conversations the emulator starts with.

A seed is `"demo"` (the built-in `seeds/demo.yml`), a path to a YAML file, or an already-parsed dict::

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
"""

from __future__ import annotations

import re
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
class Seed:
    account_id: str
    account_name: str
    main_number: str
    client_id: str
    client_secret: str
    jwt_secret: str
    redirect_uris: list[str]
    users: list[SeedUser]
    resources: list[SeedResource]
    threads: list[dict[str, Any]] = field(default_factory=list)


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


def load_seed(seed: str | Path | dict[str, Any]) -> Seed:
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
    return _parse(raw)


def _req(item: dict[str, Any], key: str, where: str) -> Any:
    if key not in item or item[key] in (None, ""):
        raise SeedError(f"{where}: '{key}' is required")
    return item[key]


def _parse(raw: dict[str, Any]) -> Seed:
    account = raw.get("account") or {}
    app = raw.get("app") or {}
    users = [
        SeedUser(
            id=str(_req(u, "id", f"users[{i}]")),
            name=str(_req(u, "name", f"users[{i}]")),
            extension_number=str(u.get("extensionNumber", str(_req(u, "id", "users"))[-3:])),
            email=str(u.get("email", f"user{i}@sandbox.example")),
            timezone=str(u.get("timezone", "UTC")),
            service=bool(u.get("service", False)),
            admin=bool(u.get("admin", False)),
        )
        for i, u in enumerate(raw.get("users") or [])
    ]
    user_ids = {u.id for u in users}
    resources: list[SeedResource] = []
    for i, r in enumerate(raw.get("resources") or []):
        where = f"resources[{i}]"
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
        resources.append(
            SeedResource(
                id=str(_req(r, "id", where)),
                name=str(_req(r, "name", where)),
                extension_number=str(r.get("extensionNumber", str(r["id"])[-3:])),
                phone_numbers=numbers,
                handlers=handlers,
                type=kind,
                members=members,
            )
        )
    if not users:
        raise SeedError("a seed needs at least one user")
    seed = Seed(
        account_id=str(account.get("id", "400000001")),
        account_name=str(account.get("name", "Sandbox Account")),
        main_number=str(account.get("mainNumber", "+16505550100")),
        client_id=str(_req(app, "clientId", "app")),
        client_secret=str(_req(app, "clientSecret", "app")),
        jwt_secret=str(app.get("jwtSecret") or app["clientSecret"] + "-jwt-signing-key-0123456789"),
        redirect_uris=[str(u) for u in app.get("redirectUris") or []],
        users=users,
        resources=resources,
        threads=list(raw.get("threads") or []),
    )
    resource_ids = {r.id for r in resources}
    for i, t in enumerate(seed.threads):
        where = f"threads[{i}]"
        if str(_req(t, "resource", where)) not in resource_ids:
            raise SeedError(f"{where}: resource {t['resource']!r} is not one of the resources' ids")
        if not _E164.match(str(_req(t, "guest", where))):
            raise SeedError(f"{where}: guest {t['guest']!r} is not E.164 (e.g. +14155550142)")
        if t.get("status", "Open") not in ("Open", "Resolved"):
            raise SeedError(f"{where}: status must be Open or Resolved")
    return seed
