"""The pods' output reaches the runtime's `on_output` (and so `deploymentLogs`).

kmock serves pods and their logs (`kube_support`); the tests play the ReplicaSet controller
(create_pod) and the app (append_log). Waiting is by condition with a generous timeout; "no
more lines" is judged after further polls were seen to happen, never after a fixed sleep.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from kube_support import (
    DEPLOYMENTS,
    PODS,
    ApplyingEmulator,
    create_pod,
    push_status,
    start_container,
)
from kubernetes import client

from app.deps import Deps
from app.runtime.kubernetes import pod_logs
from app.runtime.kubernetes.adapter import KubernetesClient
from app.runtime.kubernetes.pod_logs import RESUME_WINDOW_S
from app.runtime.kubernetes.runtime import KubernetesRuntime
from app.runtime.lease import Lease, RedisLease
from app.runtime.protocol import LogLine, ReleaseSpec
from app.settings import Settings

NS = "apps"
BLUE, STAGING = "shop-production-blue", "shop-staging-blue"
SECOND = 1_000_000_000


class Output:
    """An `on_output` callback that keeps what it is given."""

    def __init__(self) -> None:
        self.lines: list[LogLine] = []

    async def __call__(self, line: LogLine) -> None:
        self.lines.append(line)

    def texts(self, replica: int | None = None, release_id: str | None = None) -> list[str]:
        return [
            line.text
            for line in self.lines
            if (replica is None or line.replica == replica)
            and (release_id is None or line.release_id == release_id)
        ]

    async def wait_for(self, *texts: str) -> None:
        await until(lambda: all(text in self.texts() for text in texts))


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def make_settings() -> Settings:
    return Settings(
        kubeconfig="/unused/in/these/tests",
        kubernetes_environments=["production", "staging"],
        kubernetes_namespace=NS,
        kubernetes_rollout_timeout_seconds=5.0,
        public_url="https://stratus.example.com",
    )


def release(number: int, **overrides: Any) -> ReleaseSpec:
    values: dict[str, Any] = {
        "release_id": f"rel-{number}",
        "deployment_id": str(uuid.UUID(int=number)),
        "project": "shop",
        "environment": "production",
        "artifact_uri": f"fs://{uuid.UUID(int=1000 + number)}.tar.gz",
        "framework": "python",
        "start_command": "python app.py",
        "replicas": 1,
    }
    return ReleaseSpec(**{**values, **overrides})


@pytest.fixture()
async def runtimes(
    kmock: ApplyingEmulator, api_client: client.ApiClient
) -> AsyncIterator[Callable[..., KubernetesRuntime]]:
    """Runtimes as worker processes would hold them: each its own client, closed at the end
    (`api_client` only for the kinds it declares on the server)."""
    made: list[KubernetesRuntime] = []

    def make(
        output: Output, *, poll_interval: float = 0.05, lease: Lease | None = None
    ) -> KubernetesRuntime:
        api = client.ApiClient(client.Configuration(host=str(kmock.url).rstrip("/")))
        kube = KubernetesClient(api, poll_interval=0.02, request_timeout=5)
        runtime = KubernetesRuntime(
            kube,
            make_settings(),
            on_output=output,
            log_poll_interval=poll_interval,
            lease=lease,
        )
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.aclose()


async def start(
    runtime: KubernetesRuntime,
    kmock: ApplyingEmulator,
    spec: ReleaseSpec,
    pods: dict[str, str],
    *,
    boot: str | None = None,
) -> None:
    """Start the release, playing the controllers: `pods` (name -> creation time) appear,
    write `boot` while the rollout still waits, then the Deployment becomes available."""
    starting = asyncio.create_task(runtime.start_release(spec))
    name = f"shop-{spec.environment}-blue"
    await until(lambda: (DEPLOYMENTS, NS, name) in kmock.objects)
    for pod, created in pods.items():
        create_pod(kmock, NS, pod, spec.release_id, created=created)
        if boot is not None:
            kmock.append_log(NS, pod, boot)
    replicas = kmock.objects[DEPLOYMENTS, NS, name].raw["spec"]["replicas"]
    push_status(
        kmock,
        NS,
        name,
        observedGeneration=kmock.objects[DEPLOYMENTS, NS, name].raw["metadata"]["generation"],
        replicas=replicas,
        updatedReplicas=replicas,
        availableReplicas=replicas,
    )
    await asyncio.wait_for(starting, 10)


async def after_more_polls(kmock: ApplyingEmulator, reads: int = 6) -> None:
    """Wait until the followers have read pod logs `reads` more times."""
    seen = kmock.log_reads
    await until(lambda: kmock.log_reads >= seen + reads)


async def test_every_line_arrives_once_in_order_with_its_replica_and_deployment(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime]
) -> None:
    output = Output()
    runtime = runtimes(output)
    # Creation order, not name order, numbers the replicas.
    pods = {f"{BLUE}-zz": "2026-01-01T00:00:01Z", f"{BLUE}-aa": "2026-01-01T00:00:02Z"}
    await start(runtime, kmock, release(1, replicas=2), pods, boot="booting")
    first = next(iter(pods))
    expected: dict[int, list[str]] = {0: ["booting"], 1: ["booting"]}
    for round_ in range(5):
        for replica, pod in enumerate(pods):
            text = f"request {round_} on {replica}"
            kmock.append_log(NS, pod, text)
            expected[replica].append(text)
        await asyncio.sleep(0.03)  # spread the lines over several polls
    # Two lines written at the same instant, the second only after the first was read:
    # the next read starts at that second and returns both; only the second is new.
    instant = kmock.append_log(NS, first, "same instant, first")
    await output.wait_for("same instant, first")
    kmock.append_log(NS, first, "same instant, second", at=instant)
    expected[0] += ["same instant, first", "same instant, second"]

    await output.wait_for("same instant, second", *expected[1])
    await after_more_polls(kmock)
    assert output.texts(replica=0) == expected[0]
    assert output.texts(replica=1) == expected[1]
    assert {(line.deployment_id, line.release_id, line.stream) for line in output.lines} == {
        (str(uuid.UUID(int=1)), "rel-1", "stdout")
    }
    seqs = [line.seq for line in output.lines]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_restarted_and_replaced_pods_are_followed(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime]
) -> None:
    output = Output()
    runtime = runtimes(output)
    one, two, three = f"{BLUE}-one", f"{BLUE}-two", f"{BLUE}-three"
    pods = {one: "2026-01-01T00:00:01Z", two: "2026-01-01T00:00:02Z"}
    await start(runtime, kmock, release(1, replicas=2), pods)
    kmock.append_log(NS, one, "hello from one")
    await output.wait_for("hello from one")

    # The app crashes right after a line no poll has seen yet; the kubelet restarts it.
    kmock.append_log(NS, one, "Traceback: boom")
    kmock.restart_container(NS, one)
    kmock.append_log(NS, one, "hello again")
    await output.wait_for("hello again")
    assert output.texts(replica=0) == ["hello from one", "Traceback: boom", "hello again"]

    # Pod one is replaced: the new pod takes its free index; pod two keeps its own.
    kmock.objects[PODS, NS, one].delete()
    create_pod(kmock, NS, three, "rel-1", created="2026-01-01T00:00:03Z")
    kmock.append_log(NS, three, "hello from three")
    kmock.append_log(NS, two, "still two")
    await output.wait_for("hello from three", "still two")
    await after_more_polls(kmock)
    assert output.texts(replica=0) == [
        "hello from one",
        "Traceback: boom",
        "hello again",
        "hello from three",
    ]
    assert output.texts(replica=1) == ["still two"]


async def test_a_pod_still_initialising_is_read_once_its_container_runs(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime]
) -> None:
    output = Output()
    runtime = runtimes(output)
    pod = f"{BLUE}-one"
    await start(runtime, kmock, release(1), {})
    # The init container still downloads the artifact: log reads answer 400.
    create_pod(kmock, NS, pod, "rel-1", created="2026-01-01T00:00:01Z", running=False)
    await after_more_polls(kmock, reads=3)
    start_container(kmock, NS, pod)
    kmock.append_log(NS, pod, "listening")
    await output.wait_for("listening")
    assert output.texts() == ["listening"]


async def test_a_restarted_worker_resumes_within_the_window_without_replaying(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime]
) -> None:
    before = Output()
    first = runtimes(before)
    pod = f"{BLUE}-one"
    await start(first, kmock, release(1), {pod: "2026-01-01T00:00:01Z"})
    now = time.time_ns()
    kmock.append_log(NS, pod, "an hour ago", at=now - 3600 * SECOND)
    kmock.append_log(NS, pod, "outside the window", at=now - (RESUME_WINDOW_S + 5) * SECOND)
    kmock.append_log(NS, pod, "just before the restart", at=now - 2 * SECOND)
    await before.wait_for("just before the restart")
    await first.aclose()  # the worker stops

    after = Output()
    restarted = runtimes(after)
    assert [s.release_id for s in await restarted.list_releases()] == ["rel-1"]
    kmock.append_log(NS, pod, "after the restart")
    await after.wait_for("after the restart")
    await after_more_polls(kmock)
    # Only the documented window is delivered again, and only once.
    assert after.texts() == ["just before the restart", "after the restart"]
    assert before.texts() == ["an hour ago", "outside the window", "just before the restart"]


async def test_stopping_reads_the_last_lines_then_stops_following(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime]
) -> None:
    # Polls an hour apart: after the first one, only the last read on stopping can deliver
    # lines. The pods exist (and have written) before that first poll.
    output = Output()
    slow = runtimes(output, poll_interval=3600)
    for pod, release_id in ((f"{BLUE}-one", "rel-1"), (f"{STAGING}-one", "rel-2")):
        create_pod(kmock, NS, pod, release_id, created="2026-01-01T00:00:01Z")
        kmock.append_log(NS, pod, f"booting {release_id}")
    await start(slow, kmock, release(1), {})
    await start(slow, kmock, release(2, environment="staging"), {})
    await output.wait_for("booting rel-1", "booting rel-2")

    kmock.append_log(NS, f"{BLUE}-one", "last words")
    kmock.append_log(NS, f"{STAGING}-one", "shutting down")
    await slow.stop_release("rel-1", drain_seconds=0)
    assert output.texts(release_id="rel-1") == ["booting rel-1", "last words"]
    assert output.texts(release_id="rel-2") == ["booting rel-2"]
    await slow.aclose()  # the worker's shutdown: the sink gets the last lines first
    assert output.texts(release_id="rel-2") == ["booting rel-2", "shutting down"]


async def test_a_stopped_release_is_no_longer_followed(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime]
) -> None:
    output = Output()
    runtime = runtimes(output)
    production, staging = f"{BLUE}-one", f"{STAGING}-one"
    await start(runtime, kmock, release(1), {production: "2026-01-01T00:00:01Z"})
    await start(
        runtime, kmock, release(2, environment="staging"), {staging: "2026-01-01T00:00:01Z"}
    )
    kmock.append_log(NS, production, "before stop")
    await output.wait_for("before stop")
    await runtime.stop_release("rel-1", drain_seconds=0)

    # The pod outlives its Deployment a little (kmock has no garbage collector at all).
    kmock.append_log(NS, production, "after stop")
    for tick in range(3):  # the other release's follower keeps polling meanwhile
        kmock.append_log(NS, staging, f"tick {tick}")
        await output.wait_for(f"tick {tick}")
    assert output.texts(release_id="rel-1") == ["before stop"]


async def test_a_release_whose_deployment_went_away_is_no_longer_followed(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime]
) -> None:
    # E.g. replaced by another worker's deploy: this worker learns it when it lists.
    output = Output()
    runtime = runtimes(output)
    production, staging = f"{BLUE}-one", f"{STAGING}-one"
    await start(runtime, kmock, release(1), {production: "2026-01-01T00:00:01Z"})
    await start(
        runtime, kmock, release(2, environment="staging"), {staging: "2026-01-01T00:00:01Z"}
    )
    kmock.objects[DEPLOYMENTS, NS, BLUE].delete()
    assert [s.release_id for s in await runtime.list_releases()] == ["rel-2"]

    kmock.append_log(NS, production, "nobody reads this")
    for tick in range(3):
        kmock.append_log(NS, staging, f"tick {tick}")
        await output.wait_for(f"tick {tick}")
    assert output.texts(release_id="rel-1") == []


async def test_cluster_errors_are_retried_and_never_reach_the_rollout(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime]
) -> None:
    output = Output()
    runtime = runtimes(output)
    pod = f"{BLUE}-one"
    kmock.failing_log_reads = 10**6  # the API server fails every log read
    await start(runtime, kmock, release(1), {pod: "2026-01-01T00:00:01Z"}, boot="booting")
    assert (await runtime.health("rel-1")).ok
    kmock.append_log(NS, pod, "while failing")
    await until(lambda: kmock.log_reads >= 5)
    assert output.lines == []

    kmock.failing_log_reads = 0  # recovered: nothing written meanwhile is lost
    await output.wait_for("while failing")
    assert output.texts() == ["booting", "while failing"]


async def test_output_beyond_the_read_limit_is_paged_and_a_flood_skipped_with_a_notice(
    kmock: ApplyingEmulator,
    runtimes: Callable[..., KubernetesRuntime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pod_logs, "READ_LIMIT_BYTES", 300)  # about 7 lines per read
    monkeypatch.setattr(pod_logs, "MAX_READ_LIMIT_BYTES", 4000)
    output = Output()
    runtime = runtimes(output)
    pod = f"{BLUE}-one"
    await start(runtime, kmock, release(1), {pod: "2026-01-01T00:00:01Z"})
    # One second (the granularity of sinceTime) holds 40 lines, 10 reads' worth...
    second = (time.time_ns() // SECOND + 1) * SECOND
    lines = [f"line {n:02}" for n in range(40)]
    for n, text in enumerate(lines):
        kmock.append_log(NS, pod, text, at=second + n)
    # ...the next one a line longer than any read may be, then more lines.
    kmock.append_log(NS, pod, "x" * 5000, at=second + SECOND)
    kmock.append_log(NS, pod, "lost with the flood", at=second + SECOND + 1)
    kmock.append_log(NS, pod, "after the flood", at=second + 2 * SECOND)
    await output.wait_for("after the flood")
    await after_more_polls(kmock)

    texts = output.texts()
    assert texts[:40] == lines
    assert texts[41:] == ["after the flood"]
    notice = output.lines[40]
    assert notice.stream == "system" and "output skipped" in notice.text


async def test_with_several_workers_one_follows_a_release_and_another_takes_over(
    kmock: ApplyingEmulator, runtimes: Callable[..., KubernetesRuntime], deps: Deps
) -> None:
    """Every worker lists (and so follows) every release; the lease in Redis lets one read
    its logs, so each line reaches the deployment's log once, not once per worker."""
    prefix = f"test:lease:{uuid.uuid4().hex[:8]}:"
    first, second = Output(), Output()
    worker_a = runtimes(first, lease=RedisLease(deps.redis, "a", ttl_s=5, prefix=prefix))
    worker_b = runtimes(second, lease=RedisLease(deps.redis, "b", ttl_s=5, prefix=prefix))
    pod = f"{BLUE}-one"
    await start(worker_a, kmock, release(1), {pod: "2026-01-01T00:00:01Z"})
    await worker_b.list_releases()  # the reconciler's listing: b follows rel-1 too
    for n in range(5):
        kmock.append_log(NS, pod, f"line {n}")
        await asyncio.sleep(0.03)
    await first.wait_for("line 4")
    await after_more_polls(kmock)
    assert first.texts() == [f"line {n}" for n in range(5)]
    assert second.texts() == []  # b polled nothing: a holds the lease

    await worker_a.aclose()  # worker a stops (and gives the lease up)
    kmock.append_log(NS, pod, "after the handover")
    await second.wait_for("after the handover")
    # b took over from the resume window: at most that window's lines arrive twice.
    assert set(second.texts()) <= {f"line {n}" for n in range(5)} | {"after the handover"}
