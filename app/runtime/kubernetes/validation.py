"""Offline schema validation of rendered manifests (tests and tooling).

`kubernetes-validate` is a dev dependency, so it is imported lazily: production code never
needs it, because `KubernetesClient.apply` asks the API server for strict field validation.
"""

from __future__ import annotations

from typing import Any

# Pinned, not `latest_version()`: upgrading the package must not silently move the target.
# 1.37 is the newest schema set kubernetes-validate 1.37.0 ships.
KUBERNETES_VERSION = "1.37.0"


class ManifestInvalid(ValueError):
    """A manifest does not match the Kubernetes schema (unknown field, wrong type, ...)."""


def validate(manifest: dict[str, Any], *, version: str = KUBERNETES_VERSION) -> None:
    """Validate in strict mode, where unknown fields are errors instead of being ignored."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path) or "<root>"
        kind = manifest.get("kind", "?")
        raise ManifestInvalid(f"{kind} invalid at {where}: {exc.message}") from exc
