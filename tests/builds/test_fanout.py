"""Shared live tail of build logs (app/http/fanout.py) through a real uvicorn server.

The server runs in this process (same event loop) so that the tests can look at the
feeds: one Redis subscription per build, one render per batch and selection, and the
bounded queue of every subscriber.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from app.domain import build_logs
from app.domain.build_logs import LogWriter
from app.http.fanout import LogFanout
from app.http.ws import selection_key
from app.main import create_app
from db.enums import LogStream
from tests.builds.test_build_api import _end, _running_build
from tests.support.live_server import free_port

LOGS = """subscription($b: ID!, $after: String) { buildLogs(buildId: $b, after: $after) {
  cursor lines { seq text stream step } } }"""
# Another selection of the same field: other fields, an alias and a fragment.
OTHER = """subscription Tail($b: ID!) { logs: buildLogs(buildId: $b) { ...L cursor } }
fragment L on BuildLogBatch { lines { seq at } }"""


@asynccontextmanager
async def server(
    test_settings, deps, monkeypatch, max_queue: int = 64, mode: str = "shared"
) -> AsyncIterator[Any]:
    settings = test_settings.model_copy(update={"log_fanout": mode, "log_fanout_queue": max_queue})
    own = dataclasses.replace(deps, settings=settings)  # same pools, other settings
    app = create_app(settings, deps=own)
    app.state.deps = own
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.02)
    app.state.url = f"ws://127.0.0.1:{port}/graphql"
    try:
        yield app
    finally:
        srv.should_exit = True
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def subscriber(
    url: str,
    token: str,
    query: str,
    variables: dict[str, Any],
    protocol: str = "graphql-transport-ws",
    **options: Any,
) -> AsyncIterator[ClientConnection]:
    options.setdefault("max_size", None)  # a merged batch can exceed websockets' 1 MiB
    options.setdefault("compression", None)  # sizes on the wire as written
    async with connect(url, subprotocols=[protocol], **options) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": token}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": start, "payload": payload}))
        yield ws


async def frames(ws: ClientConnection, timeout: float = 20) -> list[str]:
    """Raw text of every message until `complete`."""
    out: list[str] = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout)
        assert isinstance(raw, str)  # text frames
        if json.loads(raw)["type"] == "complete":
            return out
        out.append(raw)


def payload_text(raw: str) -> str:
    """The serialised payload inside a frame, as sent."""
    start = raw.index('"payload":') + len('"payload":')
    return raw[start:-1]


def seqs(raws: list[str], field: str = "buildLogs") -> list[int]:
    return [ln["seq"] for r in raws for ln in json.loads(r)["payload"]["data"][field]["lines"]]


def fanout(app: Any) -> LogFanout:
    out: LogFanout = app.state.log_fanout
    return out


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def live_members(app: Any, build_id: uuid.UUID) -> list[Any]:
    feed = fanout(app).feeds.get(build_id) if hasattr(app.state, "log_fanout") else None
    if feed is None:
        return []
    return [m for g in feed.groups.values() for m in g.members if m.live]


async def write(
    deps, build_id: uuid.UUID, first: int, count: int, batch: int, text: str = ""
) -> None:
    async with LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=first - 1) as w:
        for i in range(first, first + count):
            await w.write(LogStream.STDOUT, "build", f"line {i} {text}")
            if i % batch == 0:
                await w.flush()
                await asyncio.sleep(0.01)


async def test_many_subscribers_share_one_feed_and_get_every_line_once(
    api, deps, test_settings, monkeypatch
) -> None:
    token, gid, build_id = await _running_build(api, deps)
    async with server(test_settings, deps, monkeypatch) as app:
        url, variables = app.state.url, {"b": gid, "after": None}
        async with AsyncExitStack() as stack:
            early = [
                await stack.enter_async_context(subscriber(url, token, LOGS, variables))
                for _ in range(50)
            ]
            await until(lambda: len(live_members(app, build_id)) == 50)
            writer = asyncio.create_task(write(deps, build_id, 1, 3_000, batch=100))
            readers = [asyncio.create_task(frames(ws)) for ws in early]
            await asyncio.sleep(0.2)
            # Late joiners replay on their own path, then switch to the feed.
            late = [
                await stack.enter_async_context(subscriber(url, token, LOGS, variables))
                for _ in range(10)
            ]
            readers += [asyncio.create_task(frames(ws)) for ws in late]
            await writer
            # One Redis subscription for the build, whatever the number of subscribers.
            assert len(deps.events._subs[build_logs.log_stream(build_id)]) == 1
            await _end(deps, build_id)
            received = await asyncio.gather(*readers)
    for raws in received:
        assert seqs(raws) == list(range(1, 3_001))  # every line once, in order
    first = received[0]
    # Same selection, same op id: the very same frames, rendered once per batch.
    assert all(raws == first for raws in received[:50])
    assert fanout(app).renders == len(first)
    assert fanout(app).frames >= 50 * len(first)


async def test_selections_get_their_own_payloads_as_strawberry_renders_them(
    api, deps, test_settings, monkeypatch
) -> None:
    token, gid, build_id = await _running_build(api, deps)
    async with server(test_settings, deps, monkeypatch) as app:
        url = app.state.url
        async with (
            subscriber(url, token, LOGS, {"b": gid}) as a,
            subscriber(url, token, OTHER, {"b": gid}) as b,
            subscriber(url, token, LOGS, {"b": gid}, protocol="graphql-ws") as legacy,
        ):
            await until(lambda: len(live_members(app, build_id)) == 3)
            assert len(fanout(app).feeds[build_id].groups) == 2
            await write(deps, build_id, 1, 300, batch=100)
            await _end(deps, build_id)
            got_a, got_b, got_legacy = await asyncio.gather(frames(a), frames(b), frames(legacy))
        assert seqs(got_a) == seqs(got_b, "logs") == seqs(got_legacy) == list(range(1, 301))
        assert [payload_text(r) for r in got_a] == [payload_text(r) for r in got_legacy]
        assert got_legacy[0].startswith('{"type":"data","id":"1","payload":')
        last_a, last_b = json.loads(got_a[-1]), json.loads(got_b[-1])
        assert set(last_a["payload"]["data"]["buildLogs"]["lines"][0]) == {
            "seq", "text", "stream", "step"
        }  # fmt: skip
        assert set(last_b["payload"]["data"]["logs"]) == {"lines", "cursor"}
        # The last batch again, through strawberry's own path (a replay): same bytes.
        before = json.loads(got_a[-2])["payload"]["data"]["buildLogs"]["cursor"]
        async with subscriber(url, token, LOGS, {"b": gid, "after": before}) as ws:
            replayed = await frames(ws)
        assert [payload_text(r) for r in replayed] == [payload_text(got_a[-1])]


async def test_slow_subscriber_is_told_to_resume_and_others_keep_going(
    api, deps, test_settings, monkeypatch
) -> None:
    token, gid, build_id = await _running_build(api, deps)
    cap = 4
    async with server(test_settings, deps, monkeypatch, max_queue=cap) as app:
        url = app.state.url
        # A small receive buffer, set before connecting (no autotuning): the server's
        # sends back up after a few MB instead of tens.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])))
        async with (
            subscriber(url, token, LOGS, {"b": gid}) as fast,
            subscriber(url, token, LOGS, {"b": gid}, sock=sock, max_queue=1) as slow,
        ):
            await until(lambda: len(live_members(app, build_id)) == 2)
            reader = asyncio.create_task(frames(fast, timeout=60))
            high_water = 0

            async def watch() -> None:
                nonlocal high_water
                while True:
                    feed = fanout(app).feeds.get(build_id)
                    groups = feed.groups.values() if feed else []
                    queued = [len(m.queue) for g in groups for m in g.members]
                    high_water = max([high_water, *queued])
                    await asyncio.sleep(0.005)

            watcher = asyncio.create_task(watch())
            # ~12 MB: more than the kernel buffers hold for the slow socket.
            await write(deps, build_id, 1, 6_000, batch=200, text="x" * 2_000)
            await until(lambda: fanout(app).lagged == 1, timeout=20)
            await _end(deps, build_id)
            fast_frames = await reader
            watcher.cancel()
            assert seqs(fast_frames) == list(range(1, 6_001))
            assert high_water <= cap  # the slow one's backlog never grew past its cap
            # The slow client finally reads: what it was sent, then where to resume.
            got: list[int] = []
            while True:
                msg = json.loads(await asyncio.wait_for(slow.recv(), 20))
                if msg["type"] == "complete":
                    break
                if msg["payload"].get("data"):
                    got += [ln["seq"] for ln in msg["payload"]["data"]["buildLogs"]["lines"]]
                else:
                    error = msg["payload"]["errors"][0]
            assert error["extensions"]["code"] == "SUBSCRIBER_LAGGED"
            assert got == list(range(1, len(got) + 1)) and len(got) < 6_000
            assert error["extensions"]["cursor"] == str(got[-1])


async def test_per_subscriber_path_stays_selectable(api, deps, test_settings, monkeypatch) -> None:
    token, gid, build_id = await _running_build(api, deps)
    async with server(test_settings, deps, monkeypatch, mode="per-subscriber") as app:
        async with subscriber(app.state.url, token, LOGS, {"b": gid}) as ws:
            reader = asyncio.create_task(frames(ws))
            await asyncio.sleep(0.3)
            await write(deps, build_id, 1, 500, batch=100)
            await _end(deps, build_id)
            assert seqs(await reader) == list(range(1, 501))
        assert not hasattr(app.state, "log_fanout")  # no feed: strawberry per subscriber


def test_selection_key_ignores_root_arguments_only() -> None:
    def key(query: str, variables: dict[str, Any] | None = None, name: str | None = None) -> Any:
        return selection_key(query, name, variables)

    base = key(LOGS, {"b": "QnVpbGQ6MQ==", "after": None})
    assert key(LOGS, {"b": "QnVpbGQ6MQ==", "after": "120"}) == base  # `after`: replay only
    assert key(" ".join(LOGS.split()), {"b": "x"}) == base  # formatting
    assert key(LOGS.replace("stream step", "step stream"), {"b": "x"}) != base  # field order
    assert key(OTHER, {"b": "x"}, "Tail") != base
    inline = 'subscription { buildLogs(buildId: "x", after: "5") { cursor } }'
    assert key(inline) == key(inline.replace('"5"', '"9"'))
    skip = 'subscription($s: Boolean!) { buildLogs(buildId: "x") { cursor @skip(if: $s) } }'
    assert key(skip, {"s": True}) != key(skip, {"s": False})  # variables the selection uses
