"""Tiny releases for the local runtime: artifacts made with the real FilesystemArtifactStore.

The app is one stdlib-only http.server script whose behaviour is chosen by flags, so every
scenario (versions, crashes, a SIGTERM-ignoring process, an unhealthy app) is a start
command, not another file tree.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.protocol import ReleaseSpec

Files = dict[str, str]

STATIC_SITE: Files = {
    "index.html": "<!doctype html><h1>hello static</h1>\n",
    "about/index.html": "<h1>about</h1>\n",
    "pricing.html": "<h1>pricing</h1>\n",
    "app.js": "console.log('hi');\n",
    "style.css": "h1 { color: red }\n",
    "data.json": '{"ok": true}\n',
    "logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>\n",
    "404.html": "<h1>custom not found</h1>\n",
    ".env": "SECRET=do-not-serve\n",
}

APP_PY = r"""
import argparse, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--version", default="v1")
parser.add_argument("--crash-after", type=int, default=0)
parser.add_argument("--crash-on-start", action="store_true")
parser.add_argument("--ignore-term", action="store_true")
parser.add_argument("--unhealthy", action="store_true")
args = parser.parse_args()
if args.crash_on_start:
    print("failing on start", file=sys.stderr)
    sys.exit(3)
if args.ignore_term:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
served = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        served += 1
        status, body = 200, args.version
        if self.path == "/healthz":
            status, body = (500, "sick") if args.unhealthy else (200, "ok")
        elif self.path == "/pid":
            body = str(os.getpid())
        elif self.path.startswith("/env/"):
            value = os.environ.get(self.path[5:])
            status, body = (404, "unset") if value is None else (200, value)
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if args.crash_after and served >= args.crash_after:
            print(f"crashing after {served} requests", flush=True)
            os._exit(4)

    def log_message(self, fmt, *a):
        pass


server = HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler)
print(f"{args.version} listening on {os.environ['PORT']}", flush=True)
server.serve_forever()
"""


def app_command(
    version: str = "v1",
    *,
    crash_after: int = 0,
    crash_on_start: bool = False,
    ignore_term: bool = False,
    unhealthy: bool = False,
    wrapped: bool = False,
) -> str:
    """The start command; ``wrapped`` keeps bash as the parent (the app is a grandchild)."""
    argv = [sys.executable, "-u", "app.py", "--version", version]
    argv += ["--crash-after", str(crash_after)] if crash_after else []
    argv += ["--crash-on-start"] if crash_on_start else []
    argv += ["--ignore-term"] if ignore_term else []
    argv += ["--unhealthy"] if unhealthy else []
    command = shlex.join(argv)
    return f"{command}; echo app exited" if wrapped else command


async def put_artifact(store: FilesystemArtifactStore, build_id: str, files: Files) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        artifact = await store.put(build_id, root)
    return artifact.uri


async def static_artifact(store: FilesystemArtifactStore) -> str:
    return await put_artifact(store, "static-site", STATIC_SITE)


async def app_artifact(store: FilesystemArtifactStore) -> str:
    return await put_artifact(store, "python-app", {"app.py": APP_PY})


def spec(
    release_id: str,
    artifact_uri: str,
    *,
    start_command: str | None = None,
    framework: str | None = "python",
    env: dict[str, str] | None = None,
    replicas: int = 1,
    health_path: str = "/healthz",
) -> ReleaseSpec:
    return ReleaseSpec(
        release_id=release_id,
        deployment_id=f"dep-{release_id}",
        project="demo",
        environment="production",
        artifact_uri=artifact_uri,
        framework=framework,
        start_command=start_command,
        env=env or {},
        replicas=replicas,
        health_path=health_path,
    )


# A supervisor in a child process: starts the releases given as JSON specs, prints
# {release_id: [pid, ...]} once every replica runs, then waits to be killed.
SUPERVISOR_PY = r"""
import asyncio, json, sys
from pathlib import Path
from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime
from app.runtime.protocol import ReleaseSpec


async def main():
    state, artifacts, specs = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    runtime = LocalRuntime(state, FilesystemArtifactStore(artifacts))
    for item in specs:
        await runtime.start_release(ReleaseSpec(**item))
    while True:
        states = await runtime.list_releases()
        pids = {s.release_id: [r.pid for r in s.replicas] for s in states}
        if all(pid for ids in pids.values() for pid in ids):
            print(json.dumps(pids), flush=True)
            break
        await asyncio.sleep(0.05)
    await asyncio.Event().wait()


asyncio.run(main())
"""
