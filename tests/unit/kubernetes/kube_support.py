"""Helpers for the Kubernetes runtime tests: kmock's in-memory API server plus two gaps filled.

kmock's KubernetesEmulator stores objects on POST, merges PATCH bodies, deletes on DELETE and
serves GET/LIST/WATCH; it is a JSON store, not an API server. Two behaviours the adapter relies
on are missing, and `ApplyingEmulator` adds them openly (nothing else is faked):

* server-side apply creating a missing object: kmock answers a PATCH to a missing object with
  404, while a real API server creates it (that is the point of apply);
* metadata.generation: a real server sets it to 1 on create and bumps it when the spec
  changes; kmock never sets it, so observedGeneration checks would pass vacuously.

Deployment status is never synthesised: tests push it, playing the deployment controller.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

import aiohttp.web
import kmock

from app.runtime.kubernetes.spec import ReleaseSpec, SecretEnv
from app.runtime.protocol import HealthResult, ReconcileResult, ReleaseHandle, ReleaseState
from app.runtime.protocol import ReleaseSpec as RuntimeReleaseSpec

DEPLOYMENTS = kmock.resource(group="apps", version="v1", plural="deployments")
SERVICES = kmock.resource(group="", version="v1", plural="services")
INGRESSES = kmock.resource(group="networking.k8s.io", version="v1", plural="ingresses")
PDBS = kmock.resource(group="policy", version="v1", plural="poddisruptionbudgets")
SECRETS = kmock.resource(group="", version="v1", plural="secrets")
# A real API server lists these kinds from the start; kmock lists only declared resources.
SERVED = (DEPLOYMENTS, SERVICES, INGRESSES, PDBS, SECRETS)


class ApplyingEmulator(kmock.KubernetesEmulator):
    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        content_type = request.headers.get("Content-Type", "")
        is_apply = request.method == "PATCH" and content_type.startswith("application/apply-patch")
        if is_apply and request.resource is not None and request.subresource is None:
            key = (request.resource, request.namespace, request.name)
            async with self._lock:
                stored = self.objects[key] if key in self.objects else None
                if stored is None:
                    generation = 1
                    self.objects[key] = copy.deepcopy(request.data)
                elif stored.deleted:
                    generation = 1
                    stored.create(copy.deepcopy(request.data))
                else:
                    generation = stored.raw.get("metadata", {}).get("generation", 1)
                    generation += stored.raw.get("spec") != request.data.get("spec")
                request.data.setdefault("metadata", {})["generation"] = generation
        return await super()._handle(request)


def make_spec(**overrides: Any) -> ReleaseSpec:
    values: dict[str, Any] = {
        "project": "shop",
        "environment": "production",
        "release_id": "rel-0001",
        "colour": "blue",
        "image": "registry.example.com/shop@sha256:" + "a" * 64,
        "namespace": "team-acme",
        "host": "shop.example.com",
        "env_secret": "shop-production-env",
        "secret_env": (SecretEnv("DATABASE_URL", "shop-db", "url"),),
    }
    return ReleaseSpec(**{**values, **overrides})


def push_status(emulator: ApplyingEmulator, namespace: str, name: str, **status: Any) -> None:
    """Play the deployment controller: write status straight into the stored object."""
    emulator.objects[DEPLOYMENTS, namespace, name].patch({"status": status})


class FakeLocal:
    """A local runtime stand-in for RuntimeSet tests. Releases in a dict; `running` can be shared to play a runtime that survived a restart."""

    def __init__(self, running: dict[str, RuntimeReleaseSpec] | None = None) -> None:
        self.running: dict[str, RuntimeReleaseSpec] = {} if running is None else running
        self.stopped: list[str] = []
        self.scaled: list[tuple[str, int]] = []
        self.closed = False

    async def start_release(self, spec: RuntimeReleaseSpec) -> ReleaseHandle:
        self.running[spec.release_id] = spec
        return ReleaseHandle(spec.release_id, ("127.0.0.1:9001",))

    async def scale_release(
        self, release_id: str, replicas: int, *, drain_seconds: float
    ) -> ReleaseHandle:
        self.scaled.append((release_id, replicas))
        return ReleaseHandle(release_id, ("127.0.0.1:9001",) * replicas)

    async def stop_release(self, release_id: str, *, drain_seconds: float) -> None:
        self.stopped.append(release_id)
        self.running.pop(release_id, None)

    async def health(
        self, release_id: str, path: str | None = None, timeout: float = 2.0
    ) -> HealthResult:
        if release_id in self.running:
            return HealthResult(True, 200, 1.0)
        return HealthResult(False, None, 0.0, "release is not running")

    async def list_releases(self) -> list[ReleaseState]:
        return [ReleaseState(r, s.deployment_id, ()) for r, s in self.running.items()]

    async def reconcile(
        self, desired_release_ids: Collection[str], *, drain_seconds: float = 2.0
    ) -> ReconcileResult:
        stopped = tuple(r for r in list(self.running) if r not in desired_release_ids)
        for release_id in stopped:
            await self.stop_release(release_id, drain_seconds=drain_seconds)
        missing = tuple(r for r in desired_release_ids if r not in self.running)
        return ReconcileResult(stopped, missing)

    async def aclose(self) -> None:
        self.closed = True
