"""Websocket credentials: `connection_init` with a bad token is refused (4403); an access
token or an API key is accepted and the operations run as that principal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conformance.wsutil import recv_json
from tests.support.api import Account, Api
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow  # a real server process (live_server)

CREATE_API_KEY = """mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret userErrors { code message field } }
}"""
VIEWER = "{ viewer { user { email } teams { id } } }"


async def _closed_with(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(5):
            while True:
                await ws.recv()
    return ws.close_code


async def _viewer_over_transport_ws(url: str, params: dict[str, str]) -> dict[str, Any]:
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        assert (await recv_json(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": {"query": VIEWER}}))
        result = await recv_json(ws)
        assert result["type"] == "next" and result["id"] == "q", result
        assert await recv_json(ws) == {"id": "q", "type": "complete"}
        assert "errors" not in result["payload"], result
        data: dict[str, Any] = result["payload"]["data"]["viewer"]
        return data


async def test_bad_token_is_refused_with_4403(live_server: LiveServer) -> None:
    async with connect(live_server.ws, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": "Bearer not-a-token"}}
            )
        )
        assert await _closed_with(ws) == 4403


async def test_bad_token_is_refused_on_legacy_protocol(live_server: LiveServer) -> None:
    async with connect(live_server.ws, subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authToken": "nope"}}))
        assert (await recv_json(ws))["type"] == "connection_error"
        assert await _closed_with(ws) is not None


async def test_access_token_is_accepted(live_server: LiveServer, live_account: Account) -> None:
    viewer = await _viewer_over_transport_ws(
        live_server.ws, {"Authorization": f"Bearer {live_account.token}"}
    )
    assert viewer["user"]["email"] == live_account.email


async def test_api_key_is_accepted(
    live_server: LiveServer, live_api: Api, live_account: Account
) -> None:
    data = await live_api.ok(
        CREATE_API_KEY,
        {"input": {"teamId": live_account.team_id, "name": "ws", "scopes": ["READ"]}},
        token=live_account.token,
    )
    secret = data["createApiKey"]["secret"]
    for params in ({"Authorization": f"Bearer {secret}"}, {"authToken": secret}):
        viewer = await _viewer_over_transport_ws(live_server.ws, params)
        assert viewer["teams"] == [{"id": live_account.team_id}]
