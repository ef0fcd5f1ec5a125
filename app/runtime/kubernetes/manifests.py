"""Pure functions from a `ReleaseSpec` to Kubernetes manifests (plain JSON-ready dicts).

Traffic model: each project environment has two colours (blue/green), each with its own
Deployment, Service and PodDisruptionBudget. The primary Ingress sends all traffic to the live
colour's Service; while a rollout is in flight, a second "canary" Ingress for the same host
(ingress-nginx canary annotations) sends `canary_weight` percent to the other colour. Weight 0
stages a blue/green candidate without traffic; promotion re-points the primary Ingress and
deletes the canary one.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from app.runtime.kubernetes.spec import (
    ArtifactSource,
    ReleaseSpec,
    Resources,
    SecretEnv,
    k8s_name,
)

__all__ = [
    "ArtifactSource",
    "ReleaseSpec",
    "Resources",
    "SecretEnv",
    "deployment",
    "env_secret",
    "ingress",
    "k8s_name",
    "pod_disruption_budget",
    "release_manifests",
    "service",
]

Manifest = dict[str, Any]

INGRESS_CLASS = "nginx"  # the canary annotations below are specific to ingress-nginx
CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
RUN_AS_USER = 10001  # numeric, so the kubelet can verify runAsNonRoot for images with named users
RELEASE_LABEL = "stratus.dev/release"
COLOUR_LABEL = "stratus.dev/colour"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
DEPLOYMENT_ANNOTATION = "stratus.dev/deployment"
# The unslugged names, so the runtime can rebuild a colour's spec from the cluster alone.
PROJECT_ANNOTATION = "stratus.dev/project"
ENVIRONMENT_ANNOTATION = "stratus.dev/environment"
REPLACED_ANNOTATION = "stratus.dev/replaced-releases"
APP_DIR = "/app"
# pipefail: a failed download must fail the init container, not hand tar an empty stream.
FETCH_SCRIPT = f'set -eo pipefail; wget -qO- "$ARTIFACT_URL" | tar -xz -C {APP_DIR}'


def selector_labels(spec: ReleaseSpec) -> dict[str, str]:
    # Selectors are immutable on Deployments, so they name the colour but never the release:
    # the next release into the same colour must be able to re-apply the same Deployment.
    return {INSTANCE_LABEL: spec.instance, COLOUR_LABEL: spec.colour}


def labels(spec: ReleaseSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": k8s_name(spec.project),
        **selector_labels(spec),
        MANAGED_BY_LABEL: "stratus",
        RELEASE_LABEL: spec.release_id,
    }


def _metadata(spec: ReleaseSpec, name: str) -> Manifest:
    return {"name": name, "namespace": spec.namespace, "labels": labels(spec)}


def _env(spec: ReleaseSpec) -> list[Manifest]:
    # PORT follows the buildpack convention, so apps listen where the probes and Service look.
    env: list[Manifest] = [{"name": "PORT", "value": str(spec.port)}]
    for item in spec.secret_env:
        ref = {"name": item.secret, "key": item.key}
        env.append({"name": item.name, "valueFrom": {"secretKeyRef": ref}})
    return env


def _probe(spec: ReleaseSpec, *, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": spec.health_path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _resources(res: Resources) -> Manifest:
    return {
        "requests": {"cpu": res.cpu_request, "memory": res.memory_request},
        "limits": {"cpu": res.cpu_limit, "memory": res.memory_limit},
    }


def _container_security() -> Manifest:
    # A fresh dict per container: a shared one would come out of YAML dumps as an alias.
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _fetch_container(spec: ReleaseSpec, artifact: ArtifactSource) -> Manifest:
    ref = {"name": artifact.url.secret, "key": artifact.url.key}
    return {
        "name": "fetch-artifact",
        "image": artifact.fetch_image,
        "command": ["sh", "-c", FETCH_SCRIPT],
        "env": [{"name": "ARTIFACT_URL", "valueFrom": {"secretKeyRef": ref}}],
        "resources": _resources(spec.resources),
        "securityContext": _container_security(),
        "volumeMounts": [{"name": "app", "mountPath": APP_DIR}],
    }


def _container(spec: ReleaseSpec) -> Manifest:
    env = _env(spec)
    mounts: list[Manifest] = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108
    if spec.artifact is not None:
        # HOME for tools that write caches or dotfiles; the root filesystem is read-only.
        env.append({"name": "HOME", "value": "/tmp"})  # noqa: S108
        mounts.append({"name": "app", "mountPath": APP_DIR})
    container: Manifest = {
        "name": "app",
        "image": spec.image,
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": env,
        # Readiness gates traffic and rollout progress, so it reacts within ~15 s. Liveness is
        # lenient (a minute of failures): restarting a slow but alive app under load makes an
        # outage worse, not better.
        "readinessProbe": _probe(spec, period=5, failures=3),
        "livenessProbe": _probe(spec, period=10, failures=6),
        "resources": _resources(spec.resources),
        "securityContext": _container_security(),
        # With a read-only root, /tmp is the one writable place most runtimes expect.
        "volumeMounts": mounts,
    }
    if spec.env_secret is not None:
        container["envFrom"] = [{"secretRef": {"name": spec.env_secret}}]
    if spec.artifact is not None:
        container["command"] = ["sh", "-c", spec.artifact.command]
        container["workingDir"] = APP_DIR
    return container


def _pod_spec(spec: ReleaseSpec) -> Manifest:
    volumes: list[Manifest] = [{"name": "tmp", "emptyDir": {}}]
    pod: Manifest = {
        # Apps do not talk to the Kubernetes API; no token means nothing to steal.
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if spec.artifact is not None:
        # The artifact is unpacked per pod into an emptyDir: no image build, no registry.
        pod["initContainers"] = [_fetch_container(spec, spec.artifact)]
        volumes.append({"name": "app", "emptyDir": {}})
    pod["containers"] = [_container(spec)]
    pod["volumes"] = volumes
    return pod


def _deployment_metadata(spec: ReleaseSpec) -> Manifest:
    metadata = _metadata(spec, spec.name)
    annotations = {PROJECT_ANNOTATION: spec.project, ENVIRONMENT_ANNOTATION: spec.environment}
    if spec.deployment_id is not None:
        annotations[DEPLOYMENT_ANNOTATION] = spec.deployment_id
    if spec.replaced_releases:
        annotations[REPLACED_ANNOTATION] = ",".join(spec.replaced_releases)
    metadata["annotations"] = annotations
    return metadata


def deployment(spec: ReleaseSpec) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        # Annotations on the Deployment only: in the pod template they would roll the pods.
        "metadata": _deployment_metadata(spec),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector_labels(spec)},
            # wait_rollout reports failure through this deadline's ProgressDeadlineExceeded.
            "progressDeadlineSeconds": spec.progress_deadline_seconds,
            # Releases are kept by Stratus itself; a few ReplicaSets suffice for kubectl undo.
            "revisionHistoryLimit": 3,
            "strategy": {
                "type": "RollingUpdate",
                # 25% rounds up, so the surge is never 0 and max_unavailable=0 stays valid.
                "rollingUpdate": {"maxUnavailable": spec.max_unavailable, "maxSurge": "25%"},
            },
            "template": {
                # The release label differs per release, so a re-deploy of an unchanged image
                # still rolls the pods (new secrets or settings get picked up).
                "metadata": {"labels": labels(spec)},
                "spec": _pod_spec(spec),
            },
        },
    }


def service(spec: ReleaseSpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def ingress(spec: ReleaseSpec, *, canary: bool) -> Manifest:
    """The primary Ingress (all traffic) or the canary one (`spec.canary_weight` percent)."""
    name = spec.canary_ingress_name if canary else spec.primary_ingress_name
    metadata = _metadata(spec, name)
    if canary:
        # Annotation values must be strings; nginx reads the weight as a percentage.
        metadata["annotations"] = {CANARY: "true", CANARY_WEIGHT: str(spec.canary_weight)}
    backend = {"service": {"name": spec.name, "port": {"name": "http"}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {
            "ingressClassName": INGRESS_CLASS,
            "rules": [{"host": spec.host, "http": {"paths": [path]}}],
        },
    }


def env_secret(spec: ReleaseSpec, values: Mapping[str, str]) -> Manifest:
    """The Secret named `spec.env_secret`: the app's variables (envFrom) and, in artifact
    mode, the signed download URL. Render it only to apply it: it holds plain values."""
    if spec.env_secret is None:
        raise ValueError("the spec names no env_secret")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(spec, spec.env_secret),
        "type": "Opaque",
        # `data`, not `stringData`: server-side apply tracks `data` keys, so a variable the
        # next release no longer has is removed; stringData is merged in and never pruned.
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }


def pod_disruption_budget(spec: ReleaseSpec) -> Manifest:
    # maxUnavailable 1 for every replica count, on purpose:
    # - replicas > 1: voluntary evictions (node drains, autoscaler) take one pod at a time, so
    #   N-1 keep serving; minAvailable 1 would let a drain take all but one pod at once.
    # - replicas == 1: minAvailable 1 or maxUnavailable 0 would block every drain forever, which
    #   cluster operators rightly treat as a bug. One replica cannot avoid a gap anyway; the
    #   budget still exists so every release has the same set of kinds to apply and delete.
    # AlwaysAllow lets drains evict pods that are not ready (a crash loop must not pin a node).
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(spec)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def release_manifests(spec: ReleaseSpec, *, canary_weight: int | None) -> list[Manifest]:
    """All objects of one release, in apply order (the Ingress last, once its backend exists).

    `canary_weight=None` makes this release the primary (all traffic); a number renders the
    canary Ingress with that weight instead (0 stages a blue/green candidate without traffic).
    """
    if canary_weight is not None:
        spec = replace(spec, canary_weight=canary_weight)
    return [
        deployment(spec),
        service(spec),
        pod_disruption_budget(spec),
        ingress(spec, canary=canary_weight is not None),
    ]
