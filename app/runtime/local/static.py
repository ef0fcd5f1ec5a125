"""A static file server for static-site releases: one process per replica, like any app.

Started as a script by path (``python -I static.py --dir D --port P``), so it imports only
the standard library and is up in tens of milliseconds. Artifacts have zeroed mtimes, so
ETags hash the content: a size-and-mtime tag would be equal across two releases.

A release's tree never changes (it is unpacked once and published atomically; a new version
is a new release with its own server), so what a URL path resolves to, and small files with
their response headers, are kept in memory after the first request. That matters under
concurrency: every syscall releases the GIL, and with many connections each release is a
chance to wait behind another thread. A cached answer is one write and no file-system call
(a file that is served from disk costs about ten: stat, realpath, open, read, two sends).
"""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import shutil
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}
_TEXTUAL = ("text/", "application/json", "application/manifest+json", "application/xml")
_CHUNK = 64 * 1024
# Memory bounds of the caches: URL paths remembered (hits and misses alike, so a scan of
# random paths cannot grow it without end), and small files kept with their headers.
_MAX_PATHS = 4096
_MAX_CACHED_FILE = 256 * 1024
_MAX_CACHED_BYTES = 32 * 1024 * 1024


def content_type(path: Path) -> str:
    # Our own table first: the system mime.types differs between machines (.js, .wasm).
    kind = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    kind = kind or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith(_TEXTUAL) or kind.endswith("+xml") else kind


class Cached:
    """A small file's answer, ready to send: its ETag, the headers from Content-Type on (the
    ETag is added for a 200 only: the same file may also be the 404 page), the body."""

    __slots__ = ("body", "etag", "head")

    def __init__(self, etag: str, head: bytes, body: bytes) -> None:
        self.etag = etag
        self.head = head
        self.body = body


class Site:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._etags: dict[Path, tuple[tuple[int, int, int], str]] = {}
        self._lock = threading.Lock()
        self._paths: dict[str, tuple[Path | None, str | None]] = {}
        self._files: dict[Path, Cached] = {}
        self._cached_bytes = 0

    def lookup(self, url_path: str) -> tuple[Path | None, str | None]:
        """(file to serve, or a redirect target for a directory without its trailing slash)."""
        found = self._paths.get(url_path)
        if found is None:
            found = self._resolve(url_path)
            with self._lock:
                if len(self._paths) < _MAX_PATHS:
                    self._paths[url_path] = found
        return found

    def cached(self, path: Path) -> Cached | None:
        return self._files.get(path)

    def remember(self, path: Path) -> Cached | None:
        """Read a small file into the cache with its headers; None when it is too large."""
        size = path.stat().st_size
        if size > _MAX_CACHED_FILE or self._cached_bytes + size > _MAX_CACHED_BYTES:
            return None
        entry = Cached(self.etag(path), head_lines(size, content_type(path)), path.read_bytes())
        with self._lock:
            if path not in self._files:
                self._files[path] = entry
                self._cached_bytes += size
        return entry

    def _resolve(self, url_path: str) -> tuple[Path | None, str | None]:
        decoded = unquote(url_path)
        if "\0" in decoded or "\\" in decoded:
            return None, None
        parts = [part for part in decoded.split("/") if part not in ("", ".")]
        # Dotfiles (.env, .git) are never content; .well-known is the one exception.
        if any(part.startswith(".") and part != ".well-known" for part in parts):
            return None, None
        target = self.root.joinpath(*parts)
        if target.is_dir():
            index = target / "index.html"
            if not self.contains(index):
                return None, None
            # Without the slash, relative links in the page would resolve one level up.
            return (index, None) if decoded.endswith("/") else (None, url_path + "/")
        if self.contains(target):
            return target, None
        if parts and not target.suffix and self.contains(target.with_suffix(".html")):
            return target.with_suffix(".html"), None
        return None, None

    def contains(self, path: Path) -> bool:
        """A regular file that stays inside the site, symlinks included."""
        return path.is_file() and path.resolve().is_relative_to(self.root)

    def etag(self, path: Path) -> str:
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        with self._lock:
            cached = self._etags.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        tag = f'"{digest.hexdigest()[:32]}"'
        with self._lock:
            self._etags[path] = (key, tag)
        return tag


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: Site) -> None:
        super().__init__(address, Handler)
        self.site = site
        self.active = 0
        self.idle = threading.Condition()

    def wait_idle(self) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.active == 0)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client resetting a kept-alive connection (the router's pool closing an idle one,
        # a load generator stopping) is routine; the default handler would print a traceback
        # into the deployment's log for each.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def head_lines(size: int, kind: str) -> bytes:
    """A cached file's header lines after Server, Date and ETag, through the blank line
    (the same headers `Handler._head` sends for a file)."""
    lines = [f"Content-Type: {kind}", f"Content-Length: {size}"]
    lines += ["Cache-Control: no-cache", "X-Content-Type-Options: nosniff"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "stratus-static"
    sys_version = ""
    protocol_version = "HTTP/1.1"  # keep-alive for the router's connection pool
    # Headers and body go out as two writes; with Nagle's algorithm and the client's delayed
    # ACK every keep-alive response waited ~40 ms.
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections must not pin threads forever

    def do_GET(self) -> None:
        self._tracked(body=True)

    def do_HEAD(self) -> None:
        self._tracked(body=False)

    def not_allowed(self) -> None:
        self._send_bytes(HTTPStatus.METHOD_NOT_ALLOWED, b"405 Method Not Allowed\n", True)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = not_allowed

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # access logs would flood the deployment log stream; errors still go to stderr

    def _tracked(self, body: bool) -> None:
        with self.server.idle:
            self.server.active += 1
        try:
            self._serve(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with self.server.idle:
                self.server.active -= 1
                self.server.idle.notify_all()

    def _serve(self, body: bool) -> None:
        url = urlsplit(self.path)
        path, redirect = self.server.site.lookup(url.path)
        if redirect is not None:
            location = redirect + (f"?{url.query}" if url.query else "")
            self._send_bytes(HTTPStatus.PERMANENT_REDIRECT, b"", body, Location=location)
        elif path is None:
            page, _ = self.server.site.lookup("/404.html")
            if page is not None and page == self.server.site.root / "404.html":
                self._send_file(page, HTTPStatus.NOT_FOUND, body)
            else:
                self._send_bytes(HTTPStatus.NOT_FOUND, b"404 Not Found\n", body)
        else:
            self._send_file(path, HTTPStatus.OK, body)

    def _fresh(self, etag: str) -> bool:
        header = self.headers.get("If-None-Match")
        if header is None:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
        return "*" in tags or etag in tags

    def _send_file(self, path: Path, status: HTTPStatus, body: bool) -> None:
        """A file with its ETag (200) or as the custom 404 page; 304 when the client's
        copy is current."""
        site = self.server.site
        entry = site.cached(path) or site.remember(path)
        ok = status is HTTPStatus.OK
        if entry is not None and ok and self._fresh(entry.etag):
            self._send_bytes(HTTPStatus.NOT_MODIFIED, b"", False, ETag=entry.etag)
        elif entry is not None and self.request_version != "HTTP/0.9":  # 0.9: no head
            # Status line, headers and body in one write: one syscall, one TCP segment.
            line = f"{self.protocol_version} {status.value} {status.phrase}\r\n"
            line += f"Server: {self.version_string()}\r\nDate: {self.date_time_string()}\r\n"
            line += f"ETag: {entry.etag}\r\n" if ok else ""
            self.wfile.write(
                b"".join((line.encode("latin-1"), entry.head, entry.body if body else b""))
            )
        else:
            self._stream_file(path, status, body)

    def _stream_file(self, path: Path, status: HTTPStatus, body: bool) -> None:
        headers = {}
        if status is HTTPStatus.OK:
            etag = self.server.site.etag(path)
            if self._fresh(etag):
                self._send_bytes(HTTPStatus.NOT_MODIFIED, b"", False, ETag=etag)
                return
            headers["ETag"] = etag
        with path.open("rb") as handle:
            size = path.stat().st_size
            self._head(status, size, content_type(path), headers)
            if body:
                shutil.copyfileobj(handle, self.wfile, _CHUNK)

    def _send_bytes(self, status: HTTPStatus, data: bytes, body: bool, **headers: str) -> None:
        self._head(status, len(data), "text/plain; charset=utf-8", headers)
        if body and data:
            self.wfile.write(data)

    def _head(self, status: HTTPStatus, size: int, kind: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        if status is not HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(size))
        if status is HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        # Revalidate every time: URLs are not content-hashed, the ETag makes it cheap.
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()


def serve(root: Path, host: str, port: int) -> None:
    server = Server((host, port), Site(root))

    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever, which runs on this very thread: hand it off.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"serving {root} on http://{host}:{port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()  # refuse new connections, then let requests in flight finish
    server.wait_idle()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a static site.")
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        sys.exit(f"not a directory: {args.dir}")
    serve(args.dir, args.host, args.port)


if __name__ == "__main__":
    main()
