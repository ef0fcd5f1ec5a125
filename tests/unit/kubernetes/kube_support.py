"""Helpers for the Kubernetes runtime tests: kmock's in-memory API server plus gaps filled.

kmock's KubernetesEmulator stores objects on POST, merges PATCH bodies, deletes on DELETE and
serves GET/LIST/WATCH; it is a JSON store, not an API server. Three behaviours the adapter
relies on are missing, and `ApplyingEmulator` adds them openly (nothing else is faked):

* server-side apply creating a missing object: kmock answers a PATCH to a missing object with
  404, while a real API server creates it (that is the point of apply);
* metadata.generation: a real server sets it to 1 on create and bumps it when the spec
  changes; kmock never sets it, so observedGeneration checks would pass vacuously;
* the pods/{name}/log subresource (kmock serves no subresources): containers' output comes
  from lines a test appends (`append_log`), served like the API server does (see
  `ApplyingEmulator._serve_pod_log`).

Deployment status is never synthesised: tests push it, playing the deployment controller;
pods are made by tests too (`create_pod`), playing the ReplicaSet controller.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp.web
import attrs
import kmock

from app.runtime.kubernetes.spec import ReleaseSpec, SecretEnv
from app.runtime.protocol import HealthResult, ReconcileResult, ReleaseHandle, ReleaseState
from app.runtime.protocol import ReleaseSpec as RuntimeReleaseSpec

DEPLOYMENTS = kmock.resource(group="apps", version="v1", plural="deployments")
SERVICES = kmock.resource(group="", version="v1", plural="services")
INGRESSES = kmock.resource(group="networking.k8s.io", version="v1", plural="ingresses")
PDBS = kmock.resource(group="policy", version="v1", plural="poddisruptionbudgets")
SECRETS = kmock.resource(group="", version="v1", plural="secrets")
PODS = kmock.resource(group="", version="v1", plural="pods")
# A real API server lists these kinds from the start; kmock lists only declared resources.
SERVED = (DEPLOYMENTS, SERVICES, INGRESSES, PDBS, SECRETS, PODS)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# (timestamp in ns since the epoch, text) per line, in the order the container wrote them.
ContainerLog = list[tuple[int, str]]


@attrs.define(kw_only=True)
class ApplyingEmulator(kmock.KubernetesEmulator):
    """kmock plus server-side apply, metadata.generation and pod logs (module docstring)."""

    # (namespace, pod) -> the "app" container's instances, oldest first; the last one runs.
    pod_logs: dict[tuple[str, str], list[ContainerLog]] = attrs.field(factory=dict, init=False)
    log_reads: int = attrs.field(default=0, init=False)  # pod log requests answered
    failing_log_reads: int = attrs.field(default=0, init=False)  # answer the next N with 500

    def append_log(self, namespace: str, pod: str, *texts: str, at: int | None = None) -> int:
        """The pod's container writes lines, stamped now, one nanosecond apart like the
        kubelet's (or all at `at`, ns, to make a tie); returns the last line's timestamp."""
        current = self.pod_logs.setdefault((namespace, pod), [[]])[-1]
        ts = max(time.time_ns(), current[-1][0] + 1 if current else 0)
        for n, text in enumerate(texts):
            current.append((at if at is not None else ts + n, text))
        return current[-1][0]

    def restart_container(self, namespace: str, pod: str) -> None:
        """The container exited and the kubelet started it again: a new, empty log."""
        self.pod_logs.setdefault((namespace, pod), [[]]).append([])
        obj = self.objects[PODS, namespace, pod]
        status = obj.raw["status"]["containerStatuses"][0]
        restarted = {**status, "restartCount": status["restartCount"] + 1}
        obj.patch({"status": {"containerStatuses": [restarted]}})

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource == PODS and request.subresource == "log" and request.method == "GET":
            return self._serve_pod_log(request)
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

    def _serve_pod_log(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """GET pods/{name}/log as the API server answers it (not followed): the current (or,
        with previous=true, the last ended) instance's lines; timestamps=true prefixes each
        with its RFC3339Nano time (9 digits, as the kubelet writes it); sinceTime (RFC3339;
        a fraction is accepted but dropped: whole seconds reach the kubelet) or sinceSeconds
        (from the server's now; not both) keep lines at or after that moment; limitBytes
        cuts the body, even mid-line."""
        self.log_reads += 1
        if self.failing_log_reads > 0:
            self.failing_log_reads -= 1
            return _status(500, "InternalError", "etcdserver: request timed out")
        assert request.namespace is not None and request.name is not None
        key = (PODS, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return _status(404, "NotFound", f'pods "{request.name}" not found')
        params = request.params
        containers = [c["name"] for c in self.objects[key].raw["spec"]["containers"]]
        container = params.get("container") or (containers[0] if len(containers) == 1 else "")
        if container not in containers:
            return _status(400, "BadRequest", f"container {container} is not valid")
        status = self.objects[key].raw["status"]["containerStatuses"][0]
        if "waiting" in status.get("state", {}) and params.get("previous") != "true":
            message = f'container "{container}" in pod "{request.name}" is waiting to start'
            return _status(400, "BadRequest", f"{message}: PodInitializing")
        if "sinceTime" in params and "sinceSeconds" in params:
            message = "at most one of `sinceTime` or `sinceSeconds` may be specified"
            return _status(422, "Invalid", message)
        instances = self.pod_logs.get((request.namespace, request.name), [[]])
        if params.get("previous") == "true":
            if len(instances) < 2:
                message = f'previous terminated container "{container}" not found'
                return _status(400, "BadRequest", message)
            lines = instances[-2]
        else:
            lines = instances[-1]
        since: int | None = None
        if "sinceTime" in params:
            # The API server passes sinceTime on to the kubelet formatted as RFC3339, in
            # whole seconds (LogLocation in pkg/registry/core/pod/strategy.go).
            moment = datetime.fromisoformat(params["sinceTime"]) - EPOCH
            since = (moment // timedelta(seconds=1)) * 1_000_000_000
        elif "sinceSeconds" in params:
            since = time.time_ns() - int(params["sinceSeconds"]) * 1_000_000_000
        stamps = params.get("timestamps") == "true"
        body = "".join(
            (f"{_rfc3339_nano(ts)} " if stamps else "") + text + "\n"
            for ts, text in lines
            if since is None or ts >= since
        ).encode()
        if "limitBytes" in params:
            body = body[: int(params["limitBytes"])]
        return aiohttp.web.Response(body=body, content_type="text/plain")


def _rfc3339_nano(ns: int) -> str:
    whole = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return f"{whole:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000:09d}Z"


def _status(code: int, reason: str, message: str) -> aiohttp.web.StreamResponse:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message}
    return aiohttp.web.json_response({**body, "reason": reason, "code": code}, status=code)


def create_pod(
    emulator: ApplyingEmulator,
    namespace: str,
    name: str,
    release_id: str,
    *,
    created: str,
    running: bool = True,
) -> None:
    """Play the ReplicaSet controller: a pod of the release (one "app" container), running
    or still waiting for its init container (`start_container` then starts it)."""
    state = {"running": {}} if running else {"waiting": {"reason": "PodInitializing"}}
    emulator.objects[PODS, namespace, name] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": created,
            "labels": {
                "app.kubernetes.io/managed-by": "stratus",
                "stratus.dev/release": release_id,
            },
        },
        "spec": {"containers": [{"name": "app", "image": "runner"}]},
        "status": {
            "phase": "Running" if running else "Pending",
            "containerStatuses": [{"name": "app", "restartCount": 0, "state": state}],
        },
    }


def start_container(emulator: ApplyingEmulator, namespace: str, name: str) -> None:
    obj = emulator.objects[PODS, namespace, name]
    status = {**obj.raw["status"]["containerStatuses"][0], "state": {"running": {}}}
    obj.patch({"status": {"phase": "Running", "containerStatuses": [status]}})


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
        self.maintained = 0
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

    async def maintain(self) -> None:
        self.maintained += 1

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
