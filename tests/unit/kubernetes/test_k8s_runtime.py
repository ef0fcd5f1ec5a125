"""KubernetesRuntime (the rollouts' Runtime protocol) against kmock's in-memory API server.

The tests play the deployment controller (push_status); everything else is the runtime's own
work: colour choice from cluster state, Secret + Deployment + Service + PDB per colour,
Ingress traffic, and state rebuilt by a fresh runtime object (a worker restart).
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import pytest
from kube_support import (
    DEPLOYMENTS,
    INGRESSES,
    PDBS,
    SECRETS,
    SERVICES,
    ApplyingEmulator,
    push_status,
)
from kubernetes import client

from app.deps import Deps
from app.runtime.kubernetes.adapter import KubernetesClient
from app.runtime.kubernetes.artifact_urls import is_valid, parse
from app.runtime.kubernetes.manifests import CANARY, CANARY_WEIGHT
from app.runtime.kubernetes.release_specs import ARTIFACT_URL_KEY
from app.runtime.kubernetes.runtime import KubernetesRuntime
from app.runtime.lease import RedisLease
from app.runtime.protocol import ReleaseHandle, ReleaseSpec, ReleaseStartError
from app.settings import Settings

NS = "apps"
PRIMARY, CANARY_INGRESS = "shop-production", "shop-production-canary"
BLUE, GREEN = "shop-production-blue", "shop-production-green"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kubeconfig": "/unused/in/these/tests",
        "kubernetes_environments": ["production"],
        "kubernetes_namespace": NS,
        "kubernetes_host_template": "{project}-{environment}.apps.example.com",
        "kubernetes_rollout_timeout_seconds": 5.0,
        "public_url": "https://stratus.example.com",
    }
    return Settings(**{**values, **overrides})


@pytest.fixture()
def settings() -> Settings:
    return make_settings()


@pytest.fixture()
def runtime(kube: KubernetesClient, settings: Settings) -> KubernetesRuntime:
    return KubernetesRuntime(kube, settings)


def release(number: int, **overrides: Any) -> ReleaseSpec:
    values: dict[str, Any] = {
        "release_id": f"rel-{number}",
        "deployment_id": str(uuid.UUID(int=number)),
        "project": "shop",
        "environment": "production",
        "artifact_uri": f"fs://{uuid.UUID(int=1000 + number)}.tar.gz",
        "framework": "python",
        "start_command": "python app.py",
        "env": {"GREETING": f"hello {number}"},
        "replicas": 2,
        "health_path": "/healthz",
    }
    return ReleaseSpec(**{**values, **overrides})


def stored(kmock: ApplyingEmulator, resource: object, name: str) -> dict[str, Any] | None:
    key = (resource, NS, name)
    if key not in kmock.objects or kmock.objects[key].deleted:
        return None
    raw: dict[str, Any] = kmock.objects[key].raw
    return raw


def release_of(obj: dict[str, Any] | None) -> str | None:
    return None if obj is None else obj["metadata"]["labels"]["stratus.dev/release"]


def backend_of(ingress: dict[str, Any]) -> str:
    name: str = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    return name


async def play_controller(kmock: ApplyingEmulator, release_id: str, *, available: int) -> None:
    """Wait for the runtime to apply the release's Deployment, then report its pods."""
    for _ in range(500):
        names = [name for resource, _, name in list(kmock.objects) if resource == DEPLOYMENTS]
        for name in names:
            obj = stored(kmock, DEPLOYMENTS, name)
            if release_of(obj) == release_id:
                assert obj is not None
                replicas = obj["spec"]["replicas"]
                push_status(
                    kmock,
                    NS,
                    name,
                    observedGeneration=obj["metadata"]["generation"],
                    replicas=replicas,
                    updatedReplicas=replicas,
                    availableReplicas=available,
                )
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"deployment of {release_id} never applied")


async def start(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator, spec: ReleaseSpec
) -> ReleaseHandle:
    starting = asyncio.create_task(runtime.start_release(spec))
    await play_controller(kmock, spec.release_id, available=spec.replicas)
    return await asyncio.wait_for(starting, 5)


async def test_start_release_applies_the_colour_and_waits_until_available(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator, settings: Settings
) -> None:
    starting = asyncio.create_task(runtime.start_release(release(1)))
    await asyncio.sleep(0.2)
    assert not starting.done()  # no pod available yet: start_release waits
    await play_controller(kmock, "rel-1", available=2)
    handle = await asyncio.wait_for(starting, 5)

    assert handle.upstreams == (f"{BLUE}.{NS}.svc.cluster.local:80",)
    dep = stored(kmock, DEPLOYMENTS, BLUE)
    assert dep is not None and release_of(dep) == "rel-1"
    assert dep["spec"]["replicas"] == 2
    assert dep["metadata"]["annotations"]["stratus.dev/deployment"] == str(uuid.UUID(int=1))
    pod = dep["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == settings.kubernetes_runner_image
    assert pod["containers"][0]["command"] == ["sh", "-c", "python app.py"]
    assert pod["initContainers"][0]["image"] == settings.kubernetes_fetch_image
    assert stored(kmock, SERVICES, BLUE) is not None
    assert stored(kmock, PDBS, BLUE) is not None
    # No traffic yet: the Ingresses are set_traffic's business.
    assert stored(kmock, INGRESSES, PRIMARY) is None

    # The app's variables and a valid signed artifact URL live in the colour's Secret.
    secret = stored(kmock, SECRETS, BLUE)
    assert secret is not None
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["GREETING"] == "hello 1"
    url = data[ARTIFACT_URL_KEY]
    build_id = str(uuid.UUID(int=1001))
    assert url.startswith(f"https://stratus.example.com/artifacts/{build_id}?")
    query = dict(part.split("=") for part in url.split("?", 1)[1].split("&"))
    assert is_valid(settings, build_id, query["expires"], query["signature"])


async def test_second_release_takes_the_other_colour_and_third_replaces_the_idle_one(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1))
    await runtime.set_traffic("shop", "production", {"rel-1": 100})
    await start(runtime, kmock, release(2))
    assert (
        release_of(stored(kmock, DEPLOYMENTS, BLUE)),
        release_of(stored(kmock, DEPLOYMENTS, GREEN)),
    ) == ("rel-1", "rel-2")

    # rel-2 goes live; rel-1 (blue) is retained but serves nothing, so rel-3 replaces it.
    await runtime.set_traffic("shop", "production", {"rel-1": 0, "rel-2": 100})
    await start(runtime, kmock, release(3))
    assert release_of(stored(kmock, DEPLOYMENTS, BLUE)) == "rel-3"
    assert release_of(stored(kmock, DEPLOYMENTS, GREEN)) == "rel-2"
    assert runtime.max_releases_per_environment == 2

    # The replaced release is no rollback target: it cannot come back and evict rel-3.
    with pytest.raises(ReleaseStartError, match="rel-1 was replaced by rel-3"):
        await runtime.start_release(release(1))
    with pytest.raises(LookupError, match="rel-1"):
        await runtime.set_traffic("shop", "production", {"rel-1": 100})

    # Once no deployment holds it (retention over), the reconciler stops it: forgotten.
    await runtime.stop_release("rel-1", drain_seconds=0)
    assert {s.release_id for s in await runtime.list_releases()} == {"rel-2", "rel-3"}
    assert release_of(stored(kmock, DEPLOYMENTS, BLUE)) == "rel-3"


async def test_starting_the_same_release_again_is_idempotent(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    first = await start(runtime, kmock, release(1))
    again = await asyncio.wait_for(runtime.start_release(release(1)), 5)
    assert again == first
    assert stored(kmock, DEPLOYMENTS, GREEN) is None


async def test_no_new_release_while_both_colours_serve(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1))
    await start(runtime, kmock, release(2))
    await runtime.set_traffic("shop", "production", {"rel-1": 80, "rel-2": 20})
    with pytest.raises(ReleaseStartError, match="canary is in flight"):
        await runtime.start_release(release(3))


async def test_set_traffic_points_primary_and_canary_ingress(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1))
    await start(runtime, kmock, release(2))

    await runtime.set_traffic("shop", "production", {"rel-1": 100})
    primary = stored(kmock, INGRESSES, PRIMARY)
    assert primary is not None and backend_of(primary) == BLUE
    assert primary["spec"]["rules"][0]["host"] == "shop-production.apps.example.com"
    assert stored(kmock, INGRESSES, CANARY_INGRESS) is None

    await runtime.set_traffic("shop", "production", {"rel-1": 95, "rel-2": 5})
    canary = stored(kmock, INGRESSES, CANARY_INGRESS)
    assert canary is not None and backend_of(canary) == GREEN
    assert canary["metadata"]["annotations"] == {CANARY: "true", CANARY_WEIGHT: "5"}
    assert backend_of(stored(kmock, INGRESSES, PRIMARY) or {}) == BLUE

    # The heavier release takes the primary Ingress; the lighter one becomes the canary.
    await runtime.set_traffic("shop", "production", {"rel-1": 30, "rel-2": 70})
    assert backend_of(stored(kmock, INGRESSES, PRIMARY) or {}) == GREEN
    canary = stored(kmock, INGRESSES, CANARY_INGRESS)
    assert canary is not None and backend_of(canary) == BLUE
    assert canary["metadata"]["annotations"][CANARY_WEIGHT] == "30"

    await runtime.set_traffic("shop", "production", {"rel-1": 0, "rel-2": 100})
    assert backend_of(stored(kmock, INGRESSES, PRIMARY) or {}) == GREEN
    assert stored(kmock, INGRESSES, CANARY_INGRESS) is None

    with pytest.raises(ValueError, match="sum to 100"):
        await runtime.set_traffic("shop", "production", {"rel-1": 60, "rel-2": 60})


async def test_health_is_the_deployments_availability(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1))
    assert (await runtime.health("rel-1")).ok

    push_status(kmock, NS, BLUE, availableReplicas=1)  # a pod lost its readiness
    unhealthy = await runtime.health("rel-1")
    assert not unhealthy.ok and unhealthy.status == 503
    assert unhealthy.error == "1 of 2 replicas available"

    missing = await runtime.health("rel-404")
    assert not missing.ok and missing.error == "release is not running"


async def test_start_fails_when_the_rollout_fails(
    kube: KubernetesClient, kmock: ApplyingEmulator
) -> None:
    runtime = KubernetesRuntime(kube, make_settings(kubernetes_rollout_timeout_seconds=0.3))
    with pytest.raises(ReleaseStartError, match="did not become available: timed out"):
        await runtime.start_release(release(1))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"artifact_uri": "s3://bucket/build.tar.gz"}, "not served by the download route"),
        ({"start_command": None}, "no start command"),
    ],
)
async def test_unstartable_releases_are_refused_clearly(
    runtime: KubernetesRuntime, overrides: dict[str, Any], error: str
) -> None:
    with pytest.raises(ReleaseStartError, match=error):
        await runtime.start_release(release(1, **overrides))


async def test_static_site_without_start_command_is_served_by_the_runner(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1, framework="static", start_command=None))
    dep = stored(kmock, DEPLOYMENTS, BLUE)
    assert dep is not None
    command = dep["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "http.server" in command[2]


async def test_scale_release_patches_replicas(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1))
    handle = await runtime.scale_release("rel-1", 0, drain_seconds=0)
    assert handle.upstreams == ()
    assert (stored(kmock, DEPLOYMENTS, BLUE) or {})["spec"]["replicas"] == 0
    with pytest.raises(LookupError):
        await runtime.scale_release("rel-404", 1, drain_seconds=0)


async def test_stop_release_deletes_the_colour(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1))
    await start(runtime, kmock, release(2))
    await runtime.set_traffic("shop", "production", {"rel-1": 80, "rel-2": 20})

    await runtime.stop_release("rel-2", drain_seconds=0)  # e.g. an automatic rollback
    for resource in (DEPLOYMENTS, SERVICES, PDBS, SECRETS):
        assert stored(kmock, resource, GREEN) is None
    assert stored(kmock, INGRESSES, CANARY_INGRESS) is None
    assert backend_of(stored(kmock, INGRESSES, PRIMARY) or {}) == BLUE
    await runtime.stop_release("rel-2", drain_seconds=0)  # unknown now: a no-op


async def test_stop_waits_until_traffic_has_left_the_release(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1))
    await start(runtime, kmock, release(2))
    await runtime.set_traffic("shop", "production", {"rel-1": 100})

    # An instant rollback: the rows say rel-2 serves, but the Ingress still points at blue.
    await runtime.stop_release("rel-1", drain_seconds=0)
    assert release_of(stored(kmock, DEPLOYMENTS, BLUE)) == "rel-1"

    await runtime.set_traffic("shop", "production", {"rel-2": 100})
    await runtime.stop_release("rel-1", drain_seconds=0)
    assert stored(kmock, DEPLOYMENTS, BLUE) is None

    # The last release of the environment takes its primary Ingress with it.
    await runtime.stop_release("rel-2", drain_seconds=0)
    assert stored(kmock, DEPLOYMENTS, GREEN) is None
    assert stored(kmock, INGRESSES, PRIMARY) is None


async def test_a_fresh_runtime_sees_the_cluster_state(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator, api_client: client.ApiClient
) -> None:
    await start(runtime, kmock, release(1))
    await runtime.set_traffic("shop", "production", {"rel-1": 100})
    await start(runtime, kmock, release(2))
    await runtime.set_traffic("shop", "production", {"rel-2": 100})
    await start(runtime, kmock, release(3))  # replaces rel-1 in blue

    # A worker restart: nothing in memory, the same cluster.
    restarted = KubernetesRuntime(KubernetesClient(api_client, poll_interval=0.02), make_settings())
    states = {s.release_id: s for s in await restarted.list_releases()}
    assert set(states) == {"rel-1", "rel-2", "rel-3"}
    assert len(states["rel-3"].replicas) == 2
    assert states["rel-3"].deployment_id == str(uuid.UUID(int=3))
    assert states["rel-1"].replicas == ()  # replaced: listed only so nothing restarts it

    # The next release takes the colour not serving (rel-3's), derived from the Ingress.
    with pytest.raises(ReleaseStartError, match="replaced"):
        await restarted.start_release(release(1))

    result = await restarted.reconcile({"rel-2"}, drain_seconds=0)
    assert set(result.stopped) == {"rel-1", "rel-3"}
    assert result.to_start == ()
    assert {s.release_id for s in await restarted.list_releases()} == {"rel-2"}
    assert release_of(stored(kmock, DEPLOYMENTS, GREEN)) == "rel-2"
    assert stored(kmock, DEPLOYMENTS, BLUE) is None

    result = await restarted.reconcile({"rel-2", "rel-9"}, drain_seconds=0)
    assert result == type(result)(stopped=(), to_start=("rel-9",))


async def test_other_environments_and_foreign_deployments_are_left_alone(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator
) -> None:
    await start(runtime, kmock, release(1))
    await start(runtime, kmock, release(2, environment="staging"))
    # Each environment has its own colours: staging's first release is blue too.
    assert release_of(stored(kmock, DEPLOYMENTS, "shop-staging-blue")) == "rel-2"
    await runtime.stop_release("rel-2", drain_seconds=0)
    assert release_of(stored(kmock, DEPLOYMENTS, BLUE)) == "rel-1"


def test_from_kubeconfig_needs_a_kubeconfig() -> None:
    with pytest.raises(ValueError, match="STRATUS_KUBECONFIG"):
        KubernetesRuntime.from_kubeconfig(make_settings(kubeconfig=None))


async def test_artifact_urls_past_half_their_validity_are_renewed(
    runtime: KubernetesRuntime, kmock: ApplyingEmulator, settings: Settings
) -> None:
    """A pod rescheduled weeks after its release started must still fetch its artifact."""
    await start(runtime, kmock, release(1))

    def url() -> tuple[str, int]:
        secret = stored(kmock, SECRETS, BLUE)
        assert secret is not None
        return parse(base64.b64decode(secret["data"][ARTIFACT_URL_KEY]).decode())

    build_id, expires = url()
    ttl = settings.kubernetes_artifact_url_ttl_seconds
    await runtime.maintain()  # fresh: left alone
    assert url() == (build_id, expires)
    later = time.time() + ttl * 0.6
    await runtime.maintain(now=later)
    renewed_id, renewed = url()
    assert renewed_id == build_id and renewed == int(later) + ttl
    # The other keys of the Secret (the app's variables) are untouched.
    secret = stored(kmock, SECRETS, BLUE)
    assert secret is not None and base64.b64decode(secret["data"]["GREETING"]) == b"hello 1"


async def test_workers_starting_releases_of_one_environment_take_turns_choosing_colours(
    kube: KubernetesClient, kmock: ApplyingEmulator, settings: Settings, deps: Deps
) -> None:
    """Two worker processes (two runtimes, one lease in Redis) starting releases of the same
    environment at the same moment must not both pick the free colour."""
    prefix = f"test:lease:{uuid.uuid4().hex[:8]}:"
    workers = [
        KubernetesRuntime(
            kube, settings, lease=RedisLease(deps.redis, owner, ttl_s=10, prefix=prefix)
        )
        for owner in ("a", "b")
    ]
    handles = await asyncio.gather(
        *(start(worker, kmock, release(n)) for n, worker in enumerate(workers, start=1))
    )
    assert {h.upstreams[0].split(".")[0] for h in handles} == {BLUE, GREEN}
    assert {release_of(stored(kmock, DEPLOYMENTS, c)) for c in (BLUE, GREEN)} == {"rel-1", "rel-2"}
