"""GraphQL-over-HTTP: graphql-http's official server audit against the live server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import node_tools
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow  # a real server process (live_server)

EXPECTED_AUDITS = 61


def _failures(report: dict[str, object]) -> str:
    rows = report.get("results")
    assert isinstance(rows, list)
    lines = []
    for r in rows:
        if r["result"] != "PASS":
            resp = r.get("response") or {}
            lines.append(
                f"{r['id']} {r['level']} {r['name']}: {r['reason']} "
                f"(got {resp.get('status')}, {resp.get('contentType')}: {resp.get('body')})"
            )
    return "\n".join(lines)


def test_graphql_over_http_audit_passes_all(
    live_server: LiveServer, conformance_tools: Path, tmp_path: Path
) -> None:
    report_file = tmp_path / "audit.json"
    result = node_tools.run(
        conformance_tools,
        "audit-http.mjs",
        live_server.graphql,
        "--json",
        str(report_file),
        "--fail-on",
        "any",
    )
    closing = result.closing_line("http-audit:")
    assert report_file.exists(), result.output
    report = json.loads(report_file.read_text())
    assert (report["passed"], report["failed"]) == (EXPECTED_AUDITS, 0), (
        f"{closing}\n{_failures(report)}\n--- server log ---\n{live_server.log_tail()}"
    )
    assert closing.startswith(f"http-audit: {EXPECTED_AUDITS} passed, 0 failed"), closing
    assert result.returncode == 0, result.output
