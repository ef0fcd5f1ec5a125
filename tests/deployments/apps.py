"""The released test app: answers its version on `/`, `/healthz` for the health check.

`--errors` answers 500 on everything but the health check (an error-rate rollback);
`--unhealthy` fails the health check (a release that must never get traffic);
`--say-env NAME` answers that environment variable instead of the version.
"""

from __future__ import annotations

import shlex
import sys

APP_PY = r"""
import argparse, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--version", default="v1")
parser.add_argument("--errors", action="store_true")
parser.add_argument("--unhealthy", action="store_true")
parser.add_argument("--say-env")
args = parser.parse_args()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status, body = (500, "boom") if args.errors else (200, args.version)
        if args.say_env:
            body = os.environ.get(args.say_env, "-")
        if self.path == "/healthz":
            status, body = (500, "sick") if args.unhealthy else (200, "ok")
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *a):
        pass


ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""


def command(
    version: str, *, errors: bool = False, unhealthy: bool = False, say_env: str | None = None
) -> str:
    argv = [sys.executable, "-u", "app.py", "--version", version]
    argv += ["--say-env", say_env] if say_env else []
    argv += ["--errors"] if errors else []
    argv += ["--unhealthy"] if unhealthy else []
    return shlex.join(argv)
