"""Every listener is registered here: `Routes` hands it what it takes, works out who acted, guards it and
counts it until it ends.

A listener is a module-level `async def` that names what it takes: `deps` (the frozen `Deps`) and `actor`
(who acted: `actor_of`) come from here, everything else from Bolt by parameter name (`ack`, `body`,
`client`, `respond`, `command`, `action`, `view`, `event`). Every route is listed in one table,
bot/slack/app.py's `register` (`routes.action(ids.NOTE_EDIT, actions.note_edit)`).

Guarded, always. With process_before_response=False, Bolt runs the listener as a task and polls for the
ack; when the listener raises right after acknowledging (a fast refusal such as "not connected"), Bolt's
runner overwrites the ack with None before its poll has seen it, and Slack gets a 404 instead of the
acknowledgement. So no listener lets an error out: what it raises is told to the person by `report`
(bot/slack/errors.py) — through Slack's response_url when the listener takes `respond`, else privately in
the channel or by DM — and the ack stands. `app.error` is left for failures before any listener runs
(middleware).

Counted. The listener goes on working after the ack, in Bolt's task; `InFlight` holds those tasks and the
Container's `stop` (bot/app.py) waits for them (`drain`) before it closes the clients and the store: an
answer on its way when the bot stops still arrives, and no task is cancelled later while it holds a database
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.service.types import Actor
from bot.slack.deps import Deps
from bot.slack.errors import event_of, report

Listener = Callable[..., Awaitable[None]]
OURS = ("deps", "actor")  # what Routes hands a listener; every other parameter is Bolt's
GUARD_NEEDS = ("ack", "body", "client")  # what the guard asks Bolt for, whether the listener does or not


def actor_of(body: dict[str, Any]) -> Actor | None:
    """Who acted, from any payload: a command's `team_id` and `user_id`; an action's, shortcut's, view's or
    options request's `team.id` — or `user.team_id` where there is no team (an org-wide app on Enterprise
    Grid) — and `user.id`; an event's `team_id` and the `user` of the event (or of the message edited or
    deleted). None when the payload names nobody."""
    user_of = body.get("user") or {}
    team = body.get("team_id") or (body.get("team") or {}).get("id") or user_of.get("team_id")
    user = body.get("user_id") or user_of.get("id") or event_of(body).get("user")
    return Actor(str(team), str(user)) if team and user else None


class NoActor(LookupError):
    """A payload that names nobody, for a listener that acts as the person (reported as an internal error)."""


class InFlight:
    """The listener tasks still running after their ack; the Container drains them when it stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def drain(self, grace: float) -> int:
        """Wait up to `grace` seconds for the running listeners (and any started meanwhile, e.g. over Socket
        Mode); then cancel what is left and let it unwind while the clients and the store are still open.
        Returns how many were still running when the grace ran out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._tasks and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._tasks), timeout=left)
        late = set(self._tasks)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
        return len(late)


class _Guarded:
    """What Bolt calls for one listener. Bolt passes arguments by the names it reads from the callable's
    signature (`inspect.getfullargspec`, which honours `__signature__`): the listener's own Bolt arguments,
    plus what the guard needs."""

    def __init__(self, listener: Listener, deps: Deps, in_flight: InFlight) -> None:
        names = list(inspect.signature(listener).parameters)
        self._listener = listener
        self._deps = deps
        self._in_flight = in_flight
        self._ours = [name for name in OURS if name in names]
        self._bolts = [name for name in names if name not in OURS]
        asked = dict.fromkeys([*self._bolts, *GUARD_NEEDS])
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        self.__signature__ = inspect.Signature([inspect.Parameter(name, kind) for name in asked])
        self.__name__ = listener.__name__  # Bolt's log lines name the listener

    async def __call__(self, **bolt: Any) -> None:
        body: dict[str, Any] = bolt["body"]
        client: AsyncWebClient = bolt["client"]
        actor = actor_of(body)
        with self._in_flight.track():
            try:
                given = {name: bolt[name] for name in self._bolts}
                if "deps" in self._ours:
                    given["deps"] = self._deps
                if "actor" in self._ours:
                    if actor is None:
                        await bolt["ack"]()
                        raise NoActor(f"{self.__name__}: the payload names no team and user")
                    given["actor"] = actor
                await self._listener(**given)
            except Exception as exc:  # one place turns every failure into a sentence for the person
                respond = bolt.get("respond") if "respond" in self._bolts else None
                await report(self._deps, exc, body, actor, client, respond)


class Routes:
    """What bot/slack/app.py lists every route on. Each listener is registered guarded and counted, with
    `deps` and `actor` handed to it when it names them; `app.error` answers failures before any listener."""

    def __init__(self, app: AsyncApp, deps: Deps, in_flight: InFlight) -> None:
        self.deps = deps
        self._app = app
        self._in_flight = in_flight
        app.error(self._unguarded)

    async def _unguarded(
        self, error: Exception, body: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        """Failures before any listener ran (middleware, a malformed payload)."""
        await report(self.deps, error, body, actor_of(body), client, respond)

    def _guarded(self, listener: Listener) -> _Guarded:
        return _Guarded(listener, self.deps, self._in_flight)

    def command(self, command: str, listener: Listener) -> None:
        """A slash command. `ack` within Slack's 3 s, with the whole answer when it needs nothing slow (help,
        a malformed command), else a line of progress before the work."""
        self._app.command(command)(self._guarded(listener))

    def shortcut(self, callback_id: str, listener: Listener) -> None:
        """A message shortcut: its `trigger_id` lives 3 s, so the modal opens before anything slow."""
        self._app.shortcut(callback_id)(self._guarded(listener))

    def action(self, action_id: str, listener: Listener) -> None:
        """A button in a message (with a response_url: `respond`), in a modal or in App Home."""
        self._app.action(action_id)(self._guarded(listener))

    def view(self, callback_id: str, listener: Listener) -> None:
        """A modal's submission. A bare `ack` closes the modal; `ack(response_action="errors" | "update")`
        shows the reason beside a field, or another view."""
        self._app.view(callback_id)(self._guarded(listener))

    def options(self, action_id: str, listener: Listener) -> None:
        """An external select's options: the listener answers them in its `ack(options=...)`, within
        Slack's 3 s (an empty list rather than a late one)."""
        self._app.options(action_id)(self._guarded(listener))

    def event(self, event_type: str, listener: Listener) -> None:
        """An Events API event; Bolt acknowledges it before the listener runs, and Slack retries one it
        does not see acknowledged."""
        self._app.event(event_type)(self._guarded(listener))
