"""The log pipeline: every line exactly once, in order, live or replayed, across batches."""

import asyncio
import uuid

import pytest

from app.domain import build_logs
from app.domain.build_logs import LogFilter, LogWriter
from app.uow import transaction
from db import models
from db.enums import BuildStatus, BuildTrigger, LogStream


async def _new_build(api, deps) -> uuid.UUID:
    acct = await api.sign_up("logs")
    data = await api.ok(
        """mutation($t: ID!) { createProject(input: {teamId: $t, name: "logs",
           gitUrl: "file:///nowhere"}) { project { id environments { id name } } } }""",
        {"t": acct.team_id},
        token=acct.token,
    )
    from resolvers.ids import from_global_id

    project = data["createProject"]["project"]
    _, project_id = from_global_id(project["id"])
    _, env_id = from_global_id(project["environments"][0]["id"])
    _, team_id = from_global_id(acct.team_id)
    build_id = uuid.uuid4()
    async with transaction(deps, None) as uow:
        uow.session.add(
            models.Build(
                id=build_id,
                team_id=team_id,
                project_id=project_id,
                environment_id=env_id,
                number=1,
                git_ref="main",
                trigger=BuildTrigger.MANUAL,
                status=BuildStatus.RUNNING,
                steps=[],
                attempt=1,
                last_log_seq=0,
            )
        )
    return build_id


async def _finish(deps, build_id, status=BuildStatus.SUCCEEDED):
    async with transaction(deps, None) as uow:
        build = await uow.session.get(models.Build, build_id)
        build.status = status
    await build_logs.publish_end(deps.events, build_id, status)


async def _collect(deps, build_id, after=0):
    seqs, texts = [], []
    async for batch in build_logs.follow(
        deps.sessionmaker, deps.events, build_id, after=after, idle_timeout=1.0
    ):
        seqs += [ln.seq for ln in batch]
        texts += [ln.text for ln in batch]
    return seqs, texts


async def test_live_follower_gets_every_line_once_in_order(api, deps):
    build_id = await _new_build(api, deps)
    follower = asyncio.create_task(_collect(deps, build_id))
    await asyncio.sleep(0.2)
    async with LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=0) as w:
        for i in range(5_000):  # several batches and flush boundaries
            await w.write(LogStream.STDOUT, "build", f"line {i}")
            if i % 700 == 0:
                await asyncio.sleep(0.06)
    await _finish(deps, build_id)
    seqs, texts = await asyncio.wait_for(follower, 30)
    assert seqs == list(range(1, 5_001))
    assert texts[0] == "line 0" and texts[-1] == "line 4999"


async def test_resume_from_cursor_mid_build_and_after_end(api, deps):
    build_id = await _new_build(api, deps)
    async with LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=0) as w:
        for i in range(300):
            await w.write(LogStream.STDERR if i % 2 else LogStream.STDOUT, "install", f"l{i}")
        await w.flush()
        # A client that saw up to 120 reconnects while the build is still running.
        follower = asyncio.create_task(_collect(deps, build_id, after=120))
        await asyncio.sleep(0.2)
        for i in range(300, 400):
            await w.write(LogStream.STDOUT, "build", f"l{i}")
    await _finish(deps, build_id)
    seqs, _ = await asyncio.wait_for(follower, 30)
    assert seqs == list(range(121, 401))
    # And one that subscribes after the end gets the rest and completes.
    seqs, _ = await asyncio.wait_for(_collect(deps, build_id, after=390), 10)
    assert seqs == list(range(391, 401))


async def test_history_filters(api, deps):
    build_id = await _new_build(api, deps)
    async with LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=0) as w:
        await w.write(LogStream.STDOUT, "install", "added 12 packages")
        await w.write(LogStream.STDERR, "build", "\x1b[31merror\x1b[0m: 100% broken_thing")
        await w.write(LogStream.SYSTEM, "build", "step failed")
    async with deps.sessionmaker() as s:
        errs = await build_logs.history(
            s, build_id, after=0, limit=10, filter=LogFilter(streams=[LogStream.STDERR])
        )
        assert [ln.seq for ln in errs] == [2]
        assert errs[0].text.startswith("\x1b[31m")  # ANSI colours preserved
        pct = await build_logs.history(
            s, build_id, after=0, limit=10, filter=LogFilter(search="100%")
        )
        assert [ln.seq for ln in pct] == [2]
        none = await build_logs.history(
            s, build_id, after=0, limit=10, filter=LogFilter(search="_thing", steps=["install"])
        )
        assert none == []


async def test_replayed_batch_is_not_duplicated(api, deps):
    build_id = await _new_build(api, deps)
    w = LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=0)
    for i in range(10):
        await w.write(LogStream.STDOUT, None, f"x{i}")
    await w.flush()
    # A worker retrying after a crash re-sends lines 6-10 with the same numbers.
    w2 = LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=5)
    for i in range(5, 12):
        await w2.write(LogStream.STDOUT, None, f"x{i}")
    await w2.flush()
    await _finish(deps, build_id)
    seqs, texts = await _collect(deps, build_id)
    assert seqs == list(range(1, 13))
    assert texts == [f"x{i}" for i in range(12)]


async def test_slow_subscriber_is_told_to_resume(api, deps):
    build_id = await _new_build(api, deps)
    gen = build_logs.follow(
        deps.sessionmaker, deps.events, build_id, after=0, idle_timeout=1.0, max_queue=3
    )
    first = asyncio.ensure_future(gen.__anext__())
    await asyncio.sleep(0.2)
    async with LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=0) as w:
        for i in range(20):
            await w.write(LogStream.STDOUT, None, f"y{i}")
            await w.flush()
    await first  # the first batch arrived; the queue overflowed meanwhile
    with pytest.raises(build_logs.LogReaderLagged) as info:
        while True:
            await gen.__anext__()
    assert info.value.cursor >= 1
    await gen.aclose()
