"""The emulator's readings of entries/sync and the notes list (profiles): unknown records, capped syncs,
single-use tokens, a refused listing of deleted notes. Each is checked against the official spec, as
adapted for the profile (tests/kit/openapi.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from bot.sandbox.profiles import DEFAULT, PROFILES
from tests.kit.rc import RcSandbox
from tests.sandbox.helpers import ANA_THREAD, MT, bearer, error_code, login

SYNC = f"{MT}/entries/sync"
CAP_3 = replace(DEFAULT, name="cap-3", sync_record_cap=3)


async def _as(http: httpx.AsyncClient, rc: RcSandbox, name: str) -> dict[str, str]:
    user = rc.service_user if name == "bot" else rc.user(name)
    return bearer(await login(http, rc, user))


async def _notes(http: httpx.AsyncClient, who: dict[str, str], count: int) -> list[str]:
    ids = []
    for i in range(count):
        answer = await http.post(f"{MT}/notes", json={"threadId": ANA_THREAD, "text": f"n{i}"}, headers=who)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


async def _isync(http: httpx.AsyncClient, who: dict[str, str], token: str, **extra: Any) -> httpx.Response:
    return await http.get(SYNC, params={"syncType": "ISync", "syncToken": token, **extra}, headers=who)


@pytest.mark.parametrize("sandbox_profile", ["unknown-sync-records"], indirect=True)
async def test_unknown_records_system_entries_and_fields_are_mixed_into_syncs(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    bot, ben = await _as(http, rc_sandbox, "bot"), await _as(http, rc_sandbox, "Ben")
    token = (await http.get(SYNC, params={"scope": "Accessible"}, headers=bot)).json()["syncInfo"][
        "syncToken"
    ]
    (note_id,) = await _notes(http, ben, 1)
    records = (await _isync(http, bot, token)).json()["records"]
    kinds = [r.get("recordType") for r in records]
    assert "ThreadUnassignedHint" in kinds
    assert any("recordType" not in r and r.get("action") for r in records), "a system entry"
    note = next(r for r in records if r.get("id") == note_id)
    assert note["recordType"] == "AliveNote" and "eventSequence" in note


@pytest.mark.parametrize("sandbox_profile", [CAP_3], indirect=True)
async def test_a_capped_sync_hands_the_rest_to_the_next_isync_and_honours_a_smaller_record_count(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    bot, ben = await _as(http, rc_sandbox, "bot"), await _as(http, rc_sandbox, "Ben")
    await _notes(http, ben, 4)  # with the seed's, more than one capped FSync holds
    first = (await http.get(SYNC, params={"scope": "Accessible"}, headers=bot)).json()
    assert len(first["records"]) == 3
    seen = {r["id"] for r in first["records"]}
    token = first["syncInfo"]["syncToken"]
    one = (await _isync(http, bot, token, recordCount=1)).json()
    assert len(one["records"]) == 1
    seen |= {r["id"] for r in one["records"]}
    token = one["syncInfo"]["syncToken"]
    await _notes(http, ben, 5)  # alive notes of an open thread: in `alive` below
    while True:
        answer = (await _isync(http, bot, token)).json()
        assert len(answer["records"]) <= 3
        seen |= {r["id"] for r in answer["records"]}
        token = answer["syncInfo"]["syncToken"]
        if not answer["records"]:
            break
    state = (await http.get("/sandbox/state")).json()
    open_threads = {
        t["id"] for t in state["threads"] if t["status"] == "Open" and t["availability"] == "Alive"
    }
    alive = {
        n["id"] for n in state["notes"] if n["availability"] == "Alive" and n["threadId"] in open_threads
    }
    assert alive <= seen, "nothing of the capped FSync, nor of the changes since, is lost"
    refused = await http.get(SYNC, params={"scope": "Accessible", "recordCount": "0"}, headers=bot)
    assert refused.status_code == 400 and error_code(refused) == "CMN-101"


@pytest.mark.parametrize("sandbox_profile", ["single-use-sync-token"], indirect=True)
async def test_a_single_use_sync_token_is_refused_the_second_time(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    bot = await _as(http, rc_sandbox, "bot")
    token = (await http.get(SYNC, params={"scope": "Accessible"}, headers=bot)).json()["syncInfo"][
        "syncToken"
    ]
    first = await _isync(http, bot, token)
    assert first.status_code == 200
    again = await _isync(http, bot, token)
    assert again.status_code == 400 and error_code(again) == "CMN-101"
    assert (await _isync(http, bot, first.json()["syncInfo"]["syncToken"])).status_code == 200


@pytest.mark.parametrize("sandbox_profile", ["no-deleted-listing"], indirect=True)
async def test_listing_deleted_notes_is_refused_alive_ones_still_listed(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    bot = await _as(http, rc_sandbox, "bot")
    refused = await http.get(f"{MT}/notes", params={"availability": ["Alive", "Deleted"]}, headers=bot)
    assert refused.status_code == 400 and error_code(refused) == "CMN-101"
    alive = await http.get(f"{MT}/notes", params={"availability": "Alive"}, headers=bot)
    assert alive.status_code == 200 and alive.json()["records"]


def test_strict_plays_every_sync_reading() -> None:
    strict = PROFILES["strict"]
    assert strict.sync_unknown_records and strict.sync_token_single_use
    assert strict.sync_record_cap == 250 and strict.deleted_notes_listing_refused
