"""Kubernetes runtime adapter: applies rendered manifests and watches rollouts.

The official client is synchronous, so every call runs in `asyncio.to_thread`; the event loop
never blocks on the cluster.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from app.runtime.kubernetes.manifests import (
    CANARY_WEIGHT,
    Manifest,
    deployment,
    ingress,
    pod_disruption_budget,
    service,
)
from app.runtime.kubernetes.spec import ReleaseSpec

FIELD_MANAGER = "stratus"
APPLY_PATCH = "application/apply-patch+yaml"  # the client sends the dict as JSON, valid YAML
MERGE_PATCH = "application/merge-patch+json"

# kind -> (API group class, method suffix): the typed client has one method per kind and verb.
_KINDS: dict[str, tuple[Callable[[client.ApiClient], Any], str]] = {
    "Deployment": (client.AppsV1Api, "namespaced_deployment"),
    "Service": (client.CoreV1Api, "namespaced_service"),
    "Secret": (client.CoreV1Api, "namespaced_secret"),
    "Ingress": (client.NetworkingV1Api, "namespaced_ingress"),
    "PodDisruptionBudget": (client.PolicyV1Api, "namespaced_pod_disruption_budget"),
    "Pod": (client.CoreV1Api, "namespaced_pod"),  # read and listed only (their logs)
}
POD_LOG_PATH = "/api/v1/namespaces/{namespace}/pods/{name}/log"


class RolloutState(enum.StrEnum):
    PROGRESSING = "progressing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    state: RolloutState
    message: str
    replicas: int = 0
    updated: int = 0
    available: int = 0


def rollout_status(obj: Manifest) -> RolloutStatus:
    """Judge a Deployment the way `kubectl rollout status` does (pure, for polling)."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    want = int(spec.get("replicas", 1))
    current = int(status.get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)

    def result(state: RolloutState, message: str) -> RolloutStatus:
        return RolloutStatus(state, message, want, updated, available)

    # Until the controller has seen the newest spec, the counters describe an older revision.
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return result(RolloutState.PROGRESSING, "waiting for the controller to observe the spec")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return result(RolloutState.FAILED, cond.get("message") or "progress deadline exceeded")
    if updated < want:
        return result(RolloutState.PROGRESSING, f"{updated} of {want} replicas updated")
    if current > updated:
        return result(RolloutState.PROGRESSING, f"{current - updated} old replicas terminating")
    if available < updated:
        return result(RolloutState.PROGRESSING, f"{available} of {updated} replicas available")
    return result(RolloutState.SUCCEEDED, f"{available} of {want} replicas available")


class KubernetesClient:
    """Deploys releases to one cluster through an `ApiClient` (kubeconfig or a test server)."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        poll_interval: float = 2.0,
        request_timeout: float = 30.0,
    ) -> None:
        self._api = api_client
        self._groups = {kind: factory(api_client) for kind, (factory, _) in _KINDS.items()}
        self._poll_interval = poll_interval
        # A hung connection must not outlive the caller's own timeout by much.
        self._request_timeout = request_timeout

    @classmethod
    def from_kubeconfig(cls, path: str, context: str | None = None) -> KubernetesClient:
        # Own ApiClient per runtime: several clusters can be driven from one process.
        api = config.new_client_from_config(config_file=path, context=context)  # type: ignore[no-untyped-call]
        return cls(api)

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    def _call(self, kind: str, verb: str) -> Callable[..., Any]:
        if kind not in _KINDS:
            raise ValueError(f"unsupported kind {kind!r}")
        return getattr(self._groups[kind], f"{verb}_{_KINDS[kind][1]}")  # type: ignore[no-any-return]

    async def apply(self, manifests: Sequence[Manifest]) -> None:
        """Server-side apply each manifest in order (creates or updates, idempotent)."""
        for manifest in manifests:
            await asyncio.to_thread(self._apply_one, manifest)

    def _apply_one(self, manifest: Manifest) -> None:
        meta = manifest["metadata"]
        # Server-side apply rather than create-or-replace: it creates missing objects, prunes
        # fields a later release drops, and keeps fields other controllers own (e.g. an HPA's
        # replicas). force=True because Stratus is the authority for everything it renders.
        self._call(manifest["kind"], "patch")(
            meta["name"],
            meta["namespace"],
            manifest,
            field_manager=FIELD_MANAGER,
            force=True,
            field_validation="Strict",
            _content_type=APPLY_PATCH,
            _request_timeout=self._request_timeout,
        )

    # The timeout is part of the answer (TIMED_OUT with the last counts), which wrapping the
    # call in asyncio.timeout() could not give, hence the explicit parameter.
    async def wait_rollout(
        self,
        namespace: str,
        deployment_name: str,
        *,
        timeout: float,
    ) -> RolloutStatus:
        """Poll the Deployment until it succeeds, fails, or `timeout` seconds pass.

        Polling rather than a watch: the sync client's watch blocks a thread until the server
        ends the stream, which cannot be cancelled cleanly; a short GET per interval can.
        Returns TIMED_OUT (does not raise) so the caller decides between retry and rollback.
        """
        deadline = time.monotonic() + timeout
        last = RolloutStatus(RolloutState.PROGRESSING, "not observed yet")
        while True:
            try:
                obj = await asyncio.to_thread(self._read_deployment, namespace, deployment_name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                return RolloutStatus(RolloutState.FAILED, f"deployment {deployment_name} is gone")
            last = rollout_status(obj)
            if last.state is not RolloutState.PROGRESSING:
                return last
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                message = f"timed out after {timeout:g}s: {last.message}"
                return RolloutStatus(
                    RolloutState.TIMED_OUT, message, last.replicas, last.updated, last.available
                )
            await asyncio.sleep(min(self._poll_interval, remaining))

    def _read_deployment(self, namespace: str, name: str) -> Manifest:
        # The raw JSON, not the typed model: the judgement works on the wire format as
        # documented, and a field the client's models do not know cannot break it.
        response = self._call("Deployment", "read")(
            name, namespace, _preload_content=False, _request_timeout=self._request_timeout
        )
        data: Manifest = json.loads(response.data)
        return data

    async def read(self, kind: str, namespace: str, name: str) -> Manifest | None:
        """One object as raw JSON, or None when it does not exist."""

        def read() -> Manifest | None:
            try:
                response = self._call(kind, "read")(
                    name, namespace, _preload_content=False, _request_timeout=self._request_timeout
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            data: Manifest = json.loads(response.data)
            return data

        return await asyncio.to_thread(read)

    async def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
        """Objects of `kind` in `namespace` carrying every label of `labels` (raw JSON)."""
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))

        def list_objects() -> list[Manifest]:
            response = self._call(kind, "list")(
                namespace,
                label_selector=selector,
                _preload_content=False,
                _request_timeout=self._request_timeout,
            )
            items: list[Manifest] = json.loads(response.data).get("items") or []
            return items

        items = await asyncio.to_thread(list_objects)
        # Filtered here as well: cheap, and it keeps a server that ignores the selector (a
        # test double, an old proxy) from handing us another project's objects.
        return [item for item in items if _has_labels(item, labels)]

    async def read_pod_log(
        self,
        namespace: str,
        name: str,
        *,
        container: str,
        timestamps: bool = False,
        since_time: datetime | None = None,
        since_seconds: int | None = None,
        previous: bool = False,
        limit_bytes: int | None = None,
    ) -> str:
        """One container's log so far (not followed), as text; `previous`: its last instance.

        With `timestamps` each line starts with its RFC3339Nano time and a space. The typed
        client has no `sinceTime` parameter (only `sinceSeconds`, relative to the server's
        clock), so the request is built here; the API server accepts fractional seconds.
        """
        if since_time is not None and since_seconds is not None:
            raise ValueError("at most one of since_time and since_seconds")
        query: list[tuple[str, str]] = [("container", container)]
        if timestamps:
            query.append(("timestamps", "true"))
        if previous:
            query.append(("previous", "true"))
        if since_time is not None:
            query.append(("sinceTime", rfc3339(since_time)))
        if since_seconds is not None:
            query.append(("sinceSeconds", str(since_seconds)))
        if limit_bytes is not None:
            query.append(("limitBytes", str(limit_bytes)))

        def read() -> str:
            request = self._api.param_serialize(
                "GET",
                POD_LOG_PATH,
                path_params={"namespace": namespace, "name": name},
                query_params=query,
                header_params={"Accept": "text/plain"},
                auth_settings=["BearerToken"],
            )
            response = self._api.call_api(*request, _request_timeout=self._request_timeout)
            response.read()  # type: ignore[no-untyped-call]
            if not 200 <= response.status <= 299:
                raise ApiException.from_response(http_resp=response, body=None, data=None)
            body: bytes = response.data or b""
            return body.decode("utf-8", errors="replace")

        return await asyncio.to_thread(read)

    async def merge_patch(self, kind: str, namespace: str, name: str, body: Manifest) -> None:
        """Change a few fields. A merge patch, not an apply: an apply with a partial body
        would make the server drop every other field this manager owns."""
        await asyncio.to_thread(
            self._call(kind, "patch"),
            name,
            namespace,
            body,
            field_manager=FIELD_MANAGER,
            _content_type=MERGE_PATCH,
            _request_timeout=self._request_timeout,
        )

    async def set_canary_weight(self, namespace: str, ingress_name: str, weight: int) -> None:
        if not 0 <= weight <= 100:
            raise ValueError("weight must be within 0..100")
        body = {"metadata": {"annotations": {CANARY_WEIGHT: str(weight)}}}
        await self.merge_patch("Ingress", namespace, ingress_name, body)

    async def delete(self, manifests: Sequence[Manifest]) -> None:
        """Delete the objects the manifests name; objects already gone are fine (idempotent)."""
        for manifest in manifests:
            await asyncio.to_thread(self._delete_one, manifest)

    def _delete_one(self, manifest: Manifest) -> None:
        meta = manifest["metadata"]
        try:
            self._call(manifest["kind"], "delete")(
                meta["name"],
                meta["namespace"],
                propagation_policy="Background",  # ReplicaSets and pods go via the GC
                _request_timeout=self._request_timeout,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def delete_release(self, spec: ReleaseSpec) -> None:
        """Remove one colour: its Deployment, Service and PDB, and the canary Ingress.

        The canary Ingress goes too because it only lives while a rollout is in flight, and
        retiring either colour ends that rollout: after a promotion the new colour is primary,
        after a rollback the canary is gone. Leaving it would route traffic to a missing Service.
        The primary Ingress is never deleted here; it belongs to the environment.
        """
        await self.delete(
            [
                ingress(spec, canary=True),
                pod_disruption_budget(spec),
                service(spec),
                deployment(spec),
            ]
        )


def rfc3339(moment: datetime) -> str:
    """UTC with microseconds and a Z, as the API server parses query times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _has_labels(item: Manifest, labels: Mapping[str, str]) -> bool:
    have = (item.get("metadata") or {}).get("labels") or {}
    return all(have.get(key) == value for key, value in labels.items())
