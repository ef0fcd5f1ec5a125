"""Pure functions from a `ReleaseSpec` to Kubernetes manifests (plain JSON-ready dicts).

Traffic model: each project environment has two colours (blue/green), each with its own
Deployment, Service and PodDisruptionBudget. The primary Ingress sends all traffic to the live
colour's Service; while a rollout is in flight, a second "canary" Ingress for the same host
(ingress-nginx canary annotations) sends `canary_weight` percent to the other colour. Weight 0
stages a blue/green candidate without traffic; promotion re-points the primary Ingress and
deletes the canary one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.runtime.kubernetes.spec import ReleaseSpec, Resources, SecretEnv, k8s_name

__all__ = [
    "ReleaseSpec",
    "Resources",
    "SecretEnv",
    "deployment",
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


def selector_labels(spec: ReleaseSpec) -> dict[str, str]:
    # Selectors are immutable on Deployments, so they name the colour but never the release:
    # the next release into the same colour must be able to re-apply the same Deployment.
    return {"app.kubernetes.io/instance": spec.instance, "stratus.dev/colour": spec.colour}


def labels(spec: ReleaseSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": k8s_name(spec.project),
        **selector_labels(spec),
        "app.kubernetes.io/managed-by": "stratus",
        "stratus.dev/release": spec.release_id,
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


def _container(spec: ReleaseSpec) -> Manifest:
    res: Resources = spec.resources
    container: Manifest = {
        "name": "app",
        "image": spec.image,
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": _env(spec),
        # Readiness gates traffic and rollout progress, so it reacts within ~15 s. Liveness is
        # lenient (a minute of failures): restarting a slow but alive app under load makes an
        # outage worse, not better.
        "readinessProbe": _probe(spec, period=5, failures=3),
        "livenessProbe": _probe(spec, period=10, failures=6),
        "resources": {
            "requests": {"cpu": res.cpu_request, "memory": res.memory_request},
            "limits": {"cpu": res.cpu_limit, "memory": res.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        # With a read-only root, /tmp is the one writable place most runtimes expect.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    if spec.env_secret is not None:
        container["envFrom"] = [{"secretRef": {"name": spec.env_secret}}]
    return container


def deployment(spec: ReleaseSpec) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, spec.name),
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
                "spec": {
                    # Apps do not talk to the Kubernetes API; no token means nothing to steal.
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(spec)],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
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
