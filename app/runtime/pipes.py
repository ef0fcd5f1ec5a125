"""Shared subprocess plumbing for build steps and running releases."""

from __future__ import annotations

import asyncio
from typing import Any


async def close_pipes(
    proc: asyncio.subprocess.Process, pumps: asyncio.Future[Any], grace: float
) -> None:
    """Wait up to `grace` seconds for the output readers, then drop the pipes.

    A process that left our session (setsid) can keep a pipe open forever. asyncio offers
    no public way to drop the pipes of a Process; without closing its transport it stays
    open (and warns) for as long as the escaped process lives.
    """
    try:
        await asyncio.wait_for(asyncio.shield(pumps), grace)
    except TimeoutError:
        pumps.cancel()
        await asyncio.gather(pumps, return_exceptions=True)
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()
