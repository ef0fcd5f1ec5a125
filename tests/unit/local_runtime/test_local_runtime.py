"""App releases as supervised processes: environment, restarts, drain, health, replicas."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import pytest
from runtime_support import Collected, eventually, wait_healthy

from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime
from app.runtime.local.net import probe
from app.runtime.local.procs import alive
from app.runtime.protocol import ProcessState, ReleaseStartError, ReplicaState
from tests.support.release_apps import app_artifact, app_command, spec


async def get(upstream: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as http:
        return await http.get(f"http://{upstream}{path}")


async def replica(rt: LocalRuntime, release_id: str, index: int = 0) -> ReplicaState:
    states = {s.release_id: s for s in await rt.list_releases()}
    return states[release_id].replicas[index]


async def test_app_gets_its_variables_and_port_but_not_the_supervisors_environment(
    runtime: LocalRuntime,
    store: FilesystemArtifactStore,
    output: Collected,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://supervisor-secret@db/stratus")
    uri = await app_artifact(store)
    release = spec("env1", uri, start_command=app_command("v1"), env={"GREETING": "hi there"})
    handle = await runtime.start_release(release)
    await wait_healthy(runtime, "env1")

    assert (await get(handle.upstream, "/")).text == "v1"
    assert (await get(handle.upstream, "/env/GREETING")).text == "hi there"
    assert (await get(handle.upstream, "/env/PORT")).text == handle.upstream.split(":")[1]
    assert (await get(handle.upstream, "/env/HOST")).text == "127.0.0.1"
    assert (await get(handle.upstream, "/env/DATABASE_URL")).status_code == 404
    home = (await get(handle.upstream, "/env/HOME")).text
    assert home == str(tmp_path / "state/releases/env1/home")

    # Output reaches the callback, the in-memory tail and the log file.
    await eventually(lambda: _has(output.texts("env1", "stdout"), "v1 listening"), 5)
    assert any("started pid" in text for text in output.texts("env1", "system"))
    tail = await runtime.logs("env1")
    assert any(line.text.startswith("v1 listening") for line in tail)
    later = await runtime.logs("env1", after=tail[0].seq)
    assert later == tail[1:]  # the cursor skips what the caller has already seen
    log_file = tmp_path / "state/releases/env1/logs/replica-0.log"
    assert "v1 listening" in log_file.read_text()
    assert "hi there" not in repr(release)  # variables stay out of logged specs

    # Starting the same release again (a job ran twice) changes nothing.
    assert await runtime.start_release(release) == handle


async def test_crashing_app_is_restarted_with_a_new_pid(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    uri = await app_artifact(store)
    handle = await runtime.start_release(
        spec("crash1", uri, start_command=app_command("v1", crash_after=1))
    )
    await eventually(lambda: _serves(handle.upstream), 10, "first start")
    first = await replica(runtime, "crash1")
    assert first.restarts == 0 and first.state is ProcessState.RUNNING

    async def restarted() -> bool:
        now = await replica(runtime, "crash1")
        return now.restarts == 1 and now.pid not in (None, first.pid)

    await eventually(restarted, 10, "restart")
    assert (await replica(runtime, "crash1")).last_exit_code == 4
    await eventually(lambda: _serves(handle.upstream), 10, "serving after restart")


async def test_restart_delay_doubles_up_to_the_maximum(
    runtime: LocalRuntime, store: FilesystemArtifactStore, output: Collected
) -> None:
    uri = await app_artifact(store)
    await runtime.start_release(spec("crash2", uri, start_command=app_command(crash_on_start=True)))

    def delays() -> list[float]:
        texts = output.texts("crash2", "system")
        return [float(m) for text in texts for m in re.findall(r"restarting in ([\d.]+)s", text)]

    async def five() -> bool:
        return len(delays()) >= 5

    await eventually(five, 15, "five crashes")
    assert delays()[:5] == [0.1, 0.2, 0.4, 0.8, 0.8]
    state = await replica(runtime, "crash2")
    assert state.restarts >= 4
    assert state.last_exit_code == 3
    assert any("failing on start" in text for text in output.texts("crash2", "stderr"))


async def test_stop_kills_an_app_that_ignores_sigterm_after_the_drain(
    runtime: LocalRuntime, store: FilesystemArtifactStore, output: Collected
) -> None:
    uri = await app_artifact(store)
    await runtime.start_release(spec("stub1", uri, start_command=app_command(ignore_term=True)))
    await runtime.start_release(spec("nice1", uri, start_command=app_command()))
    await wait_healthy(runtime, "stub1")
    await wait_healthy(runtime, "nice1")
    stubborn, nice = (await replica(runtime, "stub1")).pid, (await replica(runtime, "nice1")).pid
    assert stubborn and nice

    started = time.monotonic()
    await runtime.stop_release("stub1", drain_seconds=0.6)
    took = time.monotonic() - started
    assert 0.6 <= took < 3.0
    assert not alive(stubborn)
    assert any("still running after the drain" in t for t in output.texts("stub1", "system"))

    started = time.monotonic()
    await runtime.stop_release("nice1", drain_seconds=5.0)
    assert time.monotonic() - started < 2.0  # exits on SIGTERM, no need to wait the drain
    assert not alive(nice)
    assert await runtime.list_releases() == []
    await runtime.stop_release("nice1", drain_seconds=1.0)  # unknown now: a no-op


async def test_health_reports_status_and_failures(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    uri = await app_artifact(store)
    await runtime.start_release(spec("ok1", uri, start_command=app_command()))
    sick = await runtime.start_release(
        spec("sick1", uri, start_command=app_command(unhealthy=True))
    )
    await wait_healthy(runtime, "ok1")

    good = await runtime.health("ok1")
    assert good.ok and good.status == 200 and good.error is None and good.latency_ms > 0
    assert (await runtime.health("ok1", "/nothing-here")).ok  # the app answers 200 to any path

    await eventually(lambda: _serves(sick.upstream), 10)
    bad = await runtime.health("sick1")
    assert not bad.ok and bad.status == 500 and bad.error == "replica 0: HTTP 500"

    missing = await runtime.health("never-started")
    assert not missing.ok and missing.status is None

    refused = await probe("127.0.0.1:9", "/", 1.0)
    assert not refused.ok and refused.status is None and refused.error


async def test_replicas_get_their_own_ports_and_processes(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    uri = await app_artifact(store)
    handle = await runtime.start_release(
        spec("multi1", uri, start_command=app_command("v2"), replicas=2)
    )
    assert len(handle.upstreams) == 2 and len(set(handle.upstreams)) == 2
    await wait_healthy(runtime, "multi1")
    pids = {(await get(upstream, "/pid")).text for upstream in handle.upstreams}
    assert len(pids) == 2
    assert {(await get(upstream, "/")).text for upstream in handle.upstreams} == {"v2"}


async def test_releases_that_cannot_start_say_why(
    runtime: LocalRuntime, store: FilesystemArtifactStore
) -> None:
    with pytest.raises(ReleaseStartError, match="cannot unpack"):
        await runtime.start_release(spec("gone1", "fs://missing.tar.gz", start_command="true"))
    uri = await app_artifact(store)
    with pytest.raises(ReleaseStartError, match="nothing to run"):
        await runtime.start_release(spec("idle1", uri, start_command=None))


async def _serves(upstream: str) -> bool:
    try:
        return (await get(upstream, "/")).status_code == 200
    except httpx.HTTPError:
        return False


async def _has(texts: list[str], prefix: str) -> bool:
    await asyncio.sleep(0)
    return any(text.startswith(prefix) for text in texts)
