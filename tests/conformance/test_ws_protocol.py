"""graphql-transport-ws edge cases (ws-protocol.mjs), with the real `viewerEvents` subscription,
and both subprotocols carrying a real audit event to a reference client and a legacy one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conformance.wsutil import recv_json
from tests.support import node_tools
from tests.support.api import Account, Api
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow  # a real server process (live_server)

SPEC_CHECKS = 21
EXTRA_CHECKS = 2
LEGACY_CHECKS = 3
LONG = "subscription { viewerEvents(heartbeatMs: 100) { __typename } }"
SHORT = "subscription { viewerEvents(heartbeatMs: 50, first: 3) { __typename } }"
# Heartbeats first (they prove the subscription is listening), then the audit event.
EVENTS = """subscription Events($first: Int) {
  viewerEvents(heartbeatMs: 50, first: $first) {
    __typename
    ... on AuditEvent { cursor entry { action targetType targetId } }
  }
}"""
UPDATE_TEAM = """mutation($input: UpdateTeamInput!) {
  updateTeam(input: $input) { team { id name } userErrors { code message field } }
}"""
RESULT_LINE = re.compile(r"^(PASS|FAIL)  (\S+?)(?: \[(extra|legacy)\])?  ")


async def test_ws_protocol_checks_pass(
    live_server: LiveServer, live_account: Account, conformance_tools: Path
) -> None:
    result = await node_tools.run_async(
        conformance_tools,
        "ws-protocol.mjs",
        live_server.ws,
        "--init-timeout",
        "7000",  # the server closes after settings.ws_init_timeout_seconds (5 s)
        "--extras",
        "--legacy",
        "--long-subscription",
        LONG,
        "--short-subscription",
        SHORT,
        "--short-events",
        "3",
        "--connection-params",
        node_tools.connection_params(live_account.token),
        timeout=90,
    )
    closing = result.closing_line("ws-protocol:")
    outcomes: dict[str, list[tuple[str, str]]] = {"spec": [], "extra": [], "legacy": []}
    for line in result.stdout.splitlines():
        if m := RESULT_LINE.match(line):
            outcomes[m.group(3) or "spec"].append((m.group(1), line))
    failed = [line for group in outcomes.values() for verdict, line in group if verdict != "PASS"]
    detail = "\n".join(failed) + f"\n{closing}\n--- server log ---\n{live_server.log_tail()}"
    assert not failed, detail
    counts = {group: len(rows) for group, rows in outcomes.items()}
    assert counts == {"spec": SPEC_CHECKS, "extra": EXTRA_CHECKS, "legacy": LEGACY_CHECKS}, detail
    total = SPEC_CHECKS + EXTRA_CHECKS + LEGACY_CHECKS
    assert closing == f"ws-protocol: {total} passed, 0 failed", detail
    assert result.returncode == 0, result.output


# Both subprotocols deliver a real audit event


@contextlib.asynccontextmanager
async def _reference_client(
    tools: Path, url: str, token: str, events: int
) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        node_tools.node_binary(),
        str(tools / "ws-client.mjs"),
        url,
        EVENTS,
        "--variables",
        json.dumps({"first": events}),
        "--connection-params",
        node_tools.connection_params(token),
        "--timeout",
        "20000",
        cwd=tools,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.communicate()


async def _reference_events(
    proc: asyncio.subprocess.Process, listening: asyncio.Event, lines: list[str]
) -> list[dict[str, Any]]:
    """ExecutionResults printed by ws-client.mjs (`next <n> <json>`) until it exits."""
    assert proc.stdout is not None
    results = []
    while line := (await proc.stdout.readline()).decode():
        lines.append(line.rstrip())
        if line.startswith("next "):
            results.append(json.loads(line.split(" ", 2)[2]))
            listening.set()
    await proc.wait()
    return results


async def _legacy_audit_event(
    ws: ClientConnection, token: str, listening: asyncio.Event
) -> dict[str, Any]:
    """Speak subscriptions-transport-ws: connection_init/start, data until an AuditEvent, stop."""
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
    assert (await recv_json(ws))["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {"id": "1", "type": "start", "payload": {"query": EVENTS, "variables": {"first": None}}}
        )
    )
    while True:
        msg = await recv_json(ws)
        assert msg["type"] == "data" and msg["id"] == "1", msg
        assert "errors" not in msg["payload"], msg
        event = msg["payload"]["data"]["viewerEvents"]
        listening.set()
        if event["__typename"] == "AuditEvent":
            break
    await ws.send(json.dumps({"id": "1", "type": "stop"}))
    async with asyncio.timeout(5):
        while (msg := await recv_json(ws))["type"] != "complete":
            assert msg["type"] == "data", msg  # in flight before the stop
    assert msg["id"] == "1"
    return dict(event)


async def test_audit_event_reaches_both_subprotocols(
    live_server: LiveServer, live_api: Api, live_account: Account, conformance_tools: Path
) -> None:
    ref_listening, legacy_listening = asyncio.Event(), asyncio.Event()
    ref_lines: list[str] = []
    async with (
        _reference_client(conformance_tools, live_server.ws, live_account.token, 60) as proc,
        connect(live_server.ws, subprotocols=["graphql-ws"]) as legacy_ws,
    ):
        assert legacy_ws.subprotocol == "graphql-ws"
        ref_task = asyncio.create_task(_reference_events(proc, ref_listening, ref_lines))
        legacy_task = asyncio.create_task(
            _legacy_audit_event(legacy_ws, live_account.token, legacy_listening)
        )
        try:
            try:
                async with asyncio.timeout(10):
                    await ref_listening.wait()
                    await legacy_listening.wait()
            except TimeoutError:
                pytest.fail(f"no first event; reference client said: {ref_lines}")
            # Both are listening (heartbeats arrive): now cause an audit entry.
            await live_api.ok(
                UPDATE_TEAM,
                {"input": {"teamId": live_account.team_id, "name": "Conformance team"}},
                token=live_account.token,
            )
            async with asyncio.timeout(15):
                legacy_event = await legacy_task
                ref_results = await ref_task
        finally:
            for task in (ref_task, legacy_task):
                task.cancel()
            await asyncio.gather(ref_task, legacy_task, return_exceptions=True)
    assert proc.returncode == 0, "\n".join(ref_lines)
    assert ref_lines[-1] == "ws-client: 60 events, completed", ref_lines
    ref_events = [r["data"]["viewerEvents"] for r in ref_results]
    audit_events = [e for e in ref_events if e["__typename"] == "AuditEvent"]
    assert len(audit_events) == 1, ref_lines
    for event in (audit_events[0], legacy_event):
        assert event["entry"]["action"] == "team.update"
        assert event["entry"]["targetType"] == "Team"
    assert audit_events[0]["cursor"] == legacy_event["cursor"]
