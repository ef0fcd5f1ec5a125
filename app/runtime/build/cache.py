"""Dependency cache: node_modules / .venv kept between builds, keyed by what produced them.

An entry is a directory ``<root>/<key>/`` holding copies of the cached directories plus a
manifest. It is assembled under a temporary name and renamed into place in one step, so a
crash leaves at most an unused ``.tmp-*`` directory, never a half-written entry. Entries
are immutable: the first build to save a key wins.

``workdir`` is always the directory the build steps run in (checkout + root directory).
The cache is best effort: failures are logged and reported as a miss, never raised.
"""

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath

from app.runtime.build.detect import BuildPlan

log = logging.getLogger(__name__)
_KEY = re.compile(r"^[0-9a-f]{64}$")
_FORMAT = "stratus-dependency-cache-v1"
_STALE_TMP_S = 24 * 3600


def cache_key(plan: BuildPlan, workdir: Path, runtime_version: str | None) -> str | None:
    """sha256 over lockfile contents, runtime version and framework; None: don't cache.

    Without a runtime version there is no key: node_modules or a venv built by another
    interpreter may hold native code that no longer loads.
    """
    files = sorted(name for name in plan.cache_key_files if (workdir / name).is_file())
    if not files or not plan.cache_dirs or not runtime_version:
        return None
    digest = hashlib.sha256()
    for part in (_FORMAT, plan.framework, runtime_version, *plan.cache_dirs):
        digest.update(part.encode() + b"\0")
    for name in files:
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256((workdir / name).read_bytes()).digest())
    return digest.hexdigest()


class DependencyCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def restore(self, key: str, workdir: Path, dirs: tuple[str, ...]) -> bool:
        """Copy the cached ``dirs`` into ``workdir``; False on a miss."""
        return await asyncio.to_thread(self.restore_sync, key, workdir, dirs)

    async def save(self, key: str, workdir: Path, dirs: tuple[str, ...]) -> bool:
        """Store ``dirs`` of ``workdir`` under ``key``; False if nothing was stored."""
        return await asyncio.to_thread(self.save_sync, key, workdir, dirs)

    def restore_sync(self, key: str, workdir: Path, dirs: tuple[str, ...]) -> bool:
        entry = self._entry(key)
        try:
            saved = json.loads((entry / "manifest.json").read_text())["dirs"]
        except FileNotFoundError:
            return False
        try:
            for name in _checked(dirs):
                if name in saved:
                    _replace_dir(entry / name, workdir / name)
            os.utime(entry)  # last use, for whoever prunes old entries
        except OSError as exc:
            log.warning("dependency cache restore of %s failed: %s", key, exc)
            return False
        return True

    def save_sync(self, key: str, workdir: Path, dirs: tuple[str, ...]) -> bool:
        entry = self._entry(key)
        present = [name for name in _checked(dirs) if _is_real_dir(workdir / name)]
        if entry.exists() or not present:
            return False
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._sweep_stale()
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        except OSError as exc:
            log.warning("dependency cache unavailable at %s: %s", self.root, exc)
            return False
        try:
            for name in present:
                shutil.copytree(workdir / name, tmp / name, symlinks=True)
            (tmp / "manifest.json").write_text(json.dumps({"dirs": present}))
            # Atomic, and fails if another build saved the same key in the meantime.
            tmp.rename(entry)
        except OSError as exc:
            log.info("dependency cache save of %s skipped: %s", key, exc)
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        return True

    def _entry(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"invalid cache key {key!r}")
        return self.root / key

    def _sweep_stale(self) -> None:
        # Leftovers of saves that crashed; a live save is never this old.
        cutoff = time.time() - _STALE_TMP_S
        for path in self.root.glob(".tmp-*"):
            try:
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue


def _checked(dirs: tuple[str, ...]) -> list[str]:
    for name in dirs:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or str(path) in ("", "."):
            raise ValueError(f"cache directory must be relative to the workdir: {name!r}")
    return list(dirs)


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _replace_dir(src: Path, target: Path) -> None:
    """Copy next to ``target`` first, then swap, so ``target`` is never half restored."""
    staging = target.with_name(f".{target.name}.restore-tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(src, staging, symlinks=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    staging.rename(target)
