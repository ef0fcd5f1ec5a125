"""The shared GraphQL conformance tools (Node scripts), installed into a writable cache.

The shared folder `<repo>/../shared/tools/graphql-conformance` is read-only in CI, and
Node resolves ES-module imports from the script's own folder: so the scripts and
package.json are copied to `<repo>/.cache/graphql-conformance/` and `npm install` runs
there once (again only when package.json changes).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_TOOLS = REPO.parent / "shared" / "tools" / "graphql-conformance"
CACHE = REPO / ".cache" / "graphql-conformance"
FILES = ("audit-http.mjs", "ws-protocol.mjs", "ws-client.mjs", "package.json")
STAMP = ".package-json.sha256"


@dataclass(frozen=True)
class NodeResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"

    def closing_line(self, prefix: str) -> str:
        lines = [ln for ln in self.stdout.splitlines() if ln.startswith(prefix)]
        if not lines:
            pytest.fail(f"no closing line starting with {prefix!r}\n{self.output}")
        return lines[-1]


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` (>= 20) is not on PATH: the conformance tests need Node.js")
    return node


def install(source: Path = SHARED_TOOLS, cache: Path = CACHE) -> Path:
    """Copy the tool scripts to `cache`, `npm install` once; return the folder.

    Fails (never skips) when node/npm or the shared folder is missing.
    """
    node_binary()
    missing = [f for f in FILES if not (source / f).is_file()]
    if missing:
        pytest.fail(
            f"shared conformance tools not found: {source} lacks {', '.join(missing)} "
            "(expected a copy of shared/ beside the repository)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        target = cache / name
        data = (source / name).read_bytes()
        if not target.exists() or target.read_bytes() != data:
            # write_bytes rather than copy: the source files are read-only.
            target.write_bytes(data)
    digest = hashlib.sha256((cache / "package.json").read_bytes()).hexdigest()
    stamp = cache / STAMP
    if (cache / "node_modules").is_dir() and stamp.exists() and stamp.read_text() == digest:
        return cache
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("`npm` is not on PATH: needed once to install the conformance tools")
    proc = subprocess.run(
        [npm, "install", "--omit=dev", "--no-audit", "--no-fund"],
        cwd=cache,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"npm install in {cache} failed:\n{proc.stdout}\n{proc.stderr}")
    stamp.write_text(digest)
    return cache


def run(tools: Path, script: str, *args: str, timeout: float = 120) -> NodeResult:
    """Run one of the tool scripts; never raises on a non-zero exit (callers assert)."""
    proc = subprocess.run(
        [node_binary(), str(tools / script), *args],
        cwd=tools,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return NodeResult(proc.returncode, proc.stdout, proc.stderr)


async def run_async(tools: Path, script: str, *args: str, timeout: float = 120) -> NodeResult:
    """`run` for async tests that must keep their event loop going meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        node_binary(),
        str(tools / script),
        *args,
        cwd=tools,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return NodeResult(-9, out.decode(), err.decode() + f"\n<killed after {timeout} s>")
    assert proc.returncode is not None
    return NodeResult(proc.returncode, out.decode(), err.decode())


def connection_params(token: str) -> str:
    return json.dumps({"Authorization": f"Bearer {token}"})


if __name__ == "__main__":  # `python -m tests.support.node_tools`: install only
    print(install())
    sys.exit(0)
