"""What one release needs from Kubernetes, and how its objects are named."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

Colour = Literal["blue", "green"]

MAX_NAME = 63  # DNS-1123 / DNS-1035 label limit
_NOT_NAME = re.compile(r"[^a-z0-9]+")
# Label values allow [A-Za-z0-9_.-], <= 63 chars, alphanumeric at both ends.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def k8s_name(*parts: str) -> str:
    """Join `parts` into a lowercase DNS label of at most 63 characters.

    Long names keep a prefix plus an 8-hex-digit hash of the whole slug, so two long names
    that share a prefix stay distinct and the result is stable across runs.
    """
    slugs = (_NOT_NAME.sub("-", part.lower()).strip("-") for part in parts)
    name = "-".join(slug for slug in slugs if slug)
    if not name:
        raise ValueError(f"no usable characters in name parts {parts!r}")
    if not name[0].isalpha():
        # Services need DNS-1035 (leading letter); one rule for every kind keeps names aligned.
        name = f"x-{name}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - len(digest) - 1].rstrip('-')}-{digest}"


@dataclass(frozen=True, slots=True)
class SecretEnv:
    """One environment variable read from a key of a Secret (the value never enters a manifest)."""

    name: str
    secret: str
    key: str


@dataclass(frozen=True, slots=True)
class ArtifactSource:
    """Run a build tarball instead of an image, the way a slug runner does.

    An init container (`fetch_image`, with sh, wget and tar) downloads the artifact into an
    emptyDir at /app; the app container (`ReleaseSpec.image`, a generic runner image) runs
    `command` with `sh -c` there. The download URL is signed and so a credential: it comes
    from a Secret key (`url`), never as a literal in the manifest.
    """

    fetch_image: str
    url: SecretEnv
    command: str

    def __post_init__(self) -> None:
        if not self.command.strip():
            raise ValueError("an artifact release needs a start command")
        if not _ENV_NAME.match(self.url.name):
            raise ValueError(f"invalid environment variable name {self.url.name!r}")


@dataclass(frozen=True, slots=True)
class Resources:
    cpu_request: str = "100m"
    cpu_limit: str = "1"
    memory_request: str = "128Mi"
    memory_limit: str = "512Mi"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseSpec:
    """Everything needed to render one release colour of one project environment."""

    project: str  # project slug
    environment: str
    release_id: str
    colour: Colour
    image: str  # image reference or built artifact, ideally pinned by digest
    namespace: str
    host: str
    port: int = 8080
    replicas: int = 1
    health_path: str = "/healthz"
    env_secret: str | None = None  # every key of this Secret becomes an env var (envFrom)
    secret_env: tuple[SecretEnv, ...] = ()
    resources: Resources = field(default_factory=Resources)
    canary_weight: int = 0  # percent of traffic when rendered as the canary Ingress
    max_unavailable: int = 0
    progress_deadline_seconds: int = 600
    artifact: ArtifactSource | None = None  # None: `image` holds the app itself
    deployment_id: str | None = None  # the Stratus deployment, recorded as an annotation
    # Releases this colour ran before (most recent first): started again, they would evict
    # a newer release, so the runtime refuses them (see runtime.KubernetesRuntime).
    replaced_releases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Fail at construction, not with a 422 halfway through applying a release.
        if self.colour not in ("blue", "green"):
            raise ValueError(f"colour must be blue or green, not {self.colour!r}")
        if not _LABEL_VALUE.match(self.release_id):
            raise ValueError(f"release id {self.release_id!r} is not a valid label value")
        if not 0 <= self.canary_weight <= 100:
            raise ValueError("canary_weight must be within 0..100")
        if self.replicas < 1 or self.max_unavailable < 0:
            raise ValueError("replicas must be >= 1 and max_unavailable >= 0")
        if not 1 <= self.port <= 65535:
            raise ValueError("port must be within 1..65535")
        if not self.health_path.startswith("/"):
            raise ValueError("health_path must start with '/'")
        for env in self.secret_env:
            if not _ENV_NAME.match(env.name):
                raise ValueError(f"invalid environment variable name {env.name!r}")
        for release in self.replaced_releases:
            if not _LABEL_VALUE.match(release):
                raise ValueError(f"replaced release id {release!r} is not a valid label value")

    @property
    def instance(self) -> str:
        """One project environment; both colours share it."""
        return k8s_name(self.project, self.environment)

    @property
    def name(self) -> str:
        """Deployment, Service and PodDisruptionBudget of this colour share this name."""
        return k8s_name(self.project, self.environment, self.colour)

    @property
    def primary_ingress_name(self) -> str:
        return self.instance

    @property
    def canary_ingress_name(self) -> str:
        return k8s_name(self.project, self.environment, "canary")
