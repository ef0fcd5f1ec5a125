"""Servers under test, wrk runs, and CPU accounting from /proc (after shared/tools/perf-anchors)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HZ = os.sysconf("SC_CLK_TCK")


def process_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime, all threads


def postgres_ticks() -> dict[int, int]:
    """CPU ticks of every postgres process (backends come and go, so keep them per pid)."""
    out: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            if "(postgres)" in s:
                parts = s.rsplit(")", 1)[1].split()
                out[int(d)] = int(parts[11]) + int(parts[12])
    return out


def machine_busy_ticks() -> int:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def http(url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None) -> bytes:
    h = {"content-type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, body, h)
    with urllib.request.urlopen(req, timeout=10) as r:
        data: bytes = r.read()
    return data


METRIC_RE = re.compile(r"^(\w+)(?:\{[^}]*\})? ([0-9.e+-]+)$", re.M)


def metric_total(metrics_url: str, name: str) -> float:
    """Sum of a Prometheus counter over its labels, read from a /metrics page."""
    text = http(metrics_url).decode()
    return sum(float(v) for n, v in METRIC_RE.findall(text) if n == name)


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    headers: dict[str, str] = field(default_factory=dict)
    metrics: bool = False  # exports stratus_* counters at /metrics
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, probe: bytes, log_dir: Path) -> None:
        log = open(log_dir / f"server-{self.name}.log", "wb")
        env = {**os.environ, **self.env}
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.post(probe)
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{self.name} did not start, see {log.name}") from None
                time.sleep(0.2)

    def post(self, body: bytes) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(http(self.url, body, self.headers))
        if data.get("errors"):
            raise RuntimeError(f"{self.name}: {data['errors']}")
        return data

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def uvicorn(app: str, port: int, *, factory: bool = False) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    return [*argv, "--no-access-log", *(["--factory"] if factory else [])]


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(server: Server, body_file: Path, *, duration: float, conns: int) -> dict[str, Any]:
    """One wrk run; CPU of the server, of PostgreSQL and of the whole machine meanwhile."""
    stmts0 = served0 = 0.0
    if server.metrics:
        stmts0 = metric_total(server.metrics_url, "stratus_db_statements_total")
        served0 = metric_total(server.metrics_url, "stratus_graphql_requests_total")
    t0, s0, p0, m0 = time.time(), process_ticks(server.pid), postgres_ticks(), machine_busy_ticks()
    env = {**os.environ, "BODY_FILE": str(body_file)}
    env["AUTHORIZATION"] = server.headers.get("authorization", "")
    argv = [
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    proc = subprocess.Popen(
        [*argv, "-s", str(HERE / "post.lua"), server.url],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}")
    wall = time.time() - t0
    s1, p1, m1 = process_ticks(server.pid), postgres_ticks(), machine_busy_ticks()
    requests = int(_search(r"(\d+) requests in", out))
    pg = sum(t - p0.get(pid, 0) for pid, t in p1.items())
    pct = {
        "server": 100 * (s1 - s0) / HZ / wall,
        "postgres": 100 * pg / HZ / wall,
        "wrk": 100 * (usage.ru_utime + usage.ru_stime) / wall,
        "machine": 100 * (m1 - m0) / HZ / wall,
    }
    res: dict[str, Any] = {
        "rps": float(_search(r"Requests/sec:\s+([\d.]+)", out)),
        "p50_ms": _ms(_search(r"\s50%\s+(\S+)", out)),
        "p99_ms": _ms(_search(r"\s99%\s+(\S+)", out)),
        "requests": requests,
        "non_2xx": int(_search(r"Non-2xx or 3xx responses: (\d+)", out, "0")),
        "socket_errors": _socket_errors(out),
        "server_cpu_ms_per_req": round(1000 * (s1 - s0) / HZ / max(requests, 1), 3),
        "postgres_cpu_ms_per_req": round(1000 * pg / HZ / max(requests, 1), 3),
        **{f"{k}_cpu_pct": round(v, 1) for k, v in pct.items()},
        # Other tenants of this shared machine (of 200 % on 2 cores).
        "other_cpu_pct": round(pct["machine"] - pct["server"] - pct["postgres"] - pct["wrk"], 1),
        "wall_s": round(wall, 2),
    }
    if server.metrics:
        stmts = metric_total(server.metrics_url, "stratus_db_statements_total") - stmts0
        served = metric_total(server.metrics_url, "stratus_graphql_requests_total") - served0
        res["sql_statements_per_req"] = round(stmts / max(served, 1), 2)
    else:
        res["sql_statements_per_req"] = 1.0  # by construction: one prepared statement
    return res


def _socket_errors(out: str) -> int:
    line = _search(r"Socket errors: ([^\n]*)", out, "")
    return sum(int(x) for x in re.findall(r"\d+", line))


def _search(pattern: str, text: str, default: str | None = None) -> str:
    m = re.search(pattern, text)
    if m is None:
        if default is not None:
            return default
        raise RuntimeError(f"wrk output has no {pattern!r}:\n{text}")
    return m.group(1)
