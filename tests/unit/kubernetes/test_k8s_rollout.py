"""A real rollout (app.domain.rollout.run) for an environment configured for Kubernetes.

PostgreSQL and the API are real; the cluster is kmock, with this test playing the deployment
controller (every applied Deployment becomes available). The worker's `apply_traffic` job
then moves the Ingresses to what the committed weights say, and the pods' output reaches
the deployment's log through the real DeployLogSink.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kube_support import (
    DEPLOYMENTS,
    INGRESSES,
    ApplyingEmulator,
    FakeLocal,
    create_pod,
    push_status,
)
from kubernetes import client
from sqlalchemy import select

from app.deps import Deps
from app.domain import rollout
from app.domain.deploy_logs import DeployLogSink
from app.domain.rollout_traffic import APPLY_TRAFFIC_JOB, sync_routes
from app.ids import parse_id, to_global_id
from app.runtime.kubernetes.adapter import KubernetesClient
from app.runtime.kubernetes.runtime import KubernetesRuntime
from app.runtime.select import RuntimeSet
from app.settings import Settings
from db import models
from db.enums import DeploymentStatus
from jobs.deployments import apply_traffic
from jobs.worker import worker_settings
from tests.support.api import Api
from tests.support.build_rows import succeeded_build

NS = "apps"
DEPLOY = """mutation($i: DeployInput!) { deploy(input: $i) {
  deployment { id } userErrors { code message field } } }"""


async def play_controller(kmock: ApplyingEmulator) -> None:
    """Make every Deployment whose spec changed fully available (a healthy cluster)."""
    while True:
        for resource, namespace, name in list(kmock.objects):
            obj = kmock.objects[resource, namespace, name]
            if resource != DEPLOYMENTS or obj.deleted:
                continue
            raw = obj.raw
            generation = raw["metadata"].get("generation", 1)
            if (raw.get("status") or {}).get("observedGeneration") != generation:
                replicas = raw["spec"]["replicas"]
                push_status(
                    kmock,
                    namespace,
                    name,
                    observedGeneration=generation,
                    replicas=replicas,
                    updatedReplicas=replicas,
                    availableReplicas=replicas,
                )
        await asyncio.sleep(0.02)


@pytest.fixture()
async def cluster(kmock: ApplyingEmulator) -> AsyncIterator[ApplyingEmulator]:
    controller = asyncio.create_task(play_controller(kmock))
    yield kmock
    controller.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await controller


def _cluster_settings(deps: Deps) -> Settings:
    """The worker's settings with production on the cluster (kmock) and quick rollouts."""
    return deps.settings.model_copy(
        update={
            "kubeconfig": "/unused/in/this/test",
            "kubernetes_environments": ["production"],
            "kubernetes_namespace": NS,
            "kubernetes_rollout_timeout_seconds": 10.0,
            "deploy_health_interval_seconds": 0.1,
            "deploy_heartbeat_seconds": 0.5,
        }
    )


async def _build(deps: Deps, project_id: uuid.UUID) -> str:
    # No artifact file: pods would fetch it, and kmock runs no pods.
    return to_global_id("Build", await succeeded_build(deps, project_id))


async def test_rollouts_on_kubernetes_take_alternate_colours_and_move_the_ingress(
    api: Api,
    deps: Deps,
    cluster: ApplyingEmulator,
    api_client: client.ApiClient,
) -> None:
    settings = _cluster_settings(deps)
    # No queue: the test runs the worker's apply_traffic job itself, after each rollout.
    worker_deps = dataclasses.replace(deps, settings=settings, queue=None)
    local = FakeLocal()
    kubernetes = KubernetesRuntime(KubernetesClient(api_client, poll_interval=0.02), settings)
    runtime = RuntimeSet(settings, local, kubernetes)
    ctx: dict[str, Any] = {"deps": worker_deps, "runtime": runtime}

    account = await api.sign_up("k8s")
    project = await api.create_project(account.token, account.team_id)
    project_id, slug = parse_id(project["id"], "Project"), project["slug"]

    async def roll_out() -> models.Deployment:
        data = await api.ok(
            DEPLOY,
            {
                "i": {
                    "projectId": project["id"],
                    "buildId": await _build(deps, project_id),
                    "strategy": "IMMEDIATE",
                }
            },
            token=account.token,
        )
        assert data["deploy"]["userErrors"] == []
        deployment_id = parse_id(data["deploy"]["deployment"]["id"], "Deployment")
        status = await asyncio.wait_for(
            rollout.run(worker_deps, runtime, deployment_id, worker_id="k8s-test"), 30
        )
        assert status is DeploymentStatus.ACTIVE
        async with deps.sessionmaker() as s:
            row = await s.get(models.Deployment, deployment_id)
            assert row is not None
        await apply_traffic(ctx, str(row.environment_id))
        return row

    def primary_backend() -> str:
        ingress = cluster.objects[INGRESSES, NS, f"{slug}-production"].raw
        name: str = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
        return name

    first = await roll_out()
    assert first.upstreams == [f"{slug}-production-blue.{NS}.svc.cluster.local:80"]
    assert primary_backend() == f"{slug}-production-blue"

    second = await roll_out()
    assert second.upstreams == [f"{slug}-production-green.{NS}.svc.cluster.local:80"]
    assert primary_backend() == f"{slug}-production-green"
    assert (INGRESSES, NS, f"{slug}-production-canary") not in cluster.objects
    # The first release stays warm in blue for an instant rollback; nothing ran locally.
    async with deps.sessionmaker() as s:
        superseded = await s.get(models.Deployment, first.id)
    assert superseded is not None and superseded.status is DeploymentStatus.SUPERSEDED
    blue = cluster.objects[DEPLOYMENTS, NS, f"{slug}-production-blue"]
    assert not blue.deleted
    assert blue.raw["metadata"]["labels"]["stratus.dev/release"] == first.release_id
    assert local.running == {}

    # A third release takes blue: the first one no longer runs anywhere, so it stops being
    # offered for rollback (the API refuses rather than pointing traffic at nothing).
    third = await roll_out()
    assert third.upstreams == [f"{slug}-production-blue.{NS}.svc.cluster.local:80"]
    assert primary_backend() == f"{slug}-production-blue"
    async with deps.sessionmaker() as s:
        replaced = await s.get(models.Deployment, first.id)
        kept = await s.get(models.Deployment, second.id)
    assert replaced is not None and replaced.upstreams is None
    assert kept is not None and kept.upstreams == second.upstreams  # still warm in green
    rollback = """mutation($d: ID!) { rollbackDeployment(input: {deploymentId: $d}) {
      userErrors { code } } }"""
    refused = await api.payload(
        rollback, {"d": to_global_id("Deployment", first.id)}, token=account.token
    )
    assert refused["userErrors"] == [{"code": "RELEASE_NOT_RETAINED"}]
    allowed = await api.payload(
        rollback, {"d": to_global_id("Deployment", second.id)}, token=account.token
    )
    assert allowed["userErrors"] == []


class RecordingQueue:
    """Stands in for the arq pool: records the jobs sync_routes enqueues."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str]] = []

    async def delete(self, key: str) -> None:
        pass

    async def enqueue_job(self, name: str, *args: Any, _job_id: str) -> None:
        self.jobs.append((name, args, _job_id))


async def test_route_sync_asks_the_worker_to_apply_traffic_for_cluster_environments(
    api: Api, deps: Deps
) -> None:
    account = await api.sign_up("k8s-sync")
    project = await api.create_project(account.token, account.team_id)
    async with deps.sessionmaker() as s:
        envs = dict(
            (
                await s.execute(
                    select(models.Environment.name, models.Environment.id).where(
                        models.Environment.project_id == parse_id(project["id"], "Project")
                    )
                )
            ).all()
        )
    settings = deps.settings.model_copy(
        update={"kubeconfig": "/unused", "kubernetes_environments": ["production"]}
    )
    queue = RecordingQueue()
    api_deps = dataclasses.replace(deps, settings=settings, queue=queue)

    await sync_routes(api_deps, envs["production"])
    await sync_routes(api_deps, envs["preview"])  # runs locally: the router table suffices

    job_id = f"{APPLY_TRAFFIC_JOB}:{envs['production']}"
    assert queue.jobs == [(APPLY_TRAFFIC_JOB, (str(envs["production"]),), job_id)]
    # The worker runs a function under that name.
    names = {
        getattr(f, "name", getattr(f, "__name__", None))
        for f in worker_settings(settings)["functions"]
    }
    assert APPLY_TRAFFIC_JOB in names


async def test_the_apps_output_on_kubernetes_lands_in_the_deployments_log(
    api: Api, deps: Deps, cluster: ApplyingEmulator, api_client: client.ApiClient
) -> None:
    """The worker's wiring: the Kubernetes runtime's on_output is the real DeployLogSink."""
    settings = _cluster_settings(deps)
    worker_deps = dataclasses.replace(deps, settings=settings, queue=None)
    sink = DeployLogSink(deps.sessionmaker, deps.events)
    own_client = client.ApiClient(client.Configuration(host=str(cluster.url).rstrip("/")))
    kubernetes = KubernetesRuntime(
        KubernetesClient(own_client, poll_interval=0.02),
        settings,
        on_output=sink,
        log_poll_interval=0.05,
    )
    runtime = RuntimeSet(settings, FakeLocal(), kubernetes)

    account = await api.sign_up("k8s-logs")
    project = await api.create_project(account.token, account.team_id)
    project_id, slug = parse_id(project["id"], "Project"), project["slug"]
    data = await api.ok(
        DEPLOY,
        {
            "i": {
                "projectId": project["id"],
                "buildId": await _build(deps, project_id),
                "strategy": "IMMEDIATE",
            }
        },
        token=account.token,
    )
    deployment_gid = data["deploy"]["deployment"]["id"]
    deployment_id = parse_id(deployment_gid, "Deployment")
    try:
        status = await asyncio.wait_for(
            rollout.run(worker_deps, runtime, deployment_id, worker_id="k8s-test"), 30
        )
        assert status is DeploymentStatus.ACTIVE
        async with deps.sessionmaker() as s:
            row = await s.get(models.Deployment, deployment_id)
        assert row is not None and row.release_id is not None

        # The ReplicaSet controller's pod, then the app's output.
        pod = f"{slug}-production-blue-7d4f9"
        create_pod(cluster, NS, pod, row.release_id, created="2026-01-01T00:00:01Z")
        cluster.append_log(NS, pod, "listening on :8080", "GET / 200")

        query = """query($d: ID!) { deployment(id: $d) { logs(first: 10) {
          lines { seq stream replica text } } } }"""

        async def logged() -> list[dict[str, Any]]:
            result = await api.ok(query, {"d": deployment_gid}, token=account.token)
            lines: list[dict[str, Any]] = result["deployment"]["logs"]["lines"]
            return lines

        async with asyncio.timeout(10):
            while len(await logged()) < 2:
                await asyncio.sleep(0.05)
        assert await logged() == [
            {"seq": 1, "stream": "STDOUT", "replica": 0, "text": "listening on :8080"},
            {"seq": 2, "stream": "STDOUT", "replica": 0, "text": "GET / 200"},
        ]
    finally:
        await runtime.aclose()
        await sink.aclose()
