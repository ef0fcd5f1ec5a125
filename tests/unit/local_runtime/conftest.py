"""Fixtures: a real artifact store and a LocalRuntime with fast backoff, stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from runtime_support import FAST, Collected

from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime


@pytest.fixture()
def store(tmp_path: Path) -> FilesystemArtifactStore:
    return FilesystemArtifactStore(tmp_path / "artifacts")


@pytest.fixture()
def output() -> Collected:
    return Collected()


@pytest.fixture()
async def runtime(
    tmp_path: Path, store: FilesystemArtifactStore, output: Collected
) -> AsyncIterator[LocalRuntime]:
    rt = LocalRuntime(tmp_path / "state", store, on_output=output, backoff=FAST)
    yield rt
    await rt.aclose()
