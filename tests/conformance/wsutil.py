"""Raw websocket helpers for the conformance tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection


async def recv_json(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        frame = await ws.recv()
    # Protocol messages are stringified JSON: text frames, never binary.
    assert isinstance(frame, str), frame
    msg: dict[str, Any] = json.loads(frame)
    return msg
