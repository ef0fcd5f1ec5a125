"""`python -m app.runtime.router --port 8080 --redis-url redis://...`

SIGTERM / SIGINT: stop accepting, let exchanges in flight finish for up to --drain-timeout
seconds, flush the last metrics, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Sequence

from redis.asyncio import Redis

from app.runtime.router.context import RouterConfig
from app.runtime.router.keys import DEFAULT_PREFIX, RouterKeys
from app.runtime.router.server import Router

log = logging.getLogger("app.runtime.router")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m app.runtime.router", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--admin-host", default="127.0.0.1")
    p.add_argument(
        "--admin-port", type=int, default=8081, help="metrics/health listener; 0 disables it"
    )
    p.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        help="default: $REDIS_URL",
    )
    p.add_argument("--key-prefix", default=DEFAULT_PREFIX)
    p.add_argument("--drain-timeout", type=float, default=10.0)
    p.add_argument("--reload-interval", type=float, default=5.0)
    p.add_argument("--connect-timeout", type=float, default=5.0)
    p.add_argument("--response-timeout", type=float, default=60.0)
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> RouterConfig:
    return RouterConfig(
        host=args.host,
        port=args.port,
        admin_host=args.admin_host,
        admin_port=args.admin_port or None,
        keys=RouterKeys(args.key_prefix),
        drain_timeout=args.drain_timeout,
        reload_interval=args.reload_interval,
        connect_timeout=args.connect_timeout,
        response_timeout=args.response_timeout,
    )


async def serve(config: RouterConfig, redis_url: str) -> None:
    # Timeouts so a stuck Redis delays a metrics flush instead of hanging it; pub/sub reads
    # pass their own timeout, which takes precedence.
    redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    router = Router(config, redis)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await router.start()
        log.info(
            "router listening",
            extra={
                "port": router.port,
                "admin_port": router.admin_port,
                "hosts": len(router.ctx.table.hosts()),
            },
        )
        await stop.wait()
        log.info("router draining", extra={"connections": len(router.ctx.connections)})
        await router.stop()
    finally:
        await redis.aclose()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    from app.observability import configure_logging

    configure_logging(args.log_level)
    try:
        import uvloop
    except ImportError:  # uvloop is an optional speed-up (no Windows wheels)
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(config_from(args), args.redis_url))


if __name__ == "__main__":
    main()
