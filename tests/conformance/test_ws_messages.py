"""Malformed or unsupported messages get answers, not crashes (beyond ws-protocol.mjs)."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect

from tests.conformance.wsutil import recv_json
from tests.support.api import Account
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow  # a real server process (live_server)

HEARTBEATS = "subscription { viewerEvents(heartbeatMs: 50, first: 1) { __typename } }"


async def test_transport_ws_accepts_null_init_payload(live_server: LiveServer) -> None:
    # PROTOCOL.md: `payload?: Record<string, unknown> | null`.
    async with connect(live_server.ws, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": None}))
        assert await recv_json(ws) == {"type": "connection_ack"}


async def test_legacy_protocol_reports_bad_messages_and_keeps_going(
    live_server: LiveServer, live_account: Account
) -> None:
    async with connect(live_server.ws, subprotocols=["graphql-ws"]) as ws:
        auth = {"Authorization": f"Bearer {live_account.token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
        assert (await recv_json(ws))["type"] == "connection_ack"

        await ws.send("[1]")
        assert (await recv_json(ws))["type"] == "connection_error"
        await ws.send(json.dumps({"type": "start", "payload": {"query": HEARTBEATS}}))
        assert (await recv_json(ws))["type"] == "connection_error"  # no id

        await ws.send(
            json.dumps({"id": "s", "type": "start", "payload": {"query": "subscription {"}})
        )
        msg = await recv_json(ws)
        assert (msg["type"], msg["id"]) == ("error", "s")
        assert msg["payload"]["message"].startswith("Syntax Error")

        # strawberry's legacy handler runs subscriptions only: a clear error, not a masked bug.
        await ws.send(
            json.dumps({"id": "q", "type": "start", "payload": {"query": "{ __typename }"}})
        )
        msg = await recv_json(ws)
        assert (msg["type"], msg["id"]) == ("error", "q")
        assert "subscriptions only" in msg["payload"]["message"]

        await ws.send(json.dumps({"id": "ok", "type": "start", "payload": {"query": HEARTBEATS}}))
        data = await recv_json(ws)
        assert data["type"] == "data", data
        assert data["payload"]["data"] == {"viewerEvents": {"__typename": "Heartbeat"}}
        assert await recv_json(ws) == {"type": "complete", "id": "ok"}
