"""The steps of one claimed build: clone, detect, install, build, package.

Every state change goes through `save`, a fenced update that applies only while this
worker still owns the build (same attempt and worker id, still RUNNING). A worker that
was declared lost gets `Superseded` instead of overwriting what the reconciler decided.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from app.deps import Deps
from app.domain import activity, builds, project_secrets, variables
from app.domain.build_logs import LogWriter
from app.runtime.build import (
    BuildOverrides,
    BuildPlan,
    DependencyCache,
    DetectionError,
    FilesystemArtifactStore,
    GitCredential,
    SourceError,
    Step,
    StepLimits,
    StepReason,
    StepResult,
    cache_key,
    checkout,
    detect,
    probe_runtime_version,
    resolve_ref,
    run_step,
)
from app.runtime.build.executor import DEFAULT_PATH, OnLine
from app.runtime.build.gitauth import redact_url
from app.secrets import SecretBoxError
from db import models
from db.enums import BuildStatus, BuildStep, LogStream

log = logging.getLogger(__name__)
T = TypeVar("T")
SYSTEM = LogStream.SYSTEM
_TRUNCATED = re.compile(r" \[line truncated: \d+ bytes omitted\]$")
_STEP_STATUS = {BuildStatus.CANCELED: "canceled", BuildStatus.TIMED_OUT: "timed_out"}
# Never part of an artifact: git metadata and the steps' own HOME (npm and pip caches).
_PRUNED = (".git", ".stratus-home")


@dataclass(frozen=True, slots=True)
class Claim:
    build_id: uuid.UUID
    team_id: uuid.UUID
    project_id: uuid.UUID
    environment_id: uuid.UUID
    git_ref: str
    attempt: int
    worker_id: str
    last_log_seq: int


@dataclass(frozen=True, slots=True)
class Outcome:
    status: BuildStatus
    reason: str | None = None
    message: str | None = None


class Superseded(Exception):
    """This worker no longer owns the build: it was declared lost, re-queued or deleted."""


class Stop(Exception):
    """The build ends here with `outcome` (failure, cancel or timeout)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


@dataclass(eq=False)
class Run:
    deps: Deps
    claim: Claim
    log: LogWriter
    build_dir: Path
    deadline: float  # time.monotonic() by which the whole build must be done
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # run_step's cancel signal
    canceled: bool = False  # a user asked to cancel
    lost: bool = False  # the heartbeat found the build taken away
    steps: list[dict[str, Any]] = field(default_factory=list)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


async def save(deps: Deps, claim: Claim, **values: Any) -> models.Build:
    """Apply `values` to the build if this claim still owns it, then publish a status event."""
    async with deps.sessionmaker() as session, session.begin():
        build = await session.get(models.Build, claim.build_id, with_for_update=True)
        owner = (build.status, build.attempt, build.worker_id) if build else None
        if owner != (BuildStatus.RUNNING, claim.attempt, claim.worker_id):
            raise Superseded()
        assert build is not None
        for name, value in values.items():
            setattr(build, name, value)
    try:
        event = builds.status_event(build)
        await deps.events.publish(builds.events_stream(build.id), event)
        await deps.events.publish(
            activity.project_stream(build.project_id), activity.build_entry(build, event["at"])
        )
    except Exception:  # live status is best effort; the row is the truth
        log.exception("status event publish failed", extra={"build_id": str(build.id)})
    return build


async def execute(run: Run) -> Outcome:
    """Run every step; a `Stop` from any of them becomes the outcome."""
    try:
        project, env, credential = await _load(run)
        src = await _clone(run, project, credential)
        plan = await _detect(run, src, project)
        workdir = src / plan.root_directory
        key = await _cache_key(plan, workdir, env)
        for step in plan.steps:
            await _command(run, step, workdir, env, key if step.name == "install" else None, plan)
        await _package(run, plan, src, workdir)
    except Stop as stop:
        return stop.outcome
    return Outcome(BuildStatus.SUCCEEDED)


async def _load(run: Run) -> tuple[models.Project, dict[str, str], GitCredential | None]:
    deps, claim = run.deps, run.claim
    try:
        async with deps.sessionmaker() as session:
            project = await session.get(models.Project, claim.project_id)
            if project is None:
                raise Superseded()
            plain = await variables.decrypt_environment(session, deps.secrets, claim.environment_id)
        token = await project_secrets.git_credential(deps.secrets, project)
    except SecretBoxError as exc:
        await run.log.write(SYSTEM, None, f"could not open the project's secrets: {exc}")
        raise Stop(Outcome(BuildStatus.FAILED, "SECRETS_UNAVAILABLE", str(exc))) from None
    credential = GitCredential(token=token) if token is not None else None
    return project, {**step_defaults(), **plain}, credential


def step_defaults() -> dict[str, str]:
    """What every step sees before the environment's own variables (which may override it).

    PATH adds the worker interpreter's directory so `python` exists even where the system
    only ships `python3`; npm is kept from phoning home for audits and update checks.
    """
    interpreter = str(Path(sys.base_prefix) / "bin")
    path = (
        DEFAULT_PATH if interpreter in DEFAULT_PATH.split(":") else f"{interpreter}:{DEFAULT_PATH}"
    )
    return {
        "PATH": path,
        "CI": "1",
        "PYTHONUNBUFFERED": "1",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
    }


@asynccontextmanager
async def _step(run: Run, name: BuildStep, **start: Any) -> AsyncIterator[dict[str, Any]]:
    """Record one step; the yielded dict collects `exit_code` and values saved at its end."""
    check(run)
    started = time.monotonic()
    entry: dict[str, Any] = {"name": name.value, "status": "running", "startedAt": _now()}
    run.steps.append({**entry, "finishedAt": None, "durationMs": None, "exitCode": None})
    await save(run.deps, run.claim, current_step=name, steps=_copy(run.steps), **start)
    end: dict[str, Any] = {}
    try:
        yield end
    except Stop as stop:
        _end_step(
            run, started, _STEP_STATUS.get(stop.outcome.status, "failed"), end.get("exit_code")
        )
        await save(run.deps, run.claim, steps=_copy(run.steps))
        raise
    _end_step(run, started, "succeeded", end.pop("exit_code", None))
    await save(run.deps, run.claim, steps=_copy(run.steps), **end)


def _end_step(run: Run, started: float, status: str, exit_code: int | None) -> None:
    duration_ms = int((time.monotonic() - started) * 1000)
    run.steps[-1].update(
        status=status, finishedAt=_now(), durationMs=duration_ms, exitCode=exit_code
    )


def check(run: Run, *, timed_out: bool = False) -> None:
    """Raise if the build must not go on: taken away, canceled or out of time."""
    if run.lost:
        raise Superseded()
    if run.canceled:
        raise Stop(Outcome(BuildStatus.CANCELED, "CANCELED", "canceled before it finished"))
    if timed_out or run.remaining() <= 0:
        total = run.deps.settings.build_timeout_seconds
        message = f"build exceeded its total time limit of {total}s"
        raise Stop(Outcome(BuildStatus.TIMED_OUT, "TIMED_OUT", message))


async def _guarded(run: Run, work: Coroutine[Any, Any, T]) -> T:
    """Await `work` unless the build is stopped or runs out of time first."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(run.stop.wait())
    try:
        done, _ = await asyncio.wait(
            {task, stopper}, timeout=max(run.remaining(), 0), return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for pending in (task, stopper):
            pending.cancel()
        await asyncio.gather(stopper, return_exceptions=True)
    if task in done:
        return task.result()
    await asyncio.gather(task, return_exceptions=True)  # git's process group is killed
    check(run, timed_out=not done)
    raise AssertionError("stopped without a reason")  # check() always raises here


async def _clone(run: Run, project: models.Project, credential: GitCredential | None) -> Path:
    settings, ref = run.deps.settings, run.claim.git_ref
    src = run.build_dir / "src"
    async with _step(run, BuildStep.CLONE) as end:
        await run.log.write(SYSTEM, "clone", f"==> clone: {redact_url(project.git_url)} at {ref}")
        timeout = max(min(settings.build_step_timeout_seconds, run.remaining()), 0.1)
        options: dict[str, Any] = {
            "timeout": timeout,
            "credential": credential,
            "allow_file_urls": settings.allow_file_git_urls,
        }
        try:
            sha = await _guarded(run, resolve_ref(project.git_url, ref, **options))
            await run.log.write(SYSTEM, "clone", f"commit {sha}")
            await _guarded(run, checkout(project.git_url, sha, src, **options))
        except SourceError as exc:
            check(run)  # git's own timeout may have been the build's deadline
            await run.log.write(SYSTEM, "clone", exc.message)
            raise Stop(Outcome(BuildStatus.FAILED, "CLONE_FAILED", exc.message)) from None
        end["commit_sha"] = sha
    return src


async def _detect(run: Run, src: Path, project: models.Project) -> BuildPlan:
    overrides = BuildOverrides(
        install_command=project.install_command,
        build_command=project.build_command,
        start_command=project.start_command,
        output_directory=project.output_directory,
        root_directory=project.root_directory or None,
        framework=project.framework.value,
    )
    try:
        plan = detect(src, overrides)
    except DetectionError as exc:
        await run.log.write(SYSTEM, "detect", exc.message)
        raise Stop(Outcome(BuildStatus.FAILED, "DETECTION_FAILED", exc.message)) from None
    steps = "; ".join(f"{s.name}: {s.command}" for s in plan.steps) or "no install or build step"
    await run.log.write(SYSTEM, "detect", f"==> detect: {plan.framework} ({steps})")
    return plan


async def _cache_key(plan: BuildPlan, workdir: Path, env: dict[str, str]) -> str | None:
    if not plan.cache_dirs:
        return None
    version = await probe_runtime_version(plan.framework, env=env)
    return cache_key(plan, workdir, version)


async def _command(
    run: Run, step: Step, workdir: Path, env: dict[str, str], key: str | None, plan: BuildPlan
) -> None:
    cache = DependencyCache(run.deps.settings.cache_dir)
    start: dict[str, Any] = {}
    if key is not None:
        start["cache_hit"] = await cache.restore(key, workdir, plan.cache_dirs)
        found = "restored" if start["cache_hit"] else "miss"
        await run.log.write(SYSTEM, step.name, f"dependency cache {found} ({key[:12]})")
    limits = _limits(run)
    async with _step(run, BuildStep(step.name), **start) as end:
        await run.log.write(SYSTEM, step.name, f"==> {step.name}: {step.command}")
        result = await run_step(
            step,
            cwd=workdir,
            env=env,
            limits=limits,
            on_line=_on_line(run, step.name),
            cancel=run.stop,
        )
        end["exit_code"] = result.exit_code
        if result.reason is not StepReason.OK:
            outcome = _failure(run, step.name, result, limits)
            await run.log.write(SYSTEM, step.name, outcome.message or "")
            raise Stop(outcome)
    if key is not None and await cache.save(key, workdir, plan.cache_dirs):
        await run.log.write(SYSTEM, step.name, f"dependency cache saved ({key[:12]})")


def _limits(run: Run) -> StepLimits:
    s = run.deps.settings
    return StepLimits(
        timeout_s=max(min(s.build_step_timeout_seconds, run.remaining()), 0.1),
        cpu_s=s.build_cpu_seconds,
        memory_bytes=s.build_memory_bytes,
        file_size_bytes=s.build_file_size_bytes,
        processes=s.build_processes,
        max_output_bytes=s.build_max_output_bytes,
        max_line_bytes=s.build_max_line_bytes,
    )


def _on_line(run: Run, step: str) -> OnLine:
    async def on_line(stream: str, text: str) -> None:
        # The splitter marks a cut line in its text; the flag lets clients show it.
        await run.log.write(LogStream(stream), step, text, bool(_TRUNCATED.search(text)))

    return on_line


def _failure(run: Run, name: str, result: StepResult, limits: StepLimits) -> Outcome:
    step_limit = run.deps.settings.build_step_timeout_seconds
    if result.reason is StepReason.CANCELED:
        if run.lost:
            raise Superseded()  # stopped because the build was taken away, not by a user
        return Outcome(BuildStatus.CANCELED, "CANCELED", f"canceled during {name}")
    if result.reason is StepReason.TIMED_OUT:
        if limits.timeout_s < step_limit:
            check(run, timed_out=True)  # the whole build's deadline, not the step's, ran out
        message = f"{name} step exceeded its time limit of {step_limit}s"
        return Outcome(BuildStatus.TIMED_OUT, "TIMED_OUT", message)
    if result.reason in (StepReason.OUTPUT_LIMIT, StepReason.RESOURCE_LIMIT):
        return Outcome(BuildStatus.FAILED, result.reason.value, f"{name}: {result.message}")
    code = result.exit_code if result.exit_code is not None else -9
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    return Outcome(BuildStatus.FAILED, "STEP_FAILED", f"{name} failed with {how}")


async def _package(run: Run, plan: BuildPlan, src: Path, workdir: Path) -> None:
    async with _step(run, BuildStep.PACKAGE) as end:
        out = workdir / plan.output_directory if plan.output_directory else workdir
        # The build may have made the output a symlink to anywhere on the worker.
        if not await asyncio.to_thread(_inside, out, src):
            message = f"output directory {plan.output_directory!r} was not produced by the build"
            await run.log.write(SYSTEM, "package", message)
            raise Stop(Outcome(BuildStatus.FAILED, "PACKAGE_FAILED", message))
        await run.log.write(SYSTEM, "package", f"==> package: {out.relative_to(src)}")
        await asyncio.to_thread(_prune, out)
        store = FilesystemArtifactStore(run.deps.settings.artifacts_dir)
        artifact = await store.put(str(run.claim.build_id), out)
        await run.log.write(
            SYSTEM, "package", f"artifact {artifact.size_bytes} bytes, sha256 {artifact.sha256}"
        )
        end.update(
            artifact_uri=artifact.uri,
            artifact_sha256=artifact.sha256,
            artifact_size=artifact.size_bytes,
            framework=plan.framework,
            start_command=plan.start_command,
        )
        check(run)


def _inside(out: Path, src: Path) -> bool:
    return out.is_dir() and out.resolve().is_relative_to(src.resolve())


def _prune(out: Path) -> None:
    for name in _PRUNED:
        path = out / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def settled(steps: list[dict[str, Any]], status: BuildStatus) -> list[dict[str, Any]]:
    """Steps with any entry still 'running' closed with the build's final status."""
    label = _STEP_STATUS.get(status, "failed")
    return [{**s, "status": label} if s["status"] == "running" else dict(s) for s in steps]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _copy(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A new list object, so SQLAlchemy sees the JSONB column as changed.
    return [dict(s) for s in steps]
