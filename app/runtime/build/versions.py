"""Which runtime a build used: part of the dependency cache key and of the build record."""

import asyncio

from app.runtime.build.executor import DEFAULT_PATH

_PROBES = {"node": ("node", "--version"), "python": ("python", "--version")}


async def probe_runtime_version(
    framework: str, *, env: dict[str, str], timeout: float = 10.0
) -> str | None:
    """``node v20.11.1`` / ``python 3.11.7`` as the build steps would see them, else None.

    Runs with the same environment as the steps (their PATH decides which runtime is used).
    """
    probe = _PROBES.get(framework)
    if probe is None:
        return None
    full_env = {"PATH": DEFAULT_PATH, **env}
    try:
        proc = await asyncio.create_subprocess_exec(
            *probe,
            env=full_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None
    version = out.decode(errors="replace").strip().removeprefix("Python ").removeprefix("v")
    return f"{framework} {version}" if proc.returncode == 0 and version else None
