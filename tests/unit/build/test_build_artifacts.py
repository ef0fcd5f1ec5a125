import os
import tarfile
from pathlib import Path

import pytest

from app.runtime.build import FilesystemArtifactStore


def tree(root: Path) -> Path:
    (root / "assets" / "img").mkdir(parents=True)
    (root / "index.html").write_text("<h1>hi</h1>")
    (root / "assets" / "app.js").write_text("console.log(1)")
    (root / "assets" / "img" / "logo.svg").write_bytes(b"<svg/>" * 1000)
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o750)
    (root / "latest.js").symlink_to("assets/app.js")
    return root


async def test_same_tree_gives_same_sha256(tmp_path: Path) -> None:
    store = FilesystemArtifactStore(tmp_path / "store")
    first = await store.put("b1", tree(tmp_path / "one"))
    second_src = tree(tmp_path / "two")
    os.utime(second_src / "index.html", (1, 1))  # other mtimes, same content
    (second_src / "assets" / "app.js").chmod(0o600)
    second = await store.put("b2", second_src)

    assert first.sha256 == second.sha256 and first.size_bytes == second.size_bytes
    assert first.uri == "fs://b1.tar.gz" and second.uri == "fs://b2.tar.gz"
    (second_src / "index.html").write_text("<h1>changed</h1>")
    assert (await store.put("b3", second_src)).sha256 != first.sha256
    assert not list((tmp_path / "store").glob(".tmp-*"))


async def test_round_trip_and_delete(tmp_path: Path) -> None:
    store = FilesystemArtifactStore(tmp_path / "store")
    artifact = await store.put("build-42", tree(tmp_path / "src"))
    path = await store.open_path(artifact.uri)
    assert path.stat().st_size == artifact.size_bytes
    with tarfile.open(path) as tar:
        names = tar.getnames()
        assert names == [
            "assets",
            "assets/app.js",
            "assets/img",
            "assets/img/logo.svg",
            "index.html",
            "latest.js",
            "run.sh",
        ]
        assert {m.mtime for m in tar.getmembers()} == {0}

    dest = tmp_path / "out"
    await store.extract(artifact.uri, dest)
    assert (dest / "index.html").read_text() == "<h1>hi</h1>"
    assert (dest / "assets" / "img" / "logo.svg").read_bytes() == b"<svg/>" * 1000
    assert os.access(dest / "run.sh", os.X_OK)
    assert os.readlink(dest / "latest.js") == "assets/app.js"

    await store.delete(artifact.uri)
    with pytest.raises(FileNotFoundError):
        await store.open_path(artifact.uri)
    await store.delete(artifact.uri)  # idempotent


async def test_rejects_unsafe_ids_and_foreign_uris(tmp_path: Path) -> None:
    store = FilesystemArtifactStore(tmp_path / "store")
    with pytest.raises(ValueError, match="invalid build id"):
        await store.put("../escape", tmp_path)
    with pytest.raises(ValueError, match="not an artifact of this store"):
        await store.open_path("fs://../../etc/passwd")
    with pytest.raises(ValueError, match="not an artifact of this store"):
        await store.delete("s3://bucket/x.tar.gz")
