"""A project environment's two colours as the cluster has them, and which one a release takes.

Pure functions over the objects the Kubernetes API returns (Deployments with Stratus labels
and annotations, the primary and canary Ingress): `KubernetesRuntime` reads the cluster and
asks here, so the colour rules are testable without a cluster and hold after a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from app.runtime.kubernetes.manifests import (
    COLOUR_LABEL,
    DEPLOYMENT_ANNOTATION,
    ENVIRONMENT_ANNOTATION,
    PROJECT_ANNOTATION,
    RELEASE_LABEL,
    REPLACED_ANNOTATION,
    Manifest,
)
from app.runtime.kubernetes.release_specs import ingress_host
from app.runtime.kubernetes.spec import Colour
from app.runtime.kubernetes.spec import ReleaseSpec as KubeSpec
from app.runtime.protocol import ReleaseStartError
from app.settings import Settings

log = logging.getLogger(__name__)

COLOURS: tuple[Colour, Colour] = ("blue", "green")
# Replaced ids remembered per colour; stop_release forgets them once no deployment holds
# them, so this bound only matters if the reconciler never runs.
MAX_REMEMBERED = 20


@dataclass(frozen=True)
class ColourState:
    """One colour of an environment as the cluster has it."""

    spec: KubeSpec  # rebuilt from the Deployment: names, labels and host are exact
    deployment: Manifest

    @property
    def release_id(self) -> str:
        return self.spec.release_id

    @property
    def replaced(self) -> tuple[str, ...]:
        return self.spec.replaced_releases


@dataclass(frozen=True)
class EnvironmentState:
    colours: dict[Colour, ColourState]
    primary: Colour | None  # the colour the primary Ingress sends traffic to
    canary: Colour | None  # the colour of the canary Ingress when its weight is > 0

    @property
    def serving(self) -> set[Colour]:
        return {c for c in (self.primary, self.canary) if c is not None}

    def holding(self, release_id: str) -> ColourState | None:
        return next((c for c in self.colours.values() if c.release_id == release_id), None)


def choose_colour(
    state: EnvironmentState, release_id: str, limit: int | None
) -> tuple[Colour, tuple[str, ...]]:
    """The colour for `release_id` and the release ids that colour will have replaced."""
    current = state.holding(release_id)
    if current is not None:
        return current.spec.colour, current.replaced  # started before: apply again
    for colour in state.colours.values():
        if release_id in colour.replaced:
            raise ReleaseStartError(
                f"release {release_id} was replaced by {colour.release_id} (at most "
                f"{limit} releases per environment on Kubernetes); deploy it again instead"
            )
    candidates = [c for c in COLOURS if c not in state.serving]
    if not candidates:
        raise ReleaseStartError(
            "both colours of this environment serve traffic (a canary is in flight); "
            "promote or roll it back first"
        )
    free = [c for c in candidates if c not in state.colours]
    if free:
        return free[0], ()
    # Both candidates hold a release and neither serves (no traffic applied yet):
    # replace the older one.
    victim = min(
        (state.colours[c] for c in candidates),
        key=lambda c: str(c.deployment["metadata"].get("creationTimestamp") or ""),
    )
    replaced = (victim.release_id, *victim.replaced)[:MAX_REMEMBERED]
    return victim.spec.colour, replaced


def annotations_of(obj: Manifest | None) -> dict[str, Any]:
    if obj is None:
        return {}
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def ingress_colour(obj: Manifest | None) -> Colour | None:
    if obj is None:
        return None
    colour = ((obj.get("metadata") or {}).get("labels") or {}).get(COLOUR_LABEL)
    return colour if colour in COLOURS else None


def colour_state(item: Manifest, settings: Settings) -> ColourState | None:
    """The spec of a colour rebuilt from its Deployment (None for one Stratus did not make)."""
    metadata = item.get("metadata") or {}
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    project, environment = (
        annotations.get(PROJECT_ANNOTATION),
        annotations.get(ENVIRONMENT_ANNOTATION),
    )
    colour, release = labels.get(COLOUR_LABEL), labels.get(RELEASE_LABEL)
    if not (project and environment and release) or colour not in COLOURS:
        log.warning(
            "deployment %s lacks Stratus labels or annotations; ignored", metadata.get("name")
        )
        return None
    replaced = tuple(r for r in (annotations.get(REPLACED_ANNOTATION) or "").split(",") if r)
    spec = KubeSpec(
        project=project,
        environment=environment,
        release_id=release,
        colour=colour,
        image="",  # not needed to name, route or delete the colour's objects
        namespace=metadata.get("namespace") or settings.kubernetes_namespace,
        host=ingress_host(settings, project, environment),
        replicas=max(1, int((item.get("spec") or {}).get("replicas") or 1)),
        env_secret=metadata.get("name"),
        deployment_id=annotations.get(DEPLOYMENT_ANNOTATION),
        replaced_releases=replaced,
    )
    return ColourState(spec, item)
