"""The two apps `bench.deploy_bench` deploys, as bare git repositories (file:// URLs).

A static site (index.html) and a small Python app: a standard-library HTTP/1.1 server that
imports one tiny pure-Python dependency pinned in requirements.txt (`six`, from PyPI or the
machine's pip index), so the cold build has a real `pip install` and the warm one restores
the cached .venv. Every commit carries a version marker the poller looks for in the body.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEPENDENCY = "six==1.17.0"

_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "LC_ALL": "C",
}

APP_PY = """import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import six

BODY = ("python app {version} six " + six.__version__ + "\\n").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: without TCP_NODELAY, Nagle + the client's delayed ACK
    # hold every keep-alive response ~40 ms, which would hide the router's own cost.
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def git(*args: str, cwd: Path | None = None) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", **_GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def static_files(version: str) -> dict[str, str]:
    return {"index.html": f"<!doctype html><h1>static site {version}</h1>\n"}


def python_files(version: str) -> dict[str, str]:
    return {
        "requirements.txt": DEPENDENCY + "\n",
        "Procfile": "web: .venv/bin/python app.py\n",
        "app.py": APP_PY.replace("{version}", version),
    }


@dataclass
class Repo:
    bare: Path
    work: Path

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", "main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


def create_repo(base: Path, name: str, files: dict[str, str]) -> Repo:
    bare, work = base / f"{name}.git", base / f"{name}-work"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    git("init", "-q", "-b", "main", str(work))
    git("remote", "add", "origin", str(bare), cwd=work)
    repo = Repo(bare, work)
    repo.commit(files, "v1")
    return repo
