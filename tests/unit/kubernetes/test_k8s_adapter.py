"""KubernetesClient against kmock's in-memory Kubernetes API (see kube_support for its gaps)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from kube_support import (
    DEPLOYMENTS,
    INGRESSES,
    PDBS,
    SERVICES,
    ApplyingEmulator,
    make_spec,
    push_status,
)
from kubernetes.client.exceptions import ApiException

from app.runtime.kubernetes.adapter import (
    APPLY_PATCH,
    MERGE_PATCH,
    KubernetesClient,
    RolloutState,
    rollout_status,
)
from app.runtime.kubernetes.manifests import CANARY, CANARY_WEIGHT, release_manifests

NS = "team-acme"
NAME = "shop-production-blue"
CANARY_INGRESS = "shop-production-canary"


def _stored(kmock: ApplyingEmulator, resource: object, name: str) -> dict[str, object]:
    key = (resource, NS, name)
    assert key in kmock.objects and not kmock.objects[key].deleted, f"{name} not stored"
    return kmock.objects[key].raw


async def test_apply_creates_every_object_by_server_side_apply(
    kube: KubernetesClient, kmock: ApplyingEmulator
) -> None:
    await kube.apply(release_manifests(make_spec(replicas=2), canary_weight=20))

    dep = _stored(kmock, DEPLOYMENTS, NAME)
    assert dep["spec"]["replicas"] == 2  # type: ignore[index]
    assert dep["metadata"]["labels"]["stratus.dev/release"] == "rel-0001"  # type: ignore[index]
    _stored(kmock, SERVICES, NAME)
    _stored(kmock, PDBS, NAME)
    ingress = _stored(kmock, INGRESSES, CANARY_INGRESS)
    assert ingress["metadata"]["annotations"][CANARY_WEIGHT] == "20"  # type: ignore[index]
    patches = list(kmock["patch"])
    assert len(patches) == 4
    for request in patches:
        assert request.headers["Content-Type"] == APPLY_PATCH
        assert request.params == {
            "fieldManager": "stratus",
            "force": "true",
            "fieldValidation": "Strict",
        }


async def test_reapply_updates_in_place(kube: KubernetesClient, kmock: ApplyingEmulator) -> None:
    await kube.apply(release_manifests(make_spec(), canary_weight=None))
    await kube.apply(release_manifests(make_spec(image="shop:2"), canary_weight=None))
    dep = _stored(kmock, DEPLOYMENTS, NAME)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:2"  # type: ignore[index]
    assert dep["metadata"]["generation"] == 2  # type: ignore[index]


async def test_wait_rollout_succeeds_once_replicas_are_available(
    kube: KubernetesClient, kmock: ApplyingEmulator
) -> None:
    await kube.apply(release_manifests(make_spec(replicas=2), canary_weight=None))
    waiting = asyncio.create_task(kube.wait_rollout(NS, NAME, timeout=5))

    await asyncio.sleep(0.1)
    assert not waiting.done()  # no status yet
    # Counts complete but for an older spec: still not done.
    push_status(
        kmock, NS, NAME, observedGeneration=0, replicas=2, updatedReplicas=2, availableReplicas=2
    )
    await asyncio.sleep(0.1)
    assert not waiting.done()
    push_status(kmock, NS, NAME, observedGeneration=1)

    status = await asyncio.wait_for(waiting, 2)
    assert status.state is RolloutState.SUCCEEDED
    assert (status.replicas, status.updated, status.available) == (2, 2, 2)


async def test_wait_rollout_fails_on_progress_deadline(
    kube: KubernetesClient, kmock: ApplyingEmulator
) -> None:
    await kube.apply(release_manifests(make_spec(), canary_weight=None))
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "shop-production-blue-5d8f" has timed out progressing.',
    }
    push_status(
        kmock,
        NS,
        NAME,
        observedGeneration=1,
        replicas=1,
        updatedReplicas=1,
        availableReplicas=0,
        conditions=[condition],
    )

    status = await kube.wait_rollout(NS, NAME, timeout=5)
    assert status.state is RolloutState.FAILED
    assert "timed out progressing" in status.message


async def test_wait_rollout_times_out_cleanly(kube: KubernetesClient) -> None:
    await kube.apply(release_manifests(make_spec(), canary_weight=None))
    started = time.monotonic()
    status = await kube.wait_rollout(NS, NAME, timeout=0.3)
    assert status.state is RolloutState.TIMED_OUT
    assert "timed out after 0.3s" in status.message
    assert time.monotonic() - started < 2


async def test_wait_rollout_of_missing_deployment_fails(kube: KubernetesClient) -> None:
    status = await kube.wait_rollout(NS, "nope", timeout=1)
    assert status.state is RolloutState.FAILED


async def test_set_canary_weight_patches_the_annotation(
    kube: KubernetesClient, kmock: ApplyingEmulator
) -> None:
    await kube.apply(release_manifests(make_spec(colour="green"), canary_weight=0))
    await kube.set_canary_weight(NS, CANARY_INGRESS, 50)

    annotations = _stored(kmock, INGRESSES, CANARY_INGRESS)["metadata"]["annotations"]  # type: ignore[index]
    assert annotations == {CANARY: "true", CANARY_WEIGHT: "50"}
    request = list(kmock["patch"])[-1]
    assert request.headers["Content-Type"] == MERGE_PATCH
    assert request.data == {"metadata": {"annotations": {CANARY_WEIGHT: "50"}}}
    with pytest.raises(ValueError, match=r"0\.\.100"):
        await kube.set_canary_weight(NS, CANARY_INGRESS, 101)


async def test_delete_release_removes_its_objects_and_is_idempotent(
    kube: KubernetesClient, kmock: ApplyingEmulator
) -> None:
    blue, green = make_spec(), make_spec(colour="green", release_id="rel-0002")
    await kube.apply(release_manifests(blue, canary_weight=None))
    await kube.apply(release_manifests(green, canary_weight=10))

    await kube.delete_release(green)
    await kube.delete_release(green)  # a job may run twice

    green_name = "shop-production-green"
    for resource, name in [
        (DEPLOYMENTS, green_name),
        (SERVICES, green_name),
        (PDBS, green_name),
        (INGRESSES, CANARY_INGRESS),
    ]:
        assert kmock.objects[resource, NS, name].deleted
    _stored(kmock, DEPLOYMENTS, NAME)  # the other colour and the primary Ingress stay
    _stored(kmock, INGRESSES, "shop-production")


async def test_server_errors_propagate(kube: KubernetesClient, kmock: ApplyingEmulator) -> None:
    kmock["patch", DEPLOYMENTS] << 500 << {"kind": "Status", "message": "etcd is unhappy"}
    with pytest.raises(ApiException) as caught:
        await kube.apply(release_manifests(make_spec(), canary_weight=None))
    assert caught.value.status == 500


async def test_from_kubeconfig_talks_to_the_configured_server(
    kmock: ApplyingEmulator, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        f"""
apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "{str(kmock.url).rstrip("/")}"}}}}]
users: [{{name: dev, user: {{token: not-a-secret}}}}]
contexts:
- {{name: other, context: {{cluster: nowhere, user: dev}}}}
- {{name: fake, context: {{cluster: fake, user: dev}}}}
current-context: other
"""
    )
    kube = KubernetesClient.from_kubeconfig(str(kubeconfig), context="fake")
    try:
        await kube.apply(release_manifests(make_spec(), canary_weight=None))
    finally:
        kube.close()
    _stored(kmock, DEPLOYMENTS, NAME)
    assert next(iter(kmock)).headers["Authorization"] == "Bearer not-a-secret"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ({}, RolloutState.PROGRESSING),
        (
            {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 3},
            RolloutState.PROGRESSING,
        ),  # not all updated
        (
            {"observedGeneration": 1, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3},
            RolloutState.PROGRESSING,
        ),  # an old pod still terminating
        (
            {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2},
            RolloutState.PROGRESSING,
        ),  # not all available
        (
            {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3},
            RolloutState.SUCCEEDED,
        ),
    ],
)
def test_rollout_status_judgement(status: dict[str, int], state: RolloutState) -> None:
    deployment = {"metadata": {"generation": 1}, "spec": {"replicas": 3}, "status": status}
    assert rollout_status(deployment).state is state
