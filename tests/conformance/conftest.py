"""Fixtures for conformance tests: the shared Node tools (the live server is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import node_tools
from tests.support.api import Account, Api


@pytest.fixture(scope="session")
def conformance_tools() -> Path:
    """The cache folder with the Node scripts and their node_modules."""
    return node_tools.install()


@pytest.fixture(scope="session")
async def live_account(live_api: Api) -> Account:
    """A user signed up through the live server (personal team included)."""
    return await live_api.sign_up("conformance")
