"""Fixtures: kmock's API server (with the gaps `kube_support.ApplyingEmulator` fills)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kube_support import SERVED, ApplyingEmulator
from kubernetes import client

from app.runtime.kubernetes.adapter import KubernetesClient


@pytest.fixture()
def kmock_options(kmock_options: dict[str, Any]) -> dict[str, Any]:
    return {**kmock_options, "cls": ApplyingEmulator}


@pytest.fixture()
async def api_client(kmock: ApplyingEmulator) -> AsyncIterator[client.ApiClient]:
    for resource in SERVED:
        kmock.resources[resource] = {}
    configuration = client.Configuration(host=str(kmock.url).rstrip("/"))
    api = client.ApiClient(configuration)
    yield api
    api.close()


@pytest.fixture()
def kube(api_client: client.ApiClient) -> KubernetesClient:
    return KubernetesClient(api_client, poll_interval=0.02, request_timeout=5)
