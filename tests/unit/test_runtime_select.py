"""RuntimeSet: one Runtime for the rollouts, each environment's releases on its own runtime.

The local side is `FakeLocal` (what it records is what the set asked of it); the
Kubernetes side is the real KubernetesRuntime against kmock's in-memory API server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes import client

from app.runtime.kubernetes.adapter import KubernetesClient
from app.runtime.kubernetes.runtime import KubernetesRuntime
from app.runtime.protocol import (
    ReleaseHandle,
    ReleaseSpec,
)
from app.runtime.select import RuntimeSet, runs_on_kubernetes
from app.settings import Settings
from tests.unit.kubernetes.kube_support import (
    DEPLOYMENTS,
    SERVED,
    ApplyingEmulator,
    FakeLocal,
    push_status,
)

NS = "apps"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kubeconfig": "/unused/in/these/tests",
        "kubernetes_environments": ["production"],
        "kubernetes_namespace": NS,
        "kubernetes_rollout_timeout_seconds": 5.0,
    }
    return Settings(**{**values, **overrides})


def release(release_id: str, environment: str) -> ReleaseSpec:
    return ReleaseSpec(
        release_id=release_id,
        deployment_id=str(uuid.uuid4()),
        project="shop",
        environment=environment,
        artifact_uri=f"fs://{uuid.uuid4()}.tar.gz",
        framework="python",
        start_command="python app.py",
    )


@pytest.fixture()
def kmock_options(kmock_options: dict[str, Any]) -> dict[str, Any]:
    return {**kmock_options, "cls": ApplyingEmulator}


@pytest.fixture()
async def api_client(kmock: ApplyingEmulator) -> AsyncIterator[client.ApiClient]:
    for resource in SERVED:
        kmock.resources[resource] = {}
    api = client.ApiClient(client.Configuration(host=str(kmock.url).rstrip("/")))
    yield api
    api.close()


def kubernetes_runtime(api_client: client.ApiClient) -> KubernetesRuntime:
    return KubernetesRuntime(KubernetesClient(api_client, poll_interval=0.02), make_settings())


async def start_on_cluster(
    runtime_set: RuntimeSet, kmock: ApplyingEmulator, spec: ReleaseSpec
) -> ReleaseHandle:
    """start_release, playing the deployment controller once the Deployment appears."""
    starting = asyncio.create_task(runtime_set.start_release(spec))
    name = f"shop-{spec.environment}-blue"
    for _ in range(500):
        if (DEPLOYMENTS, NS, name) in kmock.objects:
            break
        await asyncio.sleep(0.01)
    push_status(
        kmock, NS, name, observedGeneration=1, replicas=1, updatedReplicas=1, availableReplicas=1
    )
    return await asyncio.wait_for(starting, 5)


async def test_environments_go_to_their_runtime_and_calls_follow_the_release(
    kmock: ApplyingEmulator, api_client: client.ApiClient
) -> None:
    local = FakeLocal()
    runtime_set = RuntimeSet(make_settings(), local, kubernetes_runtime(api_client))

    on_cluster = await start_on_cluster(runtime_set, kmock, release("rel-prod", "production"))
    on_machine = await runtime_set.start_release(release("rel-preview", "preview"))

    assert on_cluster.upstreams == (f"shop-production-blue.{NS}.svc.cluster.local:80",)
    assert on_machine.upstreams == ("127.0.0.1:9001",)
    assert set(local.running) == {"rel-preview"}
    assert (await runtime_set.health("rel-prod")).ok
    assert (await runtime_set.health("rel-preview")).ok

    await runtime_set.scale_release("rel-preview", 2, drain_seconds=0)
    assert local.scaled == [("rel-preview", 2)]
    await runtime_set.stop_release("rel-prod", drain_seconds=0)
    assert kmock.objects[DEPLOYMENTS, NS, "shop-production-blue"].deleted
    assert local.stopped == []  # the local runtime never heard of the cluster's release
    assert {s.release_id for s in await runtime_set.list_releases()} == {"rel-preview"}

    await runtime_set.aclose()
    assert local.closed


async def test_after_a_restart_the_owner_map_is_rebuilt_from_the_runtimes(
    kmock: ApplyingEmulator, api_client: client.ApiClient
) -> None:
    survivors: dict[str, ReleaseSpec] = {}
    before = RuntimeSet(make_settings(), FakeLocal(survivors), kubernetes_runtime(api_client))
    await start_on_cluster(before, kmock, release("rel-prod", "production"))
    await before.start_release(release("rel-preview", "preview"))

    local = FakeLocal(survivors)
    after = RuntimeSet(make_settings(), local, kubernetes_runtime(api_client))
    assert (await after.health("rel-prod")).ok  # found on the cluster, not in memory
    assert not (await after.health("rel-unknown")).ok
    await after.stop_release("rel-prod", drain_seconds=0)
    assert kmock.objects[DEPLOYMENTS, NS, "shop-production-blue"].deleted
    assert local.stopped == []
    await after.stop_release("rel-preview", drain_seconds=0)
    assert local.stopped == ["rel-preview"]
    with pytest.raises(LookupError):
        await after.scale_release("rel-prod", 1, drain_seconds=0)


async def test_reconcile_forwards_to_each_runtime(
    kmock: ApplyingEmulator, api_client: client.ApiClient
) -> None:
    local = FakeLocal()
    runtime_set = RuntimeSet(make_settings(), local, kubernetes_runtime(api_client))
    await start_on_cluster(runtime_set, kmock, release("rel-prod", "production"))
    await runtime_set.start_release(release("rel-old", "preview"))
    await runtime_set.start_release(release("rel-new", "preview"))

    result = await runtime_set.reconcile({"rel-prod", "rel-new", "rel-lost"}, drain_seconds=0)

    assert result.stopped == ("rel-old",)
    assert result.to_start == ("rel-lost",)  # neither runtime runs it
    assert set(local.running) == {"rel-new"}
    assert not kmock.objects[DEPLOYMENTS, NS, "shop-production-blue"].deleted
    # Upkeep reaches every runtime (the cluster's: artifact URL renewal).
    await runtime_set.maintain()
    assert local.maintained == 1


async def test_without_kubeconfig_everything_runs_locally() -> None:
    settings = make_settings(kubeconfig=None)
    local = FakeLocal()
    runtime_set = RuntimeSet(settings, local)
    await runtime_set.start_release(release("rel-prod", "production"))
    assert set(local.running) == {"rel-prod"}
    assert not runs_on_kubernetes(settings, "production")
    assert runs_on_kubernetes(make_settings(), "production")
    assert not runs_on_kubernetes(make_settings(), "preview")


def test_a_configured_cluster_without_its_runtime_is_an_error() -> None:
    with pytest.raises(ValueError, match="STRATUS_KUBECONFIG"):
        RuntimeSet(make_settings(), FakeLocal())
