"""App Home: connection state, the person's open and assigned conversations with their latest note, and for
a workspace admin the workspace's RingCentral account (bot/slack/setup.py)."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.ringcentral.errors import RingCentralError
from bot.ringcentral.models import Note, Thread
from bot.service.errors import ServiceError
from bot.service.types import Actor
from bot.slack.deps import Deps
from bot.slack.replies import from_elsewhere, user_tz
from bot.slack.setup import account_card
from bot.slack.views.home import home_view

log = get_logger(__name__)
HOME_THREADS = 20


async def build_home(deps: Deps, actor: Actor, client: AsyncWebClient) -> Any:
    linked = await deps.accounts.linked(actor)
    admin = await account_card(deps, actor, client)  # the workspace's RingCentral account, for its admins
    if linked is None:
        if await from_elsewhere(client, actor):  # a guest of another organisation: no connect link
            return home_view(connected_as=None, connect_url=None, threads=[], subscriptions=[])
        url = await deps.accounts.connect_url(actor, reuse=True)  # one live link per person, not per open
        return home_view(connected_as=None, connect_url=url, threads=[], subscriptions=[], admin=admin)
    threads: list[tuple[Thread, Note | None]] = []
    problem = None
    try:
        suggested = (await deps.notes.suggest_threads(actor))[:HOME_THREADS]
        latest = await deps.notes.latest_notes(actor, [t.id for t in suggested])
        threads = [(t, latest.get(t.id)) for t in suggested]
    except (ServiceError, RingCentralError) as exc:
        problem = type(exc).__name__
        log.info("home.threads_unavailable", error=problem)
    subs = await deps.subscriptions.for_home(actor)
    tz = await user_tz(client, actor.user_id)
    return home_view(
        connected_as=linked, connect_url=None, threads=threads, subscriptions=subs, tz_name=tz, admin=admin
    )


async def home_opened(deps: Deps, actor: Actor, event: dict[str, Any], client: AsyncWebClient) -> None:
    if event.get("tab") != "home":
        return
    deps.metrics.slack_requests.labels("home").inc()
    await client.views_publish(user_id=actor.user_id, view=await build_home(deps, actor, client))
