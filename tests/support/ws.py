"""A minimal graphql-transport-ws client for tests (text frames, one operation)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


@asynccontextmanager
async def ws_session(url: str, token: str | None) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        yield ws


async def messages(
    ws: ClientConnection,
    query: str,
    variables: dict[str, Any],
    op_id: str = "1",
    timeout: float = 15,
) -> AsyncIterator[dict[str, Any]]:
    """Yield `next` payloads; return on `complete`; raise on `error` or an error result."""
    await ws.send(
        json.dumps(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
    )
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg.get("id") != op_id:
            continue
        if msg["type"] == "next":
            if msg["payload"].get("errors") and not msg["payload"].get("data"):
                # An execution error of the stream (e.g. NOT_FOUND) arrives as `next`.
                raise SubscriptionError(msg["payload"]["errors"])
            yield msg["payload"]
        elif msg["type"] == "complete":
            return
        elif msg["type"] == "error":
            raise SubscriptionError(msg["payload"])


class SubscriptionError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code", "") for e in self.errors]
