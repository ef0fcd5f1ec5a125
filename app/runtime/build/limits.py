"""Resource limits for build steps, applied with setrlimit in the child before exec.

Caveats worth knowing:
- RLIMIT_CPU and RLIMIT_AS apply per process, not to the whole step: a step that forks N
  workers can use N times the CPU seconds. The wall-clock timeout bounds the step as a whole.
- RLIMIT_NPROC counts every process of the user, and the kernel does not enforce it for
  root. Run steps as an unprivileged user (``run_as``) for it to mean anything.
- V8 reserves a lot of address space: RLIMIT_AS below about 2 GiB breaks npm.
"""

import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class StepLimits:
    timeout_s: float = 1800.0
    cpu_s: int | None = 1800
    memory_bytes: int | None = 4 * GiB
    file_size_bytes: int | None = 2 * GiB
    processes: int | None = 512
    max_output_bytes: int = 16 * MiB
    max_line_bytes: int = 16 * 1024
    kill_grace_s: float = 1.0
    # (uid, gid) to run the step as; only applied when the worker runs as root.
    run_as: tuple[int, int] | None = None


def rlimits(limits: StepLimits) -> list[tuple[int, tuple[int, int]]]:
    """(resource, (soft, hard)) pairs, clamped to the worker's own hard limits."""
    wanted: list[tuple[int, int | None, int]] = [
        # The hard CPU limit sits 1 s above the soft one: SIGXCPU first, SIGKILL if ignored.
        (resource.RLIMIT_CPU, limits.cpu_s, 1),
        (resource.RLIMIT_AS, limits.memory_bytes, 0),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes, 0),
        (resource.RLIMIT_NPROC, limits.processes, 0),
        # SIGXCPU and SIGXFSZ dump core by default; a core file would land in the build tree.
        (resource.RLIMIT_CORE, 0, 0),
    ]
    pairs = []
    for res, soft, slack in wanted:
        if soft is None:
            continue
        ceiling = resource.getrlimit(res)[1]
        hard = soft + slack
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        pairs.append((res, (soft, hard)))
    return pairs


def make_preexec(limits: StepLimits) -> Callable[[], None]:
    """The preexec_fn: only setrlimit calls, everything computed beforehand in the parent."""
    pairs = rlimits(limits)

    def preexec() -> None:
        for res, values in pairs:
            resource.setrlimit(res, values)

    return preexec


def user_kwargs(limits: StepLimits) -> dict[str, Any]:
    """subprocess arguments that drop to ``run_as`` (applied before preexec_fn runs)."""
    if limits.run_as is None or os.geteuid() != 0:
        return {}
    uid, gid = limits.run_as
    return {"user": uid, "group": gid, "extra_groups": []}


def resource_message(returncode: int, limits: StepLimits) -> str | None:
    """Why a step died from a resource limit, or None if the exit code does not say so.

    A signal shows as a negative return code when bash exec'd the command itself, and as
    128 + signal when bash ran it as a child and passed the status on.
    """
    signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if signum == signal.SIGXCPU:
        return f"CPU time limit of {limits.cpu_s}s exceeded (killed by SIGXCPU)"
    if signum == signal.SIGXFSZ:
        return f"file size limit of {limits.file_size_bytes} bytes exceeded (killed by SIGXFSZ)"
    if signum == signal.SIGKILL:
        return "killed by SIGKILL: the step hit a resource limit (CPU hard limit or memory)"
    return None
