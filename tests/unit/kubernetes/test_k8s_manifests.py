"""Manifest rendering: golden files, strict schema validation, naming, and the safety rules."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kube_support import make_spec

from app.runtime.kubernetes.manifests import (
    CANARY,
    CANARY_WEIGHT,
    FETCH_SCRIPT,
    ArtifactSource,
    Resources,
    SecretEnv,
    deployment,
    env_secret,
    ingress,
    k8s_name,
    pod_disruption_budget,
    release_manifests,
)
from app.runtime.kubernetes.validation import KUBERNETES_VERSION, ManifestInvalid, validate

GOLDEN = Path(__file__).parent / "golden"
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _cases() -> dict[str, list[dict[str, Any]]]:
    single = make_spec(replicas=1, max_unavailable=0)
    blue = make_spec(replicas=2, release_id="rel-0001", colour="blue")
    green = make_spec(replicas=2, release_id="rel-0002", colour="green", image="shop:2")
    small = Resources(cpu_request="250m", cpu_limit="2", memory_request="256Mi", memory_limit="1Gi")
    canary = make_spec(
        replicas=3, release_id="rel-0003", colour="green", max_unavailable=1, resources=small
    )
    fetched = make_spec(
        release_id="rel-0004",
        colour="green",
        image="python:3.11-slim",
        env_secret="shop-production-green",
        secret_env=(),
        deployment_id="4f0c2a8e-0000-4000-8000-000000000004",
        replaced_releases=("rel-0002",),
        artifact=ArtifactSource(
            fetch_image="busybox:1.36",
            url=SecretEnv("ARTIFACT_URL", "shop-production-green", "STRATUS_ARTIFACT_URL"),
            command="gunicorn app:app",
        ),
    )
    variables = {"GREETING": "hello", "STRATUS_ARTIFACT_URL": "https://api.example.com/a?s=x"}
    return {
        # A build artifact run by a generic image: init container download into /app, with
        # the app's variables in the colour's Secret (applied first).
        "artifact_release": [
            env_secret(fetched, variables),
            *release_manifests(fetched, canary_weight=None),
        ],
        # One replica, all traffic at once (no canary Ingress).
        "single_immediate": release_manifests(single, canary_weight=None),
        # Blue live and primary; green staged behind a canary Ingress with weight 0.
        "blue_green_pair": release_manifests(blue, canary_weight=None)
        + release_manifests(green, canary_weight=0),
        # Green takes 20% of the traffic.
        "canary_20": release_manifests(canary, canary_weight=20),
    }


CASES = _cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_matches_golden_file(case: str) -> None:
    rendered = yaml.safe_dump_all(CASES[case], sort_keys=False, explicit_start=True)
    path = GOLDEN / f"{case}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1"
    assert rendered == path.read_text(), f"{case} changed; review, then UPDATE_GOLDEN=1"


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_manifest_passes_strict_validation(case: str) -> None:
    for manifest in CASES[case]:
        validate(manifest)
        assert DNS_1035.match(manifest["metadata"]["name"])


def test_pinned_kubernetes_version_is_the_newest_shipped() -> None:
    assert kubernetes_validate.utils.latest_version() == KUBERNETES_VERSION


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (("spec", "replicaz"), 2, "'replicaz' was unexpected"),  # only strict mode catches it
        (("metadata", "labelz"), {}, "'labelz' was unexpected"),
        (("spec", "replicas"), "two", "is not of type"),
    ],
)
def test_broken_manifest_fails_validation(path: tuple[str, str], value: Any, error: str) -> None:
    broken = deployment(make_spec())
    broken[path[0]][path[1]] = value
    with pytest.raises(ManifestInvalid, match=error):
        validate(broken)


def test_unknown_field_passes_non_strict_validation() -> None:
    # The contrast that proves the test above depends on strict mode being on.
    broken = deployment(make_spec())
    broken["spec"]["replicaz"] = 2
    kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=False)


def test_secrets_are_referenced_never_inlined() -> None:
    spec = make_spec(secret_env=(SecretEnv("STRIPE_KEY", "shop-stripe", "api-key"),))
    container = deployment(spec)["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "shop-production-env"}}]
    stripe = next(env for env in container["env"] if env["name"] == "STRIPE_KEY")
    assert stripe == {
        "name": "STRIPE_KEY",
        "valueFrom": {"secretKeyRef": {"name": "shop-stripe", "key": "api-key"}},
    }
    literal = [env["name"] for env in container["env"] if "value" in env]
    assert literal == ["PORT"]


def test_deployment_hardening_probes_and_labels() -> None:
    spec = make_spec(health_path="/ready", port=3000)
    dep = deployment(spec)
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["ports"][0]["containerPort"] == 3000
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels["stratus.dev/release"] == "rel-0001"
    assert labels["stratus.dev/colour"] == "blue"
    assert labels["app.kubernetes.io/name"] == "shop"
    assert labels["app.kubernetes.io/instance"] == "shop-production"
    # The selector is immutable, so it must not change from one release to the next.
    assert "stratus.dev/release" not in dep["spec"]["selector"]["matchLabels"]
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": "25%"}


def test_artifact_release_fetches_into_app_and_runs_the_start_command() -> None:
    pod = CASES["artifact_release"][1]["spec"]["template"]["spec"]
    [fetch] = pod["initContainers"]
    [app] = pod["containers"]
    assert fetch["command"] == ["sh", "-c", FETCH_SCRIPT]
    assert 'wget -qO- "$ARTIFACT_URL" | tar -xz -C /app' in FETCH_SCRIPT
    # The signed URL is a credential: read from the Secret, never inlined in the manifest.
    assert fetch["env"] == [
        {
            "name": "ARTIFACT_URL",
            "valueFrom": {
                "secretKeyRef": {"name": "shop-production-green", "key": "STRATUS_ARTIFACT_URL"}
            },
        }
    ]
    assert app["command"] == ["sh", "-c", "gunicorn app:app"]
    assert app["workingDir"] == "/app"
    assert {"name": "app", "mountPath": "/app"} in fetch["volumeMounts"]
    assert {"name": "app", "mountPath": "/app"} in app["volumeMounts"]
    assert {"name": "app", "emptyDir": {}} in pod["volumes"]


def test_artifact_source_needs_a_command() -> None:
    with pytest.raises(ValueError, match="start command"):
        ArtifactSource(fetch_image="busybox", url=SecretEnv("U", "s", "k"), command=" ")


def test_canary_and_primary_ingress() -> None:
    spec = make_spec(colour="green", canary_weight=35)
    canary = ingress(spec, canary=True)
    primary = ingress(spec, canary=False)
    assert canary["metadata"]["annotations"] == {CANARY: "true", CANARY_WEIGHT: "35"}
    assert "annotations" not in primary["metadata"]
    assert canary["metadata"]["name"] != primary["metadata"]["name"]
    for ing in (canary, primary):
        rule = ing["spec"]["rules"][0]
        assert rule["host"] == "shop.example.com"
        assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "shop-production-green"


@pytest.mark.parametrize("replicas", [1, 3])
def test_pdb_never_blocks_drains(replicas: int) -> None:
    pdb = pod_disruption_budget(make_spec(replicas=replicas))
    assert pdb["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pdb["spec"]


def test_k8s_name_slugs_truncates_and_stays_unique() -> None:
    assert k8s_name("My_Shop", "Production!") == "my-shop-production"
    assert k8s_name("9lives") == "x-9lives"  # Services need a leading letter
    long_a, long_b = k8s_name("p" * 70, "a"), k8s_name("p" * 70, "b")
    assert len(long_a) == len(long_b) == 63
    assert long_a != long_b
    assert long_a == k8s_name("p" * 70, "a")  # stable across calls
    for name in (long_a, long_b, k8s_name("x" * 54 + "-", "y" * 20)):
        assert DNS_1035.match(name), name
    with pytest.raises(ValueError, match="no usable"):
        k8s_name("__", "!!")


@pytest.mark.parametrize(
    "overrides",
    [
        {"colour": "red"},
        {"release_id": "not a label!"},
        {"canary_weight": 101},
        {"replicas": 0},
        {"port": 70000},
        {"health_path": "healthz"},
        {"secret_env": (SecretEnv("1BAD", "s", "k"),)},
    ],
)
def test_invalid_spec_is_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_spec(**overrides)
