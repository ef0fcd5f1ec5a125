"""Fixtures for conformance tests: one real server process and the shared Node tools."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from app.deps import Deps
from app.settings import Settings
from tests.support import node_tools
from tests.support.api import Account, Api
from tests.support.live_server import LiveServer
from tests.support.live_server import live_server as start_live_server


@pytest.fixture(scope="session")
def conformance_tools() -> Path:
    """The cache folder with the Node scripts and their node_modules."""
    return node_tools.install()


@pytest.fixture(scope="session")
def live_server(test_settings: Settings, deps: Deps) -> Iterator[LiveServer]:
    # After `deps`: it flushes the test Redis database once, which must not happen
    # under a running server.
    with start_live_server(test_settings) as server:
        yield server


@pytest.fixture(scope="session")
async def live_api(live_server: LiveServer) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        yield Api(client)


@pytest.fixture(scope="session")
async def live_account(live_api: Api) -> Account:
    """A user signed up through the live server (personal team included)."""
    return await live_api.sign_up("conformance")
