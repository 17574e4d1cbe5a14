"""A workspace's own RingCentral account, for its admins (issue 16): `/thread-note setup`, the App Home card,
the JWT modal, the sign-in button and Remove.

Only a Slack admin or owner of the workspace (`users.info` is_admin / is_owner / is_primary_owner) is served;
anyone else gets one sentence saying who can. A pasted JWT is checked while the modal waits (within Slack's
3 s for a view submission): a refusal is shown beside the field (`response_action: errors`), the admin's
text kept; success replaces the modal with what was linked. The sign-in button is a URL to RingCentral's
sign-in as the service user; its callback (bot/app.py) links and tells the admin here by DM. After any change
the admin's App Home is published again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit import ids
from bot.logs import get_logger
from bot.notify.shared import is_workspace_admin
from bot.service.errors import LinkRefused
from bot.service.tenant_link import Linked, TenantLinks
from bot.service.types import Actor
from bot.slack.deps import Deps
from bot.slack.modals import loading_modal
from bot.slack.replies import Asker, Reply
from bot.slack.views import setup as views
from bot.slack.views.modals import message_modal
from bot.slack.views.sentences import notice
from bot.store.tenant_accounts import ACTIVE

log = get_logger(__name__)

CHECK_BUDGET = 2.5  # seconds: a view submission is answered within Slack's 3 s
TOO_SLOW = "RingCentral took too long to answer, so nothing was linked: try again in a minute."


def _links(deps: Deps) -> TenantLinks:
    assert deps.tenant_links is not None, "the composition root hands the listeners TenantLinks"
    return deps.tenant_links


async def account_card(deps: Deps, actor: Actor, client: AsyncWebClient) -> list[Block]:
    """The App Home card for an admin of the workspace; nothing for anyone else."""
    if deps.tenant_links is None or not await is_workspace_admin(client, actor):
        return []
    account = await _links(deps).account(actor.team_id)
    feed = None
    if account is not None and account.status == ACTIVE and deps.account_feed is not None:
        feed = await deps.account_feed(account.account_id)
    return views.account_card(account, feed)


async def setup_command(deps: Deps, asker: Asker) -> None:
    """`/thread-note setup`: the account card, privately, to an admin."""
    if not await is_workspace_admin(asker.client, asker.actor):
        await asker.reply(notice(views.NOT_ADMIN), views.NOT_ADMIN)
        return
    await asker.reply(await account_card(deps, asker.actor, asker.client), "RingCentral account")


async def jwt_open(deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
    """The modal opens at once (a trigger_id lives 3 s); the form replaces it for an admin."""
    await ack()

    async def form() -> View:
        return views.jwt_modal() if await is_workspace_admin(client, actor) else _refused_modal()

    await loading_modal(client, body["trigger_id"], "RingCentral account", "Checking…", form)


async def jwt_submit(
    deps: Deps, actor: Actor, ack: Any, view: dict[str, Any], client: AsyncWebClient
) -> None:
    """The pasted JWT: checked at once; the modal shows the refusal beside the field, or what was linked."""
    values = view.get("state", {}).get("values", {})
    jwt = str((values.get(ids.TENANT_JWT_BLOCK, {}).get(ids.TENANT_JWT_INPUT) or {}).get("value") or "")
    if not await is_workspace_admin(client, actor):
        await ack(response_action="errors", errors={ids.TENANT_JWT_BLOCK: views.NOT_ADMIN})
        return
    try:
        linked = await asyncio.wait_for(_links(deps).link_jwt(actor, jwt), CHECK_BUDGET)
    except LinkRefused as exc:
        await ack(response_action="errors", errors={ids.TENANT_JWT_BLOCK: exc.sentence})
        return
    except TimeoutError:
        await ack(response_action="errors", errors={ids.TENANT_JWT_BLOCK: TOO_SLOW})
        return
    await ack(response_action="update", view=views.linked_modal(linked))
    await _publish_home(deps, actor, client)


async def sign_in_open(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], client: AsyncWebClient
) -> None:
    """A fresh one-time sign-in link as the service user, in a modal (made only when asked for)."""
    await ack()

    async def form() -> View:
        if not await is_workspace_admin(client, actor):
            return _refused_modal()
        return views.sign_in_modal(await _links(deps).sign_in_url(actor))

    await loading_modal(client, body["trigger_id"], "RingCentral account", "Making a sign-in link…", form)


async def sign_in_link(ack: Any) -> None:
    await ack()  # a link button: Slack opens RingCentral's sign-in; the callback does the rest


async def remove(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
) -> None:
    """Remove: the workspace uses the deployment's account again (an OAuth session is revoked first)."""
    await ack()
    if not await is_workspace_admin(client, actor):
        await _answer(client, actor, body, respond, notice(views.NOT_ADMIN), views.NOT_ADMIN)
        return
    gone = await _links(deps).remove(actor)
    await _answer(client, actor, body, respond, views.removed(gone), "RingCentral account removed")
    await _publish_home(deps, actor, client)


async def announce_linked(
    client: AsyncWebClient, admin: Actor, linked: Linked | None, refusal: str | None
) -> str:
    """Tell the admin by DM how their sign-in as the service user went; returns the sentence."""
    sentence = views.linked_sentence(linked) if linked is not None else str(refusal)
    try:
        await client.chat_postMessage(
            channel=admin.user_id, blocks=views.linked_message(sentence, linked is not None), text=sentence
        )
    except SlackApiError as exc:  # the callback page says it too
        log.warning("setup.announce_failed", error=exc.response.get("error"))
    return sentence


def _refused_modal() -> View:
    return message_modal("RingCentral account", views.NOT_ADMIN)


async def _answer(
    client: AsyncWebClient, actor: Actor, body: dict[str, Any], respond: Any, blocks: Any, text: str
) -> None:
    """Where the button was: an ephemeral card (Bolt's `respond`, its response_url) or App Home (a DM)."""
    if body.get("response_url"):
        await Reply(respond, replace_original=True)(blocks, text)
        return
    try:
        await client.chat_postMessage(channel=actor.user_id, blocks=blocks, text=text)
    except SlackApiError as exc:
        log.warning("setup.answer_failed", error=exc.response.get("error"))


async def _publish_home(deps: Deps, actor: Actor, client: AsyncWebClient) -> None:
    from bot.slack.home import build_home

    try:
        await client.views_publish(user_id=actor.user_id, view=await build_home(deps, actor, client))
    except SlackApiError as exc:
        log.info("setup.home_not_published", error=exc.response.get("error"))
