"""KubernetesRuntime: the `Runtime` protocol on one namespace of a cluster.

Each project environment has two colours (blue, green; see `manifests`). A release takes the
colour that serves no traffic, so the colour serving keeps serving while the new one starts:

* the first release takes blue, the second green;
* a third release replaces the colour that is not serving (the older release). That older
  release, typically SUPERSEDED and retained for rollback, stops being a rollback target:
  it no longer exists. Hence `max_releases_per_environment = 2` (the local runtime has no
  such limit). Replaced release ids are remembered on the Deployment so that nothing (the
  reconciler restoring "missing" releases, for instance) can start them again and evict a
  newer release; `list_releases` reports them with zero replicas until they are stopped.
* while a canary is in flight both colours serve, and a new release is refused.

Everything is derived from the cluster (Deployment labels and annotations, the primary and
canary Ingress), never from memory, so a restarted worker sees the same state.

Traffic is not moved by `start_release`: `set_traffic` applies the weights PostgreSQL holds
(the worker's `apply_traffic` job) to the primary and canary Ingress.

Output: with an `on_output` callback, the pods of every release this runtime started or
found (`list_releases`, e.g. after a restart) are followed (`pod_logs`) until the release is
stopped or replaced.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import replace

from kubernetes.client.exceptions import ApiException

from app.runtime.kubernetes import artifact_urls
from app.runtime.kubernetes.adapter import KubernetesClient, RolloutState, rollout_status
from app.runtime.kubernetes.colours import (
    ColourState,
    EnvironmentState,
    annotations_of,
    choose_colour,
    colour_state,
    ingress_colour,
)
from app.runtime.kubernetes.manifests import (
    CANARY_WEIGHT,
    DEPLOYMENT_ANNOTATION,
    INSTANCE_LABEL,
    MANAGED_BY_LABEL,
    RELEASE_LABEL,
    REPLACED_ANNOTATION,
    deployment,
    env_secret,
    ingress,
    pod_disruption_budget,
    service,
)
from app.runtime.kubernetes.pod_logs import POLL_INTERVAL, PodLogFollower
from app.runtime.kubernetes.release_specs import (
    ARTIFACT_URL_KEY,
    artifact_url,
    release_handle,
    service_upstream,
    to_kube_spec,
)
from app.runtime.kubernetes.spec import Colour, k8s_name
from app.runtime.kubernetes.spec import ReleaseSpec as KubeSpec
from app.runtime.lease import Lease
from app.runtime.protocol import (
    MAX_REPLICAS,
    HealthResult,
    OnOutput,
    ProcessState,
    ReconcileResult,
    ReleaseHandle,
    ReleaseSpec,
    ReleaseStartError,
    ReleaseState,
    ReplicaState,
)
from app.settings import Settings

log = logging.getLogger(__name__)

# How long a start waits for another worker choosing a colour in the same environment (a
# choice is a few reads and one apply; the lease outlives a dead holder by its TTL).
COLOUR_LOCK_WAIT_S = 30.0
MANAGED = {MANAGED_BY_LABEL: "stratus"}


class KubernetesRuntime:
    """Releases as Deployments of one namespace; see the module docstring for colours."""

    max_releases_per_environment: int | None = 2

    def __init__(
        self,
        kube: KubernetesClient,
        settings: Settings,
        *,
        on_output: OnOutput | None = None,
        log_poll_interval: float = POLL_INTERVAL,
        lease: Lease | None = None,
    ) -> None:
        self._kube = kube
        self._settings = settings
        self._namespace = settings.kubernetes_namespace
        self._logs = (
            PodLogFollower(
                kube,
                self._namespace,
                on_output,
                poll_interval=log_poll_interval,
                lease=lease,
            )
            if on_output is not None
            else None
        )
        # Colour choice is read-then-write: serialised per environment, in this process by a
        # lock and across worker processes by the lease (when given).
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._lease = lease

    @classmethod
    def from_kubeconfig(
        cls,
        settings: Settings,
        *,
        on_output: OnOutput | None = None,
        lease: Lease | None = None,
    ) -> KubernetesRuntime:
        if not settings.kubeconfig:
            raise ValueError("STRATUS_KUBECONFIG is not set")
        kube = KubernetesClient.from_kubeconfig(settings.kubeconfig, settings.kubernetes_context)
        return cls(kube, settings, on_output=on_output, lease=lease)

    # -- Runtime protocol ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _choosing_colour(self, instance: str) -> AsyncIterator[None]:
        async with self._locks[instance]:
            if self._lease is None:
                yield
                return
            key = f"k8s-colour:{self._namespace}:{instance}"
            deadline = time.monotonic() + COLOUR_LOCK_WAIT_S
            while not await self._lease.hold(key):
                if time.monotonic() > deadline:
                    raise ReleaseStartError(
                        "another worker has been starting a release of this environment for "
                        f"{COLOUR_LOCK_WAIT_S:g}s; try again"
                    )
                await asyncio.sleep(0.1)
            try:
                yield
            finally:
                await self._lease.release(key)

    async def start_release(self, spec: ReleaseSpec) -> ReleaseHandle:
        async with self._choosing_colour(k8s_name(spec.project, spec.environment)):
            state = await self._environment(spec.project, spec.environment)
            # Started before (a retried rollout, perhaps by another worker): its output up
            # to now went elsewhere, so following resumes instead of replaying the pods.
            running_before = state.holding(spec.release_id) is not None
            colour, replaced = choose_colour(
                state, spec.release_id, self.max_releases_per_environment
            )
            kube_spec = to_kube_spec(self._settings, spec, colour, replaced)
            values = {**spec.env, ARTIFACT_URL_KEY: artifact_url(self._settings, spec)}
            # The Secret first: pods of the Deployment read it at start.
            await self._kube.apply(
                [
                    env_secret(kube_spec, values),
                    deployment(kube_spec),
                    service(kube_spec),
                    pod_disruption_budget(kube_spec),
                ]
            )
        evicted = tuple(old for old in replaced if old != spec.release_id)
        for old in evicted:
            await self._stop_following(old)  # its pods are being replaced
        # Followed from now rather than once available: what a crashing app prints while the
        # rollout waits is the output most worth reading. A failed start is stopped (and
        # so unfollowed) by the rollout.
        if self._logs is not None:
            self._logs.follow(spec.release_id, spec.deployment_id, resume=running_before)
        status = await self._kube.wait_rollout(
            self._namespace,
            kube_spec.name,
            timeout=self._settings.kubernetes_rollout_timeout_seconds,
        )
        if status.state is not RolloutState.SUCCEEDED:
            raise ReleaseStartError(
                f"release {spec.release_id} ({colour}) did not become available: {status.message}"
            )
        handle = release_handle(kube_spec, spec.replicas)
        return dataclasses.replace(handle, replaced=evicted)

    async def scale_release(
        self, release_id: str, replicas: int, *, drain_seconds: float
    ) -> ReleaseHandle:
        # drain_seconds is not used: pods drain by their terminationGracePeriodSeconds.
        if not 0 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be between 0 and {MAX_REPLICAS}")
        found = await self._find(release_id)
        if found is None:
            raise LookupError(f"release {release_id} is not on the cluster")
        name = found.spec.name
        await self._kube.merge_patch(
            "Deployment", self._namespace, name, {"spec": {"replicas": replicas}}
        )
        if replicas > 0:
            status = await self._kube.wait_rollout(
                self._namespace, name, timeout=self._settings.kubernetes_rollout_timeout_seconds
            )
            if status.state is not RolloutState.SUCCEEDED:
                raise ReleaseStartError(f"release {release_id} did not scale: {status.message}")
        return release_handle(found.spec, replicas)

    async def stop_release(self, release_id: str, *, drain_seconds: float) -> None:
        found = await self._find(release_id)
        if found is None:
            await self._stop_following(release_id)
            await self._forget_replaced(release_id)
            return
        spec = found.spec
        async with self._locks[spec.instance]:
            state = await self._environment(spec.project, spec.environment)
            held = state.holding(release_id)
            if held is None:
                await self._stop_following(release_id)
                return  # replaced meanwhile
            others = [c for c in state.colours if c != held.spec.colour]
            if state.primary == held.spec.colour and others:
                # Traffic has not moved off it yet (apply_traffic runs as its own job);
                # deleting now would leave the primary Ingress without a backend. The
                # reconciler asks again once the Ingress points elsewhere.
                log.info(
                    "release %s still receives the primary traffic; not stopped yet", release_id
                )
                return
            # Before deleting: the last poll still finds the pods and what they wrote.
            await self._stop_following(release_id)
            await self._kube.delete_release(held.spec)
            await self._kube.delete([env_secret(held.spec, {})])
            if state.primary == held.spec.colour:
                # The environment's last release: nothing is left to route to.
                await self._kube.delete([ingress(held.spec, canary=False)])

    async def health(
        self, release_id: str, path: str | None = None, timeout: float = 2.0
    ) -> HealthResult:
        """Healthy when the Deployment is fully available.

        The readiness probes (on the release's health path) run inside the cluster: the
        worker usually cannot reach pod IPs, so it asks the API server what they concluded.
        `path` is therefore not used.
        """
        started = time.monotonic()

        def elapsed_ms() -> float:
            return (time.monotonic() - started) * 1000

        try:
            found = await asyncio.wait_for(self._find(release_id), timeout)
        except TimeoutError:
            return HealthResult(False, None, elapsed_ms(), "the cluster API did not answer")
        except (ApiException, OSError) as exc:
            return HealthResult(False, None, elapsed_ms(), f"cluster API error: {exc}")
        if found is None:
            return HealthResult(False, None, elapsed_ms(), "release is not running")
        status = rollout_status(found.deployment)
        if status.state is RolloutState.SUCCEEDED:
            return HealthResult(True, 200, elapsed_ms())
        # 503 like an unready upstream: a response arrived, the release is not ready yet.
        return HealthResult(False, 503, elapsed_ms(), status.message)

    async def list_releases(self) -> list[ReleaseState]:
        states: list[ReleaseState] = []
        # Taken before listing: a release followed meanwhile may be missing from the list.
        followed = self._logs.following() if self._logs is not None else set()
        colours: set[str] = set()
        for item in await self._kube.list("Deployment", self._namespace, MANAGED):
            colour = colour_state(item, self._settings)
            if colour is None:
                continue
            upstream = service_upstream(colour.spec)
            available = int((item.get("status") or {}).get("availableReplicas") or 0)
            want = int((item.get("spec") or {}).get("replicas") or 0)
            replicas = tuple(
                ReplicaState(
                    index,
                    ProcessState.RUNNING if index < available else ProcessState.STARTING,
                    None,
                    upstream,
                )
                for index in range(want)
            )
            annotations = item["metadata"].get("annotations") or {}
            deployment_id = annotations.get(DEPLOYMENT_ANNOTATION)
            states.append(ReleaseState(colour.release_id, deployment_id, replicas))
            colours.add(colour.release_id)
            if self._logs is not None:
                # A restarted worker learns its releases here: resume following them.
                self._logs.follow(colour.release_id, deployment_id, resume=True)
            # Replaced releases have no pods; listing them keeps them from being restarted
            # (which would evict a newer release) until the reconciler stops them.
            states.extend(ReleaseState(old, None, ()) for old in colour.replaced)
        # Followed but without a Deployment any more (replaced by another worker's deploy,
        # deleted by hand): nothing left to read.
        for release_id in followed - colours:
            await self._stop_following(release_id)
        return states

    async def reconcile(
        self, desired_release_ids: Collection[str], *, drain_seconds: float = 2.0
    ) -> ReconcileResult:
        """`stopped` lists the releases asked to stop; a colour still behind the primary
        Ingress goes on a later call, once traffic has moved (see stop_release)."""
        desired = set(desired_release_ids)
        running = {state.release_id for state in await self.list_releases()}
        stopped = sorted(running - desired)
        for release_id in stopped:
            await self.stop_release(release_id, drain_seconds=drain_seconds)
        return ReconcileResult(tuple(stopped), tuple(sorted(desired - running)))

    async def maintain(self, *, now: float | None = None) -> None:
        """Renew the signed artifact URL of every colour's Secret once half its validity has
        passed: a pod created later (rescheduled, scaled up) still fetches its artifact.
        Pods read the Secret when they start, so running pods are not disturbed."""
        now = time.time() if now is None else now
        ttl = self._settings.kubernetes_artifact_url_ttl_seconds
        for secret in await self._kube.list("Secret", self._namespace, MANAGED):
            raw = (secret.get("data") or {}).get(ARTIFACT_URL_KEY)
            if not raw:
                continue
            try:
                build_id, expires = artifact_urls.parse(base64.b64decode(raw).decode())
            except ValueError:
                continue
            if expires - now > ttl / 2:
                continue
            url = artifact_urls.signed_url(self._settings, build_id, now=now)
            body = {"data": {ARTIFACT_URL_KEY: base64.b64encode(url.encode()).decode()}}
            name = secret["metadata"]["name"]
            await self._kube.merge_patch("Secret", self._namespace, name, body)
            log.info("renewed the artifact URL of %s (build %s)", name, build_id)

    async def aclose(self) -> None:
        if self._logs is not None:
            await self._logs.aclose()  # their last lines, while the client is open
        await asyncio.to_thread(self._kube.close)

    async def _stop_following(self, release_id: str) -> None:
        if self._logs is not None:
            await self._logs.stop(release_id)

    # -- Traffic --------------------------------------------------------------------------

    async def set_traffic(self, project: str, environment: str, weights: Mapping[str, int]) -> None:
        """Point the environment's Ingresses at the releases by weight (percent).

        The heaviest release gets the primary Ingress (on a tie the current primary keeps
        it), the other one with a weight the canary Ingress at its weight; with a single
        release at 100 the canary Ingress is deleted. Releases at 0 are ignored; all at 0
        removes both Ingresses (nothing serves, as in the router's table).
        """
        if any(not 0 <= w <= 100 for w in weights.values()) or sum(weights.values()) not in (
            0,
            100,
        ):
            raise ValueError(f"weights must be 0..100 and sum to 100 (or all be 0): {weights}")
        positive = {release: w for release, w in weights.items() if w > 0}
        async with self._locks[k8s_name(project, environment)]:
            state = await self._environment(project, environment)
            held: dict[str, ColourState] = {}
            for release in positive:
                colour = state.holding(release)
                if colour is None:
                    raise LookupError(
                        f"release {release} of {project}/{environment} is not on the cluster "
                        "(stopped, or replaced by a newer release)"
                    )
                held[release] = colour
            if not positive:
                for colour in state.colours.values():
                    await self._kube.delete(
                        [ingress(colour.spec, canary=True), ingress(colour.spec, canary=False)]
                    )
                return
            ranked = sorted(
                positive, key=lambda r: (positive[r], held[r].spec.colour == state.primary)
            )
            primary = held[ranked[-1]].spec
            await self._kube.apply([ingress(primary, canary=False)])
            if len(ranked) == 2:
                canary = _with_weight(held[ranked[0]].spec, positive[ranked[0]])
                await self._kube.apply([ingress(canary, canary=True)])
            else:
                await self._kube.delete([ingress(primary, canary=True)])

    # -- Cluster state --------------------------------------------------------------------

    async def _environment(self, project: str, environment: str) -> EnvironmentState:
        instance = k8s_name(project, environment)
        items = await self._kube.list(
            "Deployment", self._namespace, {**MANAGED, INSTANCE_LABEL: instance}
        )
        colours: dict[Colour, ColourState] = {}
        for item in items:
            state = colour_state(item, self._settings)
            if state is not None:
                colours[state.spec.colour] = state
        primary = await self._kube.read("Ingress", self._namespace, instance)
        canary = await self._kube.read(
            "Ingress", self._namespace, k8s_name(project, environment, "canary")
        )
        canary_weight = int(annotations_of(canary).get(CANARY_WEIGHT, "0") or 0)
        return EnvironmentState(
            colours,
            ingress_colour(primary),
            ingress_colour(canary) if canary_weight > 0 else None,
        )

    async def _find(self, release_id: str) -> ColourState | None:
        items = await self._kube.list(
            "Deployment", self._namespace, {**MANAGED, RELEASE_LABEL: release_id}
        )
        states = [s for s in (colour_state(i, self._settings) for i in items) if s is not None]
        return states[0] if states else None

    async def _forget_replaced(self, release_id: str) -> None:
        """Stopping a replaced release: drop it from the colour that remembers it."""
        for item in await self._kube.list("Deployment", self._namespace, MANAGED):
            colour = colour_state(item, self._settings)
            if colour is None or release_id not in colour.replaced:
                continue
            remaining = ",".join(r for r in colour.replaced if r != release_id)
            # null removes the annotation (merge-patch semantics).
            body = {"metadata": {"annotations": {REPLACED_ANNOTATION: remaining or None}}}
            await self._kube.merge_patch("Deployment", self._namespace, colour.spec.name, body)


def _with_weight(spec: KubeSpec, weight: int) -> KubeSpec:
    return replace(spec, canary_weight=weight)
