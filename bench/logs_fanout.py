"""`make bench-logs`: live build logs to N websocket subscribers of one build.

One API process (uvicorn, uvloop), a build step printing lines through the real LogWriter
in its own process, and N graphql-transport-ws subscribers in one Node process
(bench/logs_client.mjs). For each N, two paths in the same run, alternately:

- shared: the per-process feed (app/http/fanout.py): one render per batch and selection;
- per-subscriber: STRATUS_LOG_FANOUT=per-subscriber, the path before it (each subscriber
  follows the log and strawberry executes and serialises every batch for it).

First with the build printing as fast as it can (N = 1, 100, 1000), then at N = 1000 with
the build printing --target-rate lines/s, a load one process can serve (the target:
>= 50,000 delivered lines/s, p99 < 500 ms). Prints delivered lines/s, line-to-receive
latency, CPU of every process and memory per idle subscriber, with ratios. Figures only;
nothing asserts a timing. Raw rows: bench/results/logs_fanout-<time>.jsonl.

    python -m bench.logs_fanout [--ns 1,100,1000] [--duration 4] [--rate 0]
                                [--target-rate 1000] [--drain 2] [--paths shared,per-subscriber]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.dashboard import server_urls
from bench.load import HERE, machine_busy_ticks, postgres_ticks, process_ticks, uvicorn
from bench.logs_report import print_table, summarise
from bench.logs_setup import Target, free_port, new_build, secrets_env, sign_up_project, write_lines
from bench.seed import recreate_database

HZ = os.sysconf("SC_CLK_TCK")
BENCH_DB = "stratus_bench_logs"
REDIS_DB = 15
PATHS = ("shared", "per-subscriber")


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def start_server(
    path: str, env: dict[str, str], log_dir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(log_dir / f"server-logs-{path}.log", "ab")
    proc = subprocess.Popen(
        uvicorn("app.main:create_app", port, factory=True),
        env={**os.environ, **env, "STRATUS_LOG_FANOUT": path},
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start, see {log.name}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(3)  # a backlog of 1,000 subscribers is not worth a graceful wait
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_line(proc: subprocess.Popen[str], want: str, timeout: float) -> bool:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return False
        if line.strip() == want:
            return True
    return False


def run_point(
    a: argparse.Namespace, t: Target, path: str, n: int, rate: float, ws_dir: Path
) -> dict[str, Any]:
    build_gid, build_id = asyncio.run(new_build(t))
    server = client = None
    marks = {"start": time.time()}
    try:
        server, url = start_server(path, t.env, a.log_dir)
        rss0 = rss_kb(server.pid)
        ws_url = url.replace("http://", "ws://") + "/graphql"
        client = subprocess.Popen(
            [
                "node",
                str(HERE / "logs_client.mjs"),
                ws_url,
                str(n),
                t.token,
                build_gid,
                str(ws_dir),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "DEFLATE": "1" if a.deflate else "0"},
        )
        marks["server_up"] = time.time()
        if not wait_line(client, "READY", 120):
            raise SystemExit("client did not connect")
        marks["connected"] = time.time()
        # One line, received by everyone: from here on every subscriber follows the tail.
        time.sleep(0.5)
        asyncio.run(write_lines(t, build_id, 1))
        warm = wait_line(client, "WARM", 60)
        marks["warm"] = time.time()
        time.sleep(0.5)
        rss_idle = rss_kb(server.pid)
        rp = int(redis.Redis.from_url(t.redis_url).info("server")["process_id"])
        pids = {"server": server.pid, "client": client.pid, "redis": rp}
        ticks0 = {k: process_ticks(p) for k, p in pids.items()}
        pg0, m0, t0 = postgres_ticks(), machine_busy_ticks(), time.time()
        reaped0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [sys.executable, "-m", "bench.logs_writer", t.db_url, t.redis_url, str(build_id),
             str(a.duration), str(rate), "1", str(a.line_bytes)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        writer = json.loads(out.stdout)
        reaped1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        writer_cpu = sum(
            getattr(reaped1, f) - getattr(reaped0, f) for f in ("ru_utime", "ru_stime")
        )
        time.sleep(a.drain)
        wall = time.time() - t0
        ticks1 = {k: process_ticks(p) for k, p in pids.items()}
        pg1, m1 = postgres_ticks(), machine_busy_ticks()
        rss_end, rss_peak = rss_kb(server.pid), rss_kb(server.pid, "VmHWM")
        client.send_signal(signal.SIGUSR2)
        assert client.stdout is not None
        res = json.loads(client.stdout.readline())
    finally:
        stop(client)
        stop(server)
    marks["stopped"] = time.time()
    cpu = {k: 100 * (ticks1[k] - ticks0[k]) / HZ / wall for k in pids}
    cpu["postgres"] = 100 * sum(v - pg0.get(p, 0) for p, v in pg1.items()) / HZ / wall
    cpu["writer"] = 100 * writer_cpu / wall
    cpu["machine"] = 100 * (m1 - m0) / HZ / wall
    return {
        "path": path, "subscribers": n, "warm": warm, "rate_target": rate, "deflate": a.deflate,
        "duration_s": a.duration, "drain_s": a.drain, "line_bytes": a.line_bytes,
        "written": writer["written"], "write_start": writer["start"], "write_end": writer["end"],
        "server_cpu_s": (ticks1["server"] - ticks0["server"]) / HZ, "wall_s": wall,
        "rss_start_kb": rss0, "rss_idle_kb": rss_idle, "rss_end_kb": rss_end,
        "rss_peak_kb": rss_peak, **{f"cpu_{k}_pct": round(v, 1) for k, v in cpu.items()},
        "phases_s": {k: round(v - marks["start"], 1) for k, v in marks.items()}, **res,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ns", default="1,100,1000", help="subscriber counts")
    ap.add_argument("--paths", default=",".join(PATHS), help="shared,per-subscriber")
    ap.add_argument("--duration", type=float, default=4.0, help="seconds of printing")
    ap.add_argument("--rate", type=float, default=0.0, help="lines/s printed; 0: as fast as it can")
    ap.add_argument(
        "--target-rate",
        type=float,
        default=1_000.0,
        help="lines/s for an extra N=1000 pair at a pace one process can serve (0: skip)",
    )
    ap.add_argument("--drain", type=float, default=2.0, help="seconds to deliver after printing")
    ap.add_argument("--line-bytes", type=int, default=80, help="text length of a line")
    ap.add_argument(
        "--deflate", action="store_true", help="clients negotiate permessage-deflate (browsers do)"
    )
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally: stop servers
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    a.log_dir = Path(tempfile.mkdtemp(prefix="stratus-bench-logs-"))
    out_path = results / f"logs_fanout-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    db_server, redis_url = server_urls()
    redis_url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    db_url = asyncio.run(recreate_database(db_server, BENCH_DB))
    from tests.support import node_tools  # the `ws` package of the conformance tools

    ws_dir = node_tools.install()
    env = {
        **secrets_env(),
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "STRATUS_ENV": "production",
        "STRATUS_LOG_LEVEL": "WARNING",
        "STRATUS_RATE_LIMIT_CAPACITY": "1000000000",
        "STRATUS_RATE_LIMIT_REFILL_PER_SECOND": "1000000000",
    }
    server, url = start_server("shared", env, a.log_dir)
    try:
        target = asyncio.run(sign_up_project(url, db_url, redis_url, env))
    finally:
        stop(server)
    series = [(a.rate, [int(x) for x in a.ns.split(",")])]
    if a.target_rate:
        series.append((a.target_rate, [1000]))
    with out_path.open("w") as out:
        for rate, ns in series:
            rows = []
            for n in ns:
                for path in a.paths.split(","):  # alternately, so drift hits both
                    row = run_point(a, target, path, n, rate, ws_dir)
                    rows.append(row)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(f"  {path:>15} N={n:<5} {json.dumps(summarise([row])[0])}", flush=True)
            print_table(rows, a, rate)
    print(f"\nraw rows: {out_path}\nserver logs: {a.log_dir}")


if __name__ == "__main__":
    main()
