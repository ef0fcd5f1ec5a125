"""What every connection of one router shares: settings, table, pool, metrics."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.runtime.router.keys import RouterKeys
from app.runtime.router.metrics import Metrics
from app.runtime.router.table import RouteTable
from app.runtime.router.upstream import Pool
from app.runtime.router.wire import Batch

if TYPE_CHECKING:
    from app.runtime.router.client import ClientConnection


@dataclass(frozen=True)
class RouterConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    admin_host: str = "127.0.0.1"
    admin_port: int | None = 8081  # None: no admin listener
    keys: RouterKeys = field(default_factory=RouterKeys)
    connect_timeout: float = 5.0
    # Time for the app to send a response head; streaming after that has no limit (SSE).
    response_timeout: float = 60.0
    client_idle_timeout: float = 75.0
    # Below the 5 s keep-alive of uvicorn/node so that the pool closes first.
    upstream_idle_timeout: float = 4.0
    max_idle_per_upstream: int = 64
    max_head_bytes: int = 64 * 1024
    # Request bytes held while an upstream connection is opened before reading pauses.
    max_pending_bytes: int = 256 * 1024
    reload_interval: float = 5.0
    flush_interval: float = 1.0
    drain_timeout: float = 10.0
    # How often idle connections and response timeouts are checked (one pass for all
    # connections instead of a timer per request).
    sweep_interval: float = 1.0
    forwarded_proto: str = "http"


class Context:
    def __init__(self, config: RouterConfig, rnd: Callable[[], float] = random.random) -> None:
        self.config = config
        self.rnd = rnd
        self.batch = Batch()
        self.table = RouteTable(config.keys)
        self.metrics = Metrics()
        self.pool = Pool(
            self.batch,
            connect_timeout=config.connect_timeout,
            idle_timeout=config.upstream_idle_timeout,
            max_idle=config.max_idle_per_upstream,
        )
        self.connections: set[ClientConnection] = set()
        self.draining = False
        self.drained = asyncio.Event()  # set when draining and the last connection closed
        self.proto_line = b"X-Forwarded-Proto: " + config.forwarded_proto.encode() + b"\r\n"
