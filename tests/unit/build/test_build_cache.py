import shutil
from pathlib import Path

import pytest

from app.runtime.build import BuildPlan, DependencyCache, cache_key

PLAN = BuildPlan(
    framework="node",
    steps=(),
    start_command=None,
    processes={},
    output_directory=None,
    cache_key_files=("package-lock.json",),
    cache_dirs=("node_modules",),
)


def project(root: Path, lock: str = '{"v": 1}') -> Path:
    (root / "node_modules" / "left-pad" / "lib").mkdir(parents=True)
    (root / "node_modules" / "left-pad" / "lib" / "index.js").write_text("module.exports = 1\n")
    (root / "node_modules" / ".bin").mkdir()
    (root / "node_modules" / ".bin" / "left-pad").symlink_to("../left-pad/lib/index.js")
    (root / "package-lock.json").write_text(lock)
    return root


def test_key_depends_on_lockfile_runtime_and_framework(tmp_path: Path) -> None:
    a = project(tmp_path / "a")
    b = project(tmp_path / "b", lock='{"v": 2}')
    key = cache_key(PLAN, a, "node v20.1.0")
    assert key is not None and len(key) == 64
    assert key == cache_key(PLAN, project(tmp_path / "c"), "node v20.1.0")
    assert key != cache_key(PLAN, b, "node v20.1.0")
    assert key != cache_key(PLAN, a, "node v22.0.0")
    python = BuildPlan(**{**PLAN.__dict__, "framework": "python"})
    assert key != cache_key(python, a, "node v20.1.0")
    assert cache_key(PLAN, a, None) is None
    assert cache_key(PLAN, tmp_path / "empty", "node v20.1.0") is None


async def test_save_then_restore_into_a_fresh_checkout(tmp_path: Path) -> None:
    cache = DependencyCache(tmp_path / "cache")
    src = project(tmp_path / "build1")
    key = cache_key(PLAN, src, "node v20")
    assert key is not None
    assert await cache.restore(key, src, PLAN.cache_dirs) is False  # miss
    assert await cache.save(key, src, PLAN.cache_dirs) is True
    assert await cache.save(key, src, PLAN.cache_dirs) is False  # entries are immutable

    fresh = tmp_path / "build2"
    fresh.mkdir()
    (fresh / "node_modules").mkdir()
    (fresh / "node_modules" / "stale.js").write_text("old")
    assert await cache.restore(key, fresh, PLAN.cache_dirs) is True
    restored = fresh / "node_modules"
    assert (restored / "left-pad" / "lib" / "index.js").read_text() == "module.exports = 1\n"
    assert (restored / ".bin" / "left-pad").is_symlink()
    assert not (restored / "stale.js").exists()
    assert not list(fresh.glob(".*restore-tmp"))


async def test_a_crash_during_save_leaves_no_entry(tmp_path: Path, monkeypatch) -> None:
    cache = DependencyCache(tmp_path / "cache")
    src = project(tmp_path / "src")
    key = "ab" * 32
    copies = []

    def crash_midway(source: Path, dest: Path, **kwargs: object) -> None:
        dest.mkdir(parents=True)
        (dest / "partial.js").write_text("half")
        copies.append(dest)
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copytree", crash_midway)
    assert await cache.save(key, src, ("node_modules",)) is False
    monkeypatch.undo()

    assert copies and not (tmp_path / "cache" / key).exists()
    assert list((tmp_path / "cache").iterdir()) == []  # the temporary copy was cleaned up
    assert await cache.restore(key, tmp_path / "elsewhere", ("node_modules",)) is False


async def test_missing_dirs_and_bad_input(tmp_path: Path) -> None:
    cache = DependencyCache(tmp_path / "cache")
    (tmp_path / "src").mkdir()
    assert await cache.save("cd" * 32, tmp_path / "src", ("node_modules",)) is False
    with pytest.raises(ValueError, match="invalid cache key"):
        await cache.restore("../../etc", tmp_path / "src", ("node_modules",))
    with pytest.raises(ValueError, match="relative to the workdir"):
        await cache.save("cd" * 32, tmp_path / "src", ("../outside",))
