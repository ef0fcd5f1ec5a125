"""Build artifacts: the output tree packaged as a deterministic .tar.gz.

Deterministic means the same tree always gives the same bytes (sorted entries, zeroed
mtimes and owners, normalised modes, no name or time in the gzip header), so the sha256
identifies the content and an unchanged rebuild is recognisable.
"""

import asyncio
import gzip
import hashlib
import os
import re
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

_BUILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SCHEME = "fs://"


@dataclass(frozen=True)
class Artifact:
    uri: str
    sha256: str
    size_bytes: int


class ArtifactStore(Protocol):
    async def put(self, build_id: str, src_dir: Path) -> Artifact: ...

    async def open_path(self, uri: str) -> Path:
        """A local path of the .tar.gz (downloaded first by remote stores)."""
        ...

    async def extract(self, uri: str, dest: Path) -> None: ...

    async def delete(self, uri: str) -> None: ...


class FilesystemArtifactStore:
    """Artifacts as ``<root>/<build_id>.tar.gz``, addressed as ``fs://<build_id>.tar.gz``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, build_id: str, src_dir: Path) -> Artifact:
        if not _BUILD_ID.match(build_id):
            raise ValueError(f"invalid build id {build_id!r}")
        return await asyncio.to_thread(self._put, build_id, src_dir)

    async def open_path(self, uri: str) -> Path:
        path = self._path(uri)
        if not path.is_file():
            raise FileNotFoundError(f"artifact {uri} does not exist")
        return path

    async def extract(self, uri: str, dest: Path) -> None:
        await asyncio.to_thread(extract_archive, await self.open_path(uri), dest)

    async def delete(self, uri: str) -> None:
        self._path(uri).unlink(missing_ok=True)

    def _put(self, build_id: str, src_dir: Path) -> Artifact:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".tar.gz", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                write_archive(src_dir, handle)
                handle.flush()
                os.fsync(handle.fileno())  # the rename must not publish unwritten data
            digest, size = _sha256(tmp)
            final = self.root / f"{build_id}.tar.gz"
            tmp.replace(final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Artifact(uri=f"{_SCHEME}{final.name}", sha256=digest, size_bytes=size)

    def _path(self, uri: str) -> Path:
        name = uri.removeprefix(_SCHEME)
        if not uri.startswith(_SCHEME) or not _BUILD_ID.match(name.removesuffix(".tar.gz")):
            raise ValueError(f"not an artifact of this store: {uri!r}")
        return self.root / name


def write_archive(src_dir: Path, handle: BinaryIO) -> None:
    """Write ``src_dir`` as a deterministic tar.gz to ``handle``."""
    # mtime=0 and an empty filename keep the gzip header free of time and temp names.
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _walk_sorted(src_dir):
            info = _tarinfo(path, path.relative_to(src_dir).as_posix())
            if info is None:
                continue
            if info.isfile():
                with path.open("rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)


def extract_archive(archive: Path, dest: Path) -> None:
    """Unpack an artifact; the "tar" filter refuses paths that would land outside ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, mode="r:gz") as tar:
        # Not "data": a venv's absolute interpreter symlink is legitimate build output.
        tar.extractall(dest, filter="tar")


def _walk_sorted(root: Path) -> list[Path]:
    paths: list[Path] = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        paths.append(entry)
        if entry.is_dir() and not entry.is_symlink():
            paths.extend(_walk_sorted(entry))
    return paths


def _tarinfo(path: Path, name: str) -> tarfile.TarInfo | None:
    st = path.lstat()
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if stat.S_ISLNK(st.st_mode):
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
    elif stat.S_ISDIR(st.st_mode):
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif stat.S_ISREG(st.st_mode):
        info.size = st.st_size
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    else:
        return None  # sockets, fifos and devices are not build output
    return info


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
