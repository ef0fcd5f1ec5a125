"""Fixtures for tests against real servers started in-process for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.openbao import running_openbao


@pytest.fixture(scope="session")
def openbao() -> Iterator[tuple[str, str]]:
    """(addr, root token) of one OpenBao dev server with transit enabled, shared by the session."""
    with running_openbao() as server:
        yield server
