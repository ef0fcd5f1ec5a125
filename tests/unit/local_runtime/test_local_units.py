"""The pure parts of the local runtime: log files, delivery, static lookup, pid records."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from app.runtime.local.output import Delivery, ReleaseOutput, RotatingFile
from app.runtime.local.procs import PidRecord, boot_id, start_ticks
from app.runtime.local.static import Site, content_type
from app.runtime.protocol import LogLine


def test_rotating_file_keeps_one_previous_file(tmp_path: Path) -> None:
    log = RotatingFile(tmp_path / "out.log", max_bytes=100)
    for i in range(30):
        log.write(f"line {i:02d}\n")  # 8 bytes each
    log.close()
    current, previous = (tmp_path / "out.log").read_text(), (tmp_path / "out.log.1").read_text()
    assert len(current) <= 100 and len(previous) <= 100
    lines = (previous + current).splitlines()  # the newest lines, none lost at the seam
    assert lines == [f"line {i:02d}" for i in range(30 - len(lines), 30)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.log", "out.log.1"]


async def test_a_slow_log_pipeline_drops_lines_instead_of_blocking(tmp_path: Path) -> None:
    delivered: list[LogLine] = []
    gate = asyncio.Event()

    async def slow(line: LogLine) -> None:
        await gate.wait()
        delivered.append(line)

    delivery = Delivery(slow, max_pending=5)
    output = ReleaseOutput("r1", "d1", tmp_path, delivery)
    for i in range(20):
        output.line(0, "stdout", f"line {i}")  # never awaits: the app is never held up
    assert delivery.dropped == 15
    gate.set()
    await asyncio.sleep(0.01)
    output.line(0, "stdout", "after")
    await delivery.aclose()
    texts = [line.text for line in delivered]
    notice = "[15 lines not delivered: the log pipeline was too slow]"
    assert texts == [f"line {i}" for i in range(5)] + [notice, "after"]
    assert len(output.tail(0, 100)) == 21  # the tail and the file still have everything
    output.close()
    assert (tmp_path / "replica-0.log").read_text().count("\n") == 21


async def test_a_failing_log_pipeline_does_not_stop_delivery(tmp_path: Path) -> None:
    seen: list[str] = []

    async def flaky(line: LogLine) -> None:
        if line.text == "bad":
            raise RuntimeError("redis down")
        seen.append(line.text)

    delivery = Delivery(flaky)
    output = ReleaseOutput("r1", "d1", tmp_path, delivery)
    for text in ("a", "bad", "b"):
        output.line(0, "stdout", text)
    await delivery.aclose()
    output.close()
    assert seen == ["a", "b"]


def test_static_lookup_stays_inside_the_site(tmp_path: Path) -> None:
    site_dir, outside = tmp_path / "site", tmp_path / "secret.txt"
    (site_dir / "docs").mkdir(parents=True)
    (site_dir / "index.html").write_text("home")
    (site_dir / "docs/index.html").write_text("docs")
    outside.write_text("secret")
    (site_dir / "leak.txt").symlink_to(outside)
    (site_dir / ".well-known").mkdir()
    (site_dir / ".well-known/security.txt").write_text("contact")
    site = Site(site_dir)

    assert site.lookup("/") == (site.root / "index.html", None)
    assert site.lookup("/docs") == (None, "/docs/")
    assert site.lookup("/docs/") == (site.root / "docs/index.html", None)
    assert site.lookup("/leak.txt") == (None, None)
    assert site.lookup("/%2e%2e/secret.txt") == (None, None)
    assert site.lookup("/.well-known/security.txt")[0] is not None
    etag = site.etag(site.root / "index.html")
    assert etag == site.etag(site.root / "index.html") and etag.startswith('"')
    assert content_type(Path("a.wasm")) == "application/wasm"
    assert content_type(Path("a.bin")) == "application/octet-stream"


def test_a_pid_record_does_not_match_a_recycled_pid(tmp_path: Path) -> None:
    me = os.getpid()
    record = PidRecord(
        release_id="r1",
        deployment_id="d1",
        index=0,
        pid=me,
        start_ticks=start_ticks(me),
        boot_id=boot_id(),
        marker="r1.0.abc",
        port=1234,
        supervisor_pid=me,
        supervisor_ticks=start_ticks(me),
    )
    record.write(tmp_path / "replica-0.json")
    assert PidRecord.read(tmp_path / "replica-0.json") == record
    assert record.leader_running() and record.supervisor_running()
    recycled = PidRecord(**{**record.__dict__, "start_ticks": (record.start_ticks or 0) + 1})
    assert not recycled.leader_running()
    (tmp_path / "broken.json").write_text("{")
    assert PidRecord.read(tmp_path / "broken.json") is None
