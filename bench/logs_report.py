"""Figures and the table of bench/logs_fanout.py (shared feed vs per-subscriber)."""

from __future__ import annotations

import argparse
from typing import Any

TARGET_LINES_PER_S = 50_000
TARGET_P99_MS = 500


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        n = r["subscribers"]
        lines = r["lines"] - (n if r["warm"] else 0)  # the warm-up line, once per socket
        span = max(r["last_recv"] - r["write_start"], 1e-9)
        out.append(
            {
                "path": r["path"],
                "n": n,
                "written_per_s": round(r["written"] / (r["write_end"] - r["write_start"])),
                "delivered_per_s": round(lines / span),
                "delivered_pct": round(100 * lines / max(r["written"] * n, 1), 1),
                "p50_ms": r["p50_ms"],
                "p99_ms": r["p99_ms"],
                "p99_newest_ms": r["p99_newest_ms"],
                "server_cpu_pct": r["cpu_server_pct"],
                "client_cpu_pct": r["cpu_client_pct"],
                "writer_cpu_pct": r["cpu_writer_pct"],
                "pg_redis_cpu_pct": round(r["cpu_postgres_pct"] + r["cpu_redis_pct"], 1),
                "machine_cpu_pct": r["cpu_machine_pct"],
                # Other tenants of this shared 2-core machine (of 200 %).
                "other_cpu_pct": round(
                    r["cpu_machine_pct"]
                    - sum(
                        r[f"cpu_{k}_pct"]
                        for k in ("server", "client", "writer", "postgres", "redis")
                    ),
                    1,
                ),
                "server_us_per_line": round(1e6 * r["server_cpu_s"] / max(lines, 1), 2),
                # Below ~100 subscribers first-use allocations swamp the per-socket cost.
                "idle_kb_per_sub": (
                    round((r["rss_idle_kb"] - r["rss_start_kb"]) / n, 1) if n >= 100 else None
                ),
                "rss_peak_mb": round(r["rss_peak_kb"] / 1024),
                "frames": r["frames"],
                "lagged": r["lagged"],
                "anomalies": r["anomalies"],
                "errors": r["errors"],
            }
        )
    return out


COLUMNS = (
    ("N", "n", "{}"),
    ("path", "path", "{}"),
    ("printed lines/s", "written_per_s", "{:,}"),
    ("delivered lines/s", "delivered_per_s", "{:,}"),
    ("delivered %", "delivered_pct", "{}"),
    ("p50 ms", "p50_ms", "{}"),
    ("p99 ms", "p99_ms", "{}"),
    ("server CPU %", "server_cpu_pct", "{}"),
    ("server µs/line", "server_us_per_line", "{}"),
    ("client CPU %", "client_cpu_pct", "{}"),
    ("writer CPU %", "writer_cpu_pct", "{}"),
    ("PG+Redis CPU %", "pg_redis_cpu_pct", "{}"),
    ("other CPU %", "other_cpu_pct", "{}"),
    ("KB/idle sub", "idle_kb_per_sub", "{}"),
    ("peak RSS MB", "rss_peak_mb", "{}"),
    ("lagged", "lagged", "{}"),
    ("gaps/dups", "anomalies", "{}"),
)


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}x"


def print_table(rows: list[dict[str, Any]], a: argparse.Namespace, rate_target: float) -> None:
    summary = summarise(rows)
    rate = f"{rate_target:,.0f} lines/s" if rate_target else "as fast as it can"
    deflate = ", clients with permessage-deflate" if a.deflate else ""
    print(f"\nBuild printing {rate} for {a.duration:.0f} s, {a.line_bytes}-char lines{deflate}.")
    print("Latency: line written (its `at`) to received, oldest line of each message.\n")
    print("| " + " | ".join(c[0] for c in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for s in summary:
        cells = ("-" if s[key] is None else fmt.format(s[key]) for _, key, fmt in COLUMNS)
        print("| " + " | ".join(cells) + " |")
    by = {(s["path"], s["n"]): s for s in summary}
    print("\nshared / per-subscriber (same run):\n")
    print("| N | delivered lines/s | p99 latency | server µs/line | KB/idle sub |")
    print("|---|---|---|---|---|")
    for n in sorted({s["n"] for s in summary}):
        sh, ps = by.get(("shared", n)), by.get(("per-subscriber", n))
        if sh is None or ps is None:
            continue
        print(
            f"| {n} | {_ratio(sh['delivered_per_s'], ps['delivered_per_s'])} "
            f"| {_ratio(sh['p99_ms'], ps['p99_ms'])} "
            f"| {_ratio(sh['server_us_per_line'], ps['server_us_per_line'])} "
            f"| {_ratio(sh['idle_kb_per_sub'], ps['idle_kb_per_sub'])} |"
        )
    top = by.get(("shared", 1000))
    if top is not None:
        ok = top["delivered_per_s"] >= TARGET_LINES_PER_S and (top["p99_ms"] or 1e9) < TARGET_P99_MS
        print(
            f"\ntarget (N=1000, shared): >= {TARGET_LINES_PER_S:,} lines/s and p99 < "
            f"{TARGET_P99_MS} ms: {top['delivered_per_s']:,} lines/s, p99 {top['p99_ms']} ms "
            f"-> {'met' if ok else 'NOT met'} (offered: {top['written_per_s'] * 1000:,} lines/s)"
        )
