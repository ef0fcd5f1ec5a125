"""Decide how to build a source tree: framework, install/build steps and how to start it.

Pure and synchronous: it only reads a few small files. Project overrides always win over
what is detected; ``None`` in an override means "detect", an empty string means "none".
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from app.runtime.build.errors import DetectionError
from app.runtime.build.procfile import parse_procfile

FRAMEWORKS = frozenset({"auto", "static", "node", "python", "procfile"})
StepName = Literal["install", "build"]


@dataclass(frozen=True)
class BuildOverrides:
    install_command: str | None = None
    build_command: str | None = None
    start_command: str | None = None
    output_directory: str | None = None
    root_directory: str | None = None
    framework: str = "auto"


@dataclass(frozen=True)
class Step:
    name: StepName
    command: str


@dataclass(frozen=True)
class BuildPlan:
    framework: str
    steps: tuple[Step, ...]
    start_command: str | None
    processes: dict[str, str]
    output_directory: str | None
    root_directory: str = "."
    cache_key_files: tuple[str, ...] = ()
    cache_dirs: tuple[str, ...] = ()
    runtime_version: str | None = None


@dataclass(frozen=True)
class _Proposal:
    framework: str
    install: str | None = None
    build: str | None = None
    start: str | None = None
    output_directory: str | None = None
    cache_key_files: tuple[str, ...] = ()
    cache_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Tree:
    root: Path
    display: str

    def file(self, name: str) -> Path | None:
        """The file if it is a regular file that stays inside the tree (no symlink escapes)."""
        path = self.root / name
        if path.is_file() and path.resolve().is_relative_to(self.root.resolve()):
            return path
        return None


def detect(workdir: Path, overrides: BuildOverrides | None = None) -> BuildPlan:
    """Build plan for ``workdir`` (the checkout); raises DetectionError with a clear message."""
    overrides = overrides or BuildOverrides()
    if overrides.framework not in FRAMEWORKS:
        choices = ", ".join(sorted(FRAMEWORKS))
        raise DetectionError(f"unknown framework {overrides.framework!r}; use one of {choices}")
    root_rel = _relative_dir(overrides.root_directory, "root directory") or "."
    tree = _tree(workdir, root_rel)
    framework = overrides.framework
    if framework == "auto":
        framework = _guess(tree, overrides)
    proposal = _PROPOSERS[framework](tree, overrides)
    procfile_path = tree.file("Procfile")
    procfile = parse_procfile(procfile_path.read_text(errors="replace")) if procfile_path else {}
    return _apply(proposal, overrides, procfile, root_rel)


def _apply(
    proposal: _Proposal, overrides: BuildOverrides, procfile: dict[str, str], root_rel: str
) -> BuildPlan:
    steps: list[Step] = []
    install = _pick(overrides.install_command, proposal.install)
    if install:
        steps.append(Step("install", install))
    build = _pick(overrides.build_command, proposal.build)
    if build:
        steps.append(Step("build", build))
    start = _pick(overrides.start_command, procfile.get("web") or proposal.start)
    processes = dict(procfile)
    if start:
        processes["web"] = start
    output = _relative_dir(overrides.output_directory, "output directory")
    return BuildPlan(
        framework=proposal.framework,
        steps=tuple(steps),
        start_command=start,
        processes=processes,
        output_directory=output or proposal.output_directory,
        root_directory=root_rel,
        cache_key_files=proposal.cache_key_files,
        cache_dirs=proposal.cache_dirs,
    )


def _pick(override: str | None, detected: str | None) -> str | None:
    if override is None:
        return detected
    return override.strip() or None


def _relative_dir(value: str | None, what: str) -> str | None:
    if value is None or value.strip() in ("", "."):
        return None
    path = PurePosixPath(value.strip())
    if path.is_absolute() or ".." in path.parts:
        raise DetectionError(f"{what} must be a relative path inside the repository: {value!r}")
    return str(path)


def _tree(workdir: Path, root_rel: str) -> _Tree:
    root = workdir / root_rel
    display = "the repository root" if root_rel == "." else repr(root_rel)
    # A symlinked root could point anywhere on the worker; refuse it like a missing one.
    if not root.is_dir() or not root.resolve().is_relative_to(workdir.resolve()):
        raise DetectionError(f"root directory {root_rel!r} does not exist in the repository")
    return _Tree(root, display)


def _guess(tree: _Tree, overrides: BuildOverrides) -> str:
    if tree.file("package.json"):
        return "node"
    if tree.file("requirements.txt") or tree.file("pyproject.toml"):
        return "python"
    if tree.file("Procfile"):
        return "procfile"
    if _static_output(tree, overrides) is not None:
        return "static"
    where = tree.display
    if overrides.output_directory:
        where += f" (index.html also looked for in {overrides.output_directory!r})"
    looked_for = "package.json, requirements.txt, pyproject.toml, Procfile or index.html"
    message = f"no {looked_for} found in {where}"
    if tree.file("Dockerfile"):
        message += "; a Dockerfile was found but no container builder is configured"
    raise DetectionError(message)


def _static_output(tree: _Tree, overrides: BuildOverrides) -> str | None:
    output = _relative_dir(overrides.output_directory, "output directory")
    if output and tree.file(f"{output}/index.html"):
        return output
    return "." if tree.file("index.html") else None


def _node(tree: _Tree, overrides: BuildOverrides) -> _Proposal:
    path = _required(tree, "package.json", "node")
    try:
        package = json.loads(path.read_text(errors="replace"))
    except ValueError as exc:
        raise DetectionError(f"package.json is not valid JSON: {exc}") from None
    scripts = package.get("scripts") if isinstance(package, dict) else None
    scripts = scripts if isinstance(scripts, dict) else {}
    locked = tree.file("package-lock.json") is not None
    return _Proposal(
        framework="node",
        install="npm ci" if locked else "npm install",
        build="npm run build" if "build" in scripts else None,
        start="npm start" if "start" in scripts else None,
        cache_key_files=("package-lock.json",) if locked else ("package.json",),
        cache_dirs=("node_modules",),
    )


def _python(tree: _Tree, overrides: BuildOverrides) -> _Proposal:
    # `python -m pip` rather than .venv/bin/pip: pip's shebang holds the absolute path of the
    # venv, which is wrong once a cached .venv is restored into another build directory.
    # A .venv restored from the dependency cache is reused: recreating it (ensurepip) cost
    # seconds on every warm build.
    venv = (
        "{ [ -x .venv/bin/python ] || python -m venv .venv; } && "
        ".venv/bin/python -m pip install --disable-pip-version-check"
    )
    if tree.file("requirements.txt"):
        return _Proposal(
            framework="python",
            install=f"{venv} -r requirements.txt",
            cache_key_files=("requirements.txt",),
            cache_dirs=(".venv",),
        )
    _required(tree, "pyproject.toml", "python", also="requirements.txt or ")
    return _Proposal(
        framework="python",
        install=f"{venv} .",
        cache_key_files=("pyproject.toml",),
        cache_dirs=(".venv",),
    )


def _procfile(tree: _Tree, overrides: BuildOverrides) -> _Proposal:
    _required(tree, "Procfile", "procfile")
    return _Proposal(framework="procfile")


def _static(tree: _Tree, overrides: BuildOverrides) -> _Proposal:
    output = _static_output(tree, overrides)
    if output is None and not overrides.build_command:
        where = overrides.output_directory or "."
        raise DetectionError(
            f"framework is set to static but no index.html found in {where!r} of {tree.display}"
        )
    return _Proposal(framework="static", output_directory=output)


def _required(tree: _Tree, name: str, framework: str, also: str = "") -> Path:
    path = tree.file(name)
    if path is None:
        raise DetectionError(
            f"framework is set to {framework} but no {also}{name} found in {tree.display}"
        )
    return path


_PROPOSERS: dict[str, Callable[[_Tree, BuildOverrides], _Proposal]] = {
    "node": _node,
    "python": _python,
    "procfile": _procfile,
    "static": _static,
}
