"""The database-free core of the build pipeline: source, detection, steps, cache, artifacts."""

from app.runtime.build.artifacts import Artifact, ArtifactStore, FilesystemArtifactStore
from app.runtime.build.cache import DependencyCache, cache_key
from app.runtime.build.detect import BuildOverrides, BuildPlan, Step, detect
from app.runtime.build.errors import BuildError, DetectionError, SourceError
from app.runtime.build.executor import StepReason, StepResult, run_step
from app.runtime.build.gitauth import GitCredential
from app.runtime.build.limits import StepLimits
from app.runtime.build.source import checkout, resolve_ref
from app.runtime.build.versions import probe_runtime_version

__all__ = [
    "Artifact",
    "ArtifactStore",
    "BuildError",
    "BuildOverrides",
    "BuildPlan",
    "DependencyCache",
    "DetectionError",
    "FilesystemArtifactStore",
    "GitCredential",
    "SourceError",
    "Step",
    "StepLimits",
    "StepReason",
    "StepResult",
    "cache_key",
    "checkout",
    "detect",
    "probe_runtime_version",
    "resolve_ref",
    "run_step",
]
