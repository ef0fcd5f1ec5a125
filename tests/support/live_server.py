"""A real Stratus server process for tests that talk to it from outside (Node tools, raw sockets).

    with live_server(test_settings) as server:
        server.url         # http://127.0.0.1:<port>
        server.graphql     # http://127.0.0.1:<port>/graphql
        server.ws          # ws://127.0.0.1:<port>/graphql

Runs `python -m uvicorn --factory app.main:create_app` on a free loopback port with the
settings passed as environment variables (what `get_settings()` reads in the child), waits
for /healthz and terminates the process (and closes its log) on exit.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.settings import Settings

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    log: Path

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws(self) -> str:
        return self.graphql.replace("http://", "ws://", 1)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no server log>"


class LiveServerError(RuntimeError):
    pass


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `get_settings()` in a child process equal `settings`
    in what the tests depend on."""
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "STRATUS_ENV": settings.env,
        "STRATUS_JWT_SECRET": settings.jwt_secret,
        "STRATUS_DIGEST_KEY": settings.digest_key,
        "STRATUS_SECRET_KEYS": settings.secret_keys,
        "STRATUS_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "STRATUS_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "STRATUS_RATE_LIMIT_CAPACITY": str(settings.rate_limit_capacity),
        "STRATUS_RATE_LIMIT_REFILL_PER_SECOND": str(settings.rate_limit_refill_per_second),
        "STRATUS_WS_INIT_TIMEOUT_SECONDS": str(settings.ws_init_timeout_seconds),
        "STRATUS_LOG_LEVEL": settings.log_level,
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, deadline: float) -> bool:
    """True once /healthz answers 200; False if the process died first."""
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise LiveServerError(f"server at {url} not healthy within {START_TIMEOUT:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # SIGTERM: uvicorn shuts down gracefully (lifespan closes Deps)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def live_server(
    settings: Settings, *, env: Mapping[str, str] | None = None, attempts: int = 3
) -> Iterator[LiveServer]:
    """Start the app in its own uvicorn process; yield once /healthz answers."""
    child_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")},
        **settings_env(settings),
        **(env or {}),
        "PYTHONUNBUFFERED": "1",
    }
    with tempfile.TemporaryDirectory(prefix="stratus-live-") as tmp:
        log_path = Path(tmp) / "server.log"
        for attempt in range(1, attempts + 1):
            # A free port can be taken between probing and binding: retry on a new one.
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "app.main:create_app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--no-access-log",
                        "--timeout-graceful-shutdown",
                        "3",
                    ],
                    cwd=REPO,
                    env=child_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                try:
                    healthy = _wait_healthy(proc, url, time.monotonic() + START_TIMEOUT)
                    if not healthy:
                        proc.wait()
                        if attempt < attempts:
                            continue
                        raise LiveServerError(
                            f"server exited with {proc.returncode}:\n"
                            + log_path.read_text(errors="replace")[-4000:]
                        )
                    yield LiveServer(url=url, log=log_path)
                    return
                finally:
                    _stop(proc)
