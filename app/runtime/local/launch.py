"""What to run for a release, and with which environment.

A process gets only what it is given, never the supervisor's environment: the worker holds
database URLs and keys that user code must not see.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from app.runtime.build.executor import DEFAULT_PATH
from app.runtime.local.net import HOST
from app.runtime.local.replica import Launch
from app.runtime.protocol import ReleaseSpec, ReleaseStartError

STATIC_SERVER = Path(__file__).with_name("static.py")


def is_static(spec: ReleaseSpec, app_dir: Path) -> bool:
    """Served from the artifact by the built-in server. An explicit start command wins."""
    if spec.start_command:
        return False
    return spec.framework == "static" or (app_dir / "index.html").is_file()


def launch(spec: ReleaseSpec, app_dir: Path, home: Path, port: int) -> Launch:
    runtime = {"PORT": str(port), "HOST": HOST}
    if is_static(spec, app_dir):
        # The server is stdlib only; -I keeps PYTHON* variables and user site-packages out.
        argv = (
            sys.executable,
            "-I",
            str(STATIC_SERVER),
            "--dir",
            str(app_dir),
            "--port",
            str(port),
        )
        env = {**_base_env(app_dir, home), **runtime}  # no user variables: nothing reads them
        return Launch((*argv, "--host", HOST), app_dir, env)
    if not spec.start_command:
        raise ReleaseStartError(
            "nothing to run: the release has no start command and no index.html to serve"
        )
    bash = shutil.which("bash", path=DEFAULT_PATH) or "/bin/bash"
    # The runtime owns PORT and HOST; everything else the user set overrides our defaults.
    env = {**_base_env(app_dir, home), **spec.env, **runtime}
    return Launch((bash, "-c", spec.start_command), app_dir, env)


def _base_env(app_dir: Path, home: Path) -> dict[str, str]:
    # Put the build's own tools first, so `python` is the app's venv and `next` its binary.
    bins = [str(path) for path in (app_dir / ".venv/bin", app_dir / "node_modules/.bin")]
    path = ":".join([b for b in bins if Path(b).is_dir()] + [DEFAULT_PATH])
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}
