"""Scaling a running release: more replicas from the same tree and environment, fewer by
stopping the highest-numbered ones with a drain, zero while staying known."""

from __future__ import annotations

import httpx
import pytest
from runtime_support import Collected, wait_healthy

from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime
from app.runtime.local.net import probe
from app.runtime.local.procs import alive
from app.runtime.protocol import ProcessState
from tests.support.release_apps import app_artifact, app_command, spec


async def get(upstream: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
        return await http.get(f"http://{upstream}{path}")


async def pids(runtime: LocalRuntime, release_id: str) -> list[int | None]:
    [state] = [s for s in await runtime.list_releases() if s.release_id == release_id]
    return [r.pid for r in state.replicas]


async def test_scaling_up_starts_replicas_of_the_same_release(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    uri = await app_artifact(store)
    first = await runtime.start_release(
        spec("up1", uri, start_command=app_command("v3"), env={"GREETING": "hello"})
    )
    handle = await runtime.scale_release("up1", 3, drain_seconds=1.0)
    assert handle.release_id == "up1"
    assert len(handle.upstreams) == 3 and len(set(handle.upstreams)) == 3
    assert handle.upstreams[0] == first.upstream  # the running replica is left alone
    await wait_healthy(runtime, "up1")
    for upstream in handle.upstreams:
        assert (await get(upstream, "/")).text == "v3"
        assert (await get(upstream, "/env/GREETING")).text == "hello"
    assert len({(await get(u, "/pid")).text for u in handle.upstreams}) == 3
    [state] = await runtime.list_releases()
    assert [r.index for r in state.replicas] == [0, 1, 2]
    assert {r.state for r in state.replicas} == {ProcessState.RUNNING}
    # Asking for what already runs changes nothing.
    assert await runtime.scale_release("up1", 3, drain_seconds=1.0) == handle


async def test_scaling_down_drains_the_highest_numbered_replicas(
    runtime: LocalRuntime, store: FilesystemArtifactStore, output: Collected
) -> None:
    uri = await app_artifact(store)
    full = await runtime.start_release(spec("down1", uri, start_command=app_command(), replicas=3))
    await wait_healthy(runtime, "down1")
    before = await pids(runtime, "down1")

    handle = await runtime.scale_release("down1", 1, drain_seconds=2.0)
    assert handle.upstreams == full.upstreams[:1]
    assert await pids(runtime, "down1") == before[:1]
    for pid in before[1:]:
        assert pid is not None and not alive(pid)
    for gone in full.upstreams[1:]:
        assert not (await probe(gone, "/", 1.0)).ok
    assert (await get(handle.upstream, "/")).status_code == 200
    assert (await runtime.health("down1")).ok  # only the remaining replica is probed
    stopping = [t for t in output.texts("down1", "system") if t.startswith("stopping pid")]
    assert len(stopping) == 2 and all("drain 2s" in t for t in stopping)


async def test_zero_replicas_keeps_the_release_known_until_stopped(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    uri = await app_artifact(store)
    await runtime.start_release(spec("zero1", uri, start_command=app_command(), replicas=2))
    await wait_healthy(runtime, "zero1")
    old = await pids(runtime, "zero1")

    assert (await runtime.scale_release("zero1", 0, drain_seconds=1.0)).upstreams == ()
    assert all(pid is not None and not alive(pid) for pid in old)
    [state] = await runtime.list_releases()
    assert state.release_id == "zero1" and state.replicas == () and state.supervised
    health = await runtime.health("zero1")
    assert not health.ok and health.error == "release is scaled to 0 replicas"
    # Desired and known: nothing to stop, nothing to start.
    result = await runtime.reconcile({"zero1"})
    assert result.stopped == () and result.to_start == ()

    again = await runtime.scale_release("zero1", 2, drain_seconds=1.0)
    assert len(again.upstreams) == 2
    await wait_healthy(runtime, "zero1")
    await runtime.stop_release("zero1", drain_seconds=1.0)
    assert await runtime.list_releases() == []


async def test_scaling_what_is_not_running_says_so(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    with pytest.raises(KeyError, match="release nope1 is not running"):
        await runtime.scale_release("nope1", 2, drain_seconds=1.0)
    uri = await app_artifact(store)
    await runtime.start_release(spec("gone2", uri, start_command=app_command()))
    await runtime.stop_release("gone2", drain_seconds=1.0)
    with pytest.raises(KeyError, match="not running"):
        await runtime.scale_release("gone2", 1, drain_seconds=1.0)
    await runtime.start_release(spec("range1", uri, start_command=app_command()))
    for bad in (-1, 33):
        with pytest.raises(ValueError, match="between 0 and 32"):
            await runtime.scale_release("range1", bad, drain_seconds=1.0)
