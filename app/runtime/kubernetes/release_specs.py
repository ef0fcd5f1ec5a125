"""From the rollouts' `ReleaseSpec` to the Kubernetes one: names, images, the artifact's
signed URL, and the handle a started release answers with. Pure, given the settings.
"""

from __future__ import annotations

from app.runtime.kubernetes import artifact_urls
from app.runtime.kubernetes.spec import ArtifactSource, Colour, SecretEnv, k8s_name
from app.runtime.kubernetes.spec import ReleaseSpec as KubeSpec
from app.runtime.protocol import ReleaseHandle, ReleaseSpec, ReleaseStartError
from app.settings import Settings

SERVICE_PORT = 80  # the Service's port (manifests.service); pods listen on PORT 8080
# The Secret key holding the signed artifact URL. The app sees it too (envFrom takes every
# key), which grants nothing: it only downloads the tarball already unpacked in /app.
ARTIFACT_URL_KEY = "STRATUS_ARTIFACT_URL"
# Static sites without a start command: the runner image's Python serves /app.
STATIC_COMMAND = 'exec python -m http.server "$PORT" --directory /app'


def ingress_host(settings: Settings, project: str, environment: str) -> str:
    return settings.kubernetes_host_template.format(project=project, environment=environment)


def to_kube_spec(
    settings: Settings, spec: ReleaseSpec, colour: Colour, replaced: tuple[str, ...]
) -> KubeSpec:
    name = k8s_name(spec.project, spec.environment, colour)
    command = spec.start_command or (STATIC_COMMAND if spec.framework == "static" else None)
    if command is None:
        raise ReleaseStartError(
            f"nothing to run: build of release {spec.release_id} has no start command"
        )
    try:
        return KubeSpec(
            project=spec.project,
            environment=spec.environment,
            release_id=spec.release_id,
            colour=colour,
            image=settings.kubernetes_runner_image,
            namespace=settings.kubernetes_namespace,
            host=ingress_host(settings, spec.project, spec.environment),
            replicas=spec.replicas,
            health_path=spec.health_path,
            env_secret=name,
            artifact=ArtifactSource(
                fetch_image=settings.kubernetes_fetch_image,
                url=SecretEnv("ARTIFACT_URL", name, ARTIFACT_URL_KEY),
                command=command,
            ),
            deployment_id=spec.deployment_id,
            replaced_releases=replaced,
        )
    except ValueError as exc:
        raise ReleaseStartError(f"release {spec.release_id}: {exc}") from exc


def artifact_url(settings: Settings, spec: ReleaseSpec) -> str:
    try:
        build_id = artifact_urls.build_id_of(spec.artifact_uri)
    except ValueError as exc:
        raise ReleaseStartError(str(exc)) from exc
    return artifact_urls.signed_url(settings, build_id)


def service_upstream(spec: KubeSpec) -> str:
    return f"{spec.name}.{spec.namespace}.svc.cluster.local:{SERVICE_PORT}"


def release_handle(spec: KubeSpec, replicas: int) -> ReleaseHandle:
    # One address for all replicas: the Service balances inside the cluster.
    return ReleaseHandle(spec.release_id, (service_upstream(spec),) if replicas > 0 else ())
