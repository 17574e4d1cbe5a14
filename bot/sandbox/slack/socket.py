"""Socket Mode: the WebSocket an app opens with `apps.connections.open`, and envelope delivery.

Protocol (as Slack speaks it): on connect the server sends `{"type": "hello", ...}`; each delivery is an
envelope `{envelope_id, type: slash_commands|interactive|events_api, payload, accepts_response_payload}`; the
app acknowledges with `{envelope_id, payload?}` on the same socket. Tickets from `apps.connections.open` are
single-use and live 30 s. `POST /sandbox/slack/socket/dispatch` sends one envelope to the workspace's newest
connection and waits up to 3 s for the ack (504 when none came); `POST /sandbox/slack/socket/disconnect`
asks connected apps to reconnect, as Slack does when it refreshes a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.logs import get_logger
from bot.sandbox.slack.workspace_data import JSON, SlackState

log = get_logger(__name__)

ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")
ACK_TIMEOUT = 3.0
TICKET_TTL = 30.0


@dataclass
class Connection:
    id: str
    team_id: str
    socket: WebSocket


@dataclass
class SocketHub:
    state: SlackState
    tickets: dict[str, tuple[str, float]] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    pending: dict[str, asyncio.Future[JSON]] = field(default_factory=dict)
    envelopes: list[JSON] = field(default_factory=list)
    waiters: list[asyncio.Event] = field(default_factory=list)

    def mint_ticket(self, team_id: str) -> str:
        ticket = secrets.token_urlsafe(24)
        self.tickets[ticket] = (team_id, self.state.clock() + TICKET_TTL)
        return ticket

    async def endpoint(self, websocket: WebSocket) -> None:
        """`ws://…/sandbox/slack/socket?ticket=…`"""
        entry = self.tickets.pop(websocket.query_params.get("ticket", ""), None)
        if entry is None or entry[1] < self.state.clock():
            await websocket.close(code=1008, reason="invalid or expired ticket")
            return
        team_id = entry[0]
        ws = self.state.workspace(team_id)
        await websocket.accept()
        conn = Connection(id=uuid.uuid4().hex, team_id=team_id, socket=websocket)
        self.connections.append(conn)
        for waiter in self.waiters:
            waiter.set()
        self.waiters.clear()
        try:
            await websocket.send_text(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": sum(c.team_id == team_id for c in self.connections),
                        "debug_info": {
                            "host": "applink-sandbox",
                            "build_number": 1,
                            "approximate_connection_time": 18060,
                        },
                        "connection_info": {"app_id": ws.app_id},
                    }
                )
            )
            while True:
                self._on_message(await websocket.receive_text())
        except WebSocketDisconnect:
            pass
        finally:
            self.connections.remove(conn)

    def _on_message(self, text: str) -> None:
        try:
            message: Any = json.loads(text)
        except ValueError:
            log.warning("socket_mode_bad_frame", frame=text[:200])
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        future = self.pending.get(envelope_id or "")
        if future is not None and not future.done():
            future.set_result(message)
        else:
            log.warning("socket_mode_unexpected_ack", envelope_id=envelope_id)

    async def dispatch(self, request: Request) -> JSONResponse:
        """Body `{type, payload, team_id?, timeout?}` → `{ok, envelope_id, ack}` or 409/504."""
        body = await request.json()
        kind = body.get("type")
        if kind not in ENVELOPE_TYPES or not isinstance(body.get("payload"), dict):
            return JSONResponse(
                {
                    "ok": False,
                    "error": "bad_request",
                    "detail": f"`type` is one of {', '.join(ENVELOPE_TYPES)}; `payload` an object",
                },
                status_code=400,
            )
        team_id = body.get("team_id") or self.state.workspace().team_id
        targets = await self._connections(team_id)
        if not targets:
            return JSONResponse(
                {
                    "ok": False,
                    "error": "no_socket_connection",
                    "detail": f"no app is connected over Socket Mode for {team_id}",
                },
                status_code=409,
            )
        envelope: JSON = {
            "envelope_id": str(uuid.uuid4()),
            "type": kind,
            "payload": body["payload"],
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        timeout = min(float(body.get("timeout", ACK_TIMEOUT)), ACK_TIMEOUT)
        ack = await self._send(targets[-1], team_id, envelope, timeout)
        if ack is None:
            return JSONResponse(
                {
                    "ok": False,
                    "error": "no_ack",
                    "envelope_id": envelope["envelope_id"],
                    "detail": f"the app did not acknowledge envelope {envelope['envelope_id']} "
                    f"({kind}) within {timeout:g} s",
                },
                status_code=504,
            )
        return JSONResponse({"ok": True, "envelope_id": envelope["envelope_id"], "ack": ack})

    async def _send(self, target: Connection, team_id: str, envelope: JSON, wait: float) -> JSON | None:
        """Send one envelope and wait for its ack (None when none came within `wait` seconds); recorded."""
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self.pending[envelope["envelope_id"]] = future
        record: JSON = {"envelope": envelope, "team_id": team_id, "ack": None, "time": self.state.clock()}
        self.envelopes.append(record)
        try:
            await target.socket.send_text(json.dumps(envelope))
            record["ack"] = await asyncio.wait_for(future, wait)
        except TimeoutError:
            return None
        finally:
            self.pending.pop(envelope["envelope_id"], None)
        ack: JSON = record["ack"]
        return ack

    async def send_event(
        self, team_id: str, payload: JSON, *, retry_attempt: int = 0, retry_reason: str = ""
    ) -> JSON | None:
        """An `events_api` envelope to the workspace's newest connection (events.py); its ack, or None when
        no app is connected or none acknowledged within 3 s."""
        targets = await self._connections(team_id)
        if not targets:
            return None
        envelope: JSON = {
            "envelope_id": str(uuid.uuid4()),
            "type": "events_api",
            "payload": payload,
            "accepts_response_payload": False,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        return await self._send(targets[-1], team_id, envelope, ACK_TIMEOUT)

    async def _connections(self, team_id: str, grace: float = 0.5) -> list[Connection]:
        """The workspace's connections, allowing an app that is just connecting `grace` seconds to finish."""
        targets = [c for c in self.connections if c.team_id == team_id]
        if not targets:
            arrived = asyncio.Event()
            self.waiters.append(arrived)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), grace)
            targets = [c for c in self.connections if c.team_id == team_id]
        return targets

    async def disconnect(self, request: Request) -> JSONResponse:
        """Sends `{"type": "disconnect", "reason": "refresh_requested"}` to every connection."""
        for conn in list(self.connections):
            await conn.socket.send_text(
                json.dumps(
                    {
                        "type": "disconnect",
                        "reason": "refresh_requested",
                        "debug_info": {"host": "applink-sandbox"},
                    }
                )
            )
        return JSONResponse({"ok": True, "connections": len(self.connections)})

    async def list_envelopes(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "envelopes": self.envelopes,
                "connections": [{"id": c.id, "team_id": c.team_id} for c in self.connections],
            }
        )
