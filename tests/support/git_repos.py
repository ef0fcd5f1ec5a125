"""Real git repositories for tests, made with the git CLI, served over file:// or HTTP.

``create_repo(tmp_path, {"a.txt": "hi"})`` gives a bare repository with one commit on
``main``; ``repo.commit``, ``repo.tag`` and ``repo.branch`` add history and push it.
``GitHttpServer`` serves bare repositories through ``git http-backend`` behind Basic auth,
so credential handling is tested against a real smart-HTTP server.
"""

import base64
import contextlib
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "LC_ALL": "C",
}


def git(*args: str, cwd: Path | None = None) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", **_GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


Files = dict[str, str | bytes | None]


@dataclass
class GitRepo:
    bare: Path
    work: Path
    commits: list[str] = field(default_factory=list)  # made through this helper, oldest first

    @property
    def sha(self) -> str:
        """The latest commit made through this helper."""
        return self.commits[-1]

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(self, files: Files, message: str = "update", *, branch: str | None = None) -> str:
        """Write ``files`` (None deletes), commit on ``branch`` (default: current), push."""
        if branch is not None:
            exists = git("branch", "--list", branch, cwd=self.work)
            git("checkout", "-q", *([] if exists else ["-b"]), branch, cwd=self.work)
        _write(self.work, files)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        self.commits.append(git("rev-parse", "HEAD", cwd=self.work))
        self.push()
        return self.sha

    def tag(self, name: str, ref: str = "HEAD", *, annotated: bool = False) -> None:
        git("tag", *(["-a", "-m", name] if annotated else []), name, ref, cwd=self.work)
        self.push()

    def branch(self, name: str, ref: str = "HEAD") -> None:
        git("branch", "-f", name, ref, cwd=self.work)
        self.push()

    def push(self) -> None:
        git(
            "push",
            "-q",
            "--force",
            "origin",
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
            cwd=self.work,
        )


def create_repo(base: Path, files: Files, *, name: str = "repo", branch: str = "main") -> GitRepo:
    bare, work = base / f"{name}.git", base / f"{name}-work"
    git("init", "-q", "--bare", "-b", branch, str(bare))
    git("init", "-q", "-b", branch, str(work))
    git("remote", "add", "origin", str(bare), cwd=work)
    repo = GitRepo(bare=bare, work=work)
    repo.commit(files, "initial")
    return repo


def _write(root: Path, files: Files) -> None:
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


class GitHttpServer:
    """Smart-HTTP git server on 127.0.0.1 for the bare repositories under ``root``.

    ``on_request`` runs in the server thread while the client waits for the response,
    which lets a test look at the client's processes (e.g. /proc) mid-operation.
    """

    def __init__(
        self,
        root: Path,
        *,
        username: str,
        password: str,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.on_request = on_request
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"

    def __enter__(self) -> "GitHttpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._serve(self)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        if self.on_request is not None:
            self.on_request()
        if req.headers.get("Authorization") != self.expected:
            req.send_response(401)
            req.send_header("WWW-Authenticate", 'Basic realm="git"')
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        status, headers, payload = self._backend(req, body)
        req.send_response(status)
        for key, value in headers:
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        req.wfile.write(payload)

    def _backend(
        self, req: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        path, _, query = req.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": "/nonexistent",
            **_GIT_ENV,
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": req.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": req.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "test",
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": req.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": req.headers.get("Content-Encoding", ""),
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        return status, headers, payload


@contextlib.contextmanager
def blackhole_url() -> Iterator[str]:
    """An http URL whose server accepts connections and never answers (for timeouts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # connections queue in the backlog; nobody ever reads them
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/repo.git"
