"""Handlers are SMS recipients, configured apart from call-queue membership; a site is a common resource.

getSmsRecipients / bulkAssignSmsRecipients as the spec has them, listSites, and the thread rules following
SMS recipients (not queue members), spec-validated on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from bot.sandbox.profiles import STRICT
from tests.kit.rc import RcSandbox, sandbox_test_settings, start_rc_sandbox
from tests.sandbox.helpers import MT, OPEN_UNASSIGNED, bearer, error_code, login

ACCOUNT = "/restapi/v1.0/account/~"
SUPPORT, MAIN_OFFICE = "62000601", "62000100"
DEMO = Path(__file__).resolve().parents[2] / "bot" / "sandbox" / "ringcentral" / "seeds" / "demo.yml"


def _recipients(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["smsRecipients"]}


async def test_sms_recipients_are_not_the_queue_members(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    recipients = _recipients(await http.get(f"{ACCOUNT}/extension/{SUPPORT}/sms-recipients", headers=ana))
    members = (await http.get(f"{ACCOUNT}/call-queues/{SUPPORT}/members", headers=ana)).json()["records"]
    chen, eli = rc_sandbox.user("Chen").extension_id, rc_sandbox.user("Eli").extension_id
    assert chen in recipients and chen not in {str(m["id"]) for m in members}
    assert eli in {str(m["id"]) for m in members} and eli not in recipients


async def test_a_queue_member_who_is_no_recipient_cannot_touch_threads_and_a_recipient_can(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    eli = bearer(await login(http, rc_sandbox, rc_sandbox.user("Eli")))  # Support member, no recipient
    refused = await http.post(f"{MT}/notes", json={"threadId": OPEN_UNASSIGNED, "text": "hi"}, headers=eli)
    assert refused.status_code == 403 and error_code(refused) == "MTH-103"
    chen = bearer(await login(http, rc_sandbox, rc_sandbox.user("Chen")))  # Support recipient, no member
    made = await http.post(f"{MT}/notes", json={"threadId": OPEN_UNASSIGNED, "text": "mine"}, headers=chen)
    assert made.status_code == 201


async def test_a_site_is_listed_owns_threads_and_has_recipients_but_no_queue(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    ben = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ben")))
    sites = (await http.get(f"{ACCOUNT}/sites", headers=ben)).json()["records"]
    assert [(s["id"], s["name"]) for s in sites] == [(MAIN_OFFICE, "Main Office")]
    queues = (await http.get(f"{ACCOUNT}/call-queues", headers=ben)).json()["records"]
    assert MAIN_OFFICE not in {q["id"] for q in queues}
    assert (await http.get(f"{ACCOUNT}/call-queues/{MAIN_OFFICE}/members", headers=ben)).status_code == 404
    threads = (
        await http.get(MT, params={"ownerExtensionIds": MAIN_OFFICE, "threadStatus": "Open"}, headers=ben)
    ).json()["records"]
    assert len(threads) == 2 and {t["owner"]["extensionType"] for t in threads} == {"Site"}
    notes = (await http.get(f"{MT}/notes", params={"ownerExtensionIds": MAIN_OFFICE}, headers=ben)).json()
    assert len(notes["records"]) == 2
    assert rc_sandbox.user("Ben").extension_id in _recipients(
        await http.get(f"{ACCOUNT}/extension/{MAIN_OFFICE}/sms-recipients", headers=ben)
    )


async def test_sms_recipients_of_an_unknown_extension_are_404(
    http: httpx.AsyncClient, rc_sandbox: RcSandbox
) -> None:
    ana = bearer(await login(http, rc_sandbox, rc_sandbox.user("Ana")))
    missing = await http.get(f"{ACCOUNT}/extension/62009999/sms-recipients", headers=ana)
    assert missing.status_code == 404 and error_code(missing) == "CMN-102"


@pytest.fixture
def admin_rc() -> Iterator[RcSandbox]:
    """The demo seed with Dana as an account admin (who may change SMS recipients)."""
    seed = yaml.safe_load(DEMO.read_text())
    for user in seed["users"]:
        user["admin"] = user["name"] == "Dana Kowalski"
    sandbox = start_rc_sandbox(seed, sandbox_test_settings())
    try:
        yield sandbox
    finally:
        sandbox.server.stop()


async def test_bulk_assign_changes_who_handles_a_resource_not_the_queue(
    admin_rc: RcSandbox, spec_transport: httpx.AsyncBaseTransport
) -> None:
    async with httpx.AsyncClient(base_url=admin_rc.url, transport=spec_transport, timeout=10) as http:
        dana = bearer(await login(http, admin_rc, admin_rc.user("Dana")))
        ana = bearer(await login(http, admin_rc, admin_rc.user("Ana")))
        eli_id = admin_rc.user("Eli").extension_id
        path = f"{ACCOUNT}/extension/{SUPPORT}/sms-recipients/bulk-assign"
        body = {"addedExtensionIds": [eli_id]}
        refused = await http.post(path, json=body, headers=ana)  # no admin
        assert refused.status_code == 403
        assert (await http.post(path, json={}, headers=dana)).status_code == 400
        assert (await http.post(path, json=body, headers=dana)).status_code == 204
        eli = bearer(await login(http, admin_rc, admin_rc.user("Eli")))
        made = await http.post(f"{MT}/notes", json={"threadId": OPEN_UNASSIGNED, "text": "in"}, headers=eli)
        assert made.status_code == 201
        ana_id = admin_rc.user("Ana").extension_id
        removed = await http.post(path, json={"removedExtensionIds": [ana_id]}, headers=dana)
        assert removed.status_code == 204
        members = (await http.get(f"{ACCOUNT}/call-queues/{SUPPORT}/members", headers=dana)).json()
        assert ana_id in {str(m["id"]) for m in members["records"]}  # still a queue member
        shut = await http.post(f"{MT}/notes", json={"threadId": OPEN_UNASSIGNED, "text": "x"}, headers=ana)
        assert shut.status_code == 403


@pytest.fixture
def refusing_rc() -> Iterator[RcSandbox]:
    sandbox = start_rc_sandbox("demo", sandbox_test_settings(STRICT))
    try:
        yield sandbox
    finally:
        sandbox.server.stop()


async def test_where_the_app_may_not_use_sms_recipients_they_answer_403(
    refusing_rc: RcSandbox, spec_transport: httpx.AsyncBaseTransport
) -> None:
    async with httpx.AsyncClient(base_url=refusing_rc.url, transport=spec_transport, timeout=10) as http:
        ana = bearer(await login(http, refusing_rc, refusing_rc.user("Ana")))
        refused = await http.get(f"{ACCOUNT}/extension/{SUPPORT}/sms-recipients", headers=ana)
        assert refused.status_code == 403 and error_code(refused) == "CMN-401"
