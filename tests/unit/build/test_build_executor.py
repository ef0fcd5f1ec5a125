import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from app.runtime.build import Step, StepLimits, StepReason, StepResult, run_step
from app.runtime.build.lines import LineSplitter

MB = 1024 * 1024


class Lines:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.first = asyncio.Event()

    async def __call__(self, stream: str, text: str) -> None:
        self.items.append((stream, text))
        self.first.set()

    def of(self, stream: str) -> list[str]:
        return [text for name, text in self.items if name == stream]


async def run(
    command: str,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    cancel: asyncio.Event | None = None,
    lines: Lines | None = None,
    **limits: Any,
) -> tuple[StepResult, Lines]:
    lines = lines or Lines()
    result = await run_step(
        Step("build", command),
        cwd=cwd,
        env=env or {},
        limits=StepLimits(**limits),
        on_line=lines,
        cancel=cancel or asyncio.Event(),
    )
    return result, lines


async def test_lines_from_both_streams_in_order(tmp_path: Path) -> None:
    script = (
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done; "
        r"printf '\033[31mred\033[0m\n'; printf 'bad \377 byte\r\n'; printf 'no newline'"
    )
    result, lines = await run(script, tmp_path)
    assert result.reason == StepReason.OK and result.exit_code == 0
    assert lines.of("stdout") == [
        "out1",
        "out2",
        "out3",
        "\x1b[31mred\x1b[0m",
        "bad \ufffd byte",
        "no newline",
    ]
    assert lines.of("stderr") == ["err1", "err2", "err3"]
    raw = "out1\nerr1\n" * 3 + "\033[31mred\033[0m\n" + "bad X byte\r\n" + "no newline"
    assert result.output_bytes == len(raw)


async def test_failing_command_reports_exit_code_and_output(tmp_path: Path) -> None:
    result, lines = await run("echo building; echo 'boom' >&2; exit 3", tmp_path)
    assert (result.reason, result.exit_code) == (StepReason.FAILED, 3)
    assert result.message == "command failed with exit code 3"
    assert sorted(lines.items) == [("stderr", "boom"), ("stdout", "building")]


async def test_environment_is_only_what_was_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://worker:secret@db/stratus")
    result, lines = await run("env", tmp_path, env={"NODE_ENV": "production"})
    env = dict(line.split("=", 1) for line in lines.of("stdout"))
    assert result.reason == StepReason.OK
    assert "DATABASE_URL" not in env
    assert env["NODE_ENV"] == "production" and env["LANG"] == "C.UTF-8"
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == str(tmp_path / ".stratus-home") and Path(env["HOME"]).is_dir()


async def test_timeout(tmp_path: Path) -> None:
    result, _ = await run("sleep 30", tmp_path, timeout_s=0.5)
    assert result.reason == StepReason.TIMED_OUT
    assert result.duration_s < 10 and "time limit of 0.5s" in result.message


async def test_cancel_stops_the_whole_group_within_two_seconds(tmp_path: Path) -> None:
    cancel, lines = asyncio.Event(), Lines()
    # The shell and its child ignore SIGTERM, so only the SIGKILL escalation stops them.
    script = "trap '' TERM; sleep 300 & echo child=$!; wait"
    task = asyncio.create_task(run(script, tmp_path, cancel=cancel, lines=lines))
    await asyncio.wait_for(lines.first.wait(), 10)
    started = time.monotonic()
    cancel.set()
    result, _ = await task
    assert time.monotonic() - started < 2.0
    assert result.reason == StepReason.CANCELED
    child = int(lines.of("stdout")[0].removeprefix("child="))
    await asyncio.sleep(0.1)  # reaped by init; /proc entry goes away
    assert not Path(f"/proc/{child}").exists() or _is_zombie(child)


async def test_output_limit_stops_the_step(tmp_path: Path) -> None:
    result, lines = await run("yes 'a line of output'", tmp_path, max_output_bytes=64 * 1024)
    assert result.reason == StepReason.OUTPUT_LIMIT
    delivered = sum(len(text) + 1 for text in lines.of("stdout"))
    assert 60 * 1024 < delivered <= 64 * 1024 + 1


async def test_long_lines_are_truncated(tmp_path: Path) -> None:
    result, lines = await run(
        "head -c 100000 /dev/zero | tr '\\0' x; echo; echo next", tmp_path, max_line_bytes=1000
    )
    assert result.reason == StepReason.OK
    first, second = lines.of("stdout")
    assert first == "x" * 1000 + " [line truncated: 99000 bytes omitted]"
    assert second == "next"


async def test_cpu_limit(tmp_path: Path) -> None:
    result, _ = await run("while :; do :; done", tmp_path, cpu_s=1, timeout_s=30)
    assert result.reason == StepReason.RESOURCE_LIMIT
    assert "CPU time limit of 1s exceeded" in result.message


async def test_memory_limit(tmp_path: Path) -> None:
    alloc = "python3 -c 'b = bytearray(1024 ** 3); print(len(b))'"
    result, lines = await run(alloc, tmp_path, memory_bytes=200 * MB)
    assert result.reason in (StepReason.FAILED, StepReason.RESOURCE_LIMIT)
    assert result.exit_code != 0 and "MemoryError" in lines.of("stderr")[-1]


async def test_file_size_limit(tmp_path: Path) -> None:
    result, _ = await run("head -c 5000000 /dev/zero > big.bin", tmp_path, file_size_bytes=MB)
    assert result.reason == StepReason.RESOURCE_LIMIT and "SIGXFSZ" in result.message
    assert (tmp_path / "big.bin").stat().st_size <= MB


async def test_failing_log_callback_stops_the_step(tmp_path: Path) -> None:
    async def broken(stream: str, text: str) -> None:
        raise ConnectionError("log pipeline down")

    with pytest.raises(ConnectionError):
        await run_step(
            Step("build", "while :; do echo x; sleep 0.01; done"),
            cwd=tmp_path,
            env={},
            limits=StepLimits(),
            on_line=broken,
            cancel=asyncio.Event(),
        )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
async def test_process_limit_applies_when_running_as_an_unprivileged_user() -> None:
    # The kernel ignores RLIMIT_NPROC for root, hence run_as.
    nobody = (65534, 65534)
    cwd = Path(tempfile.mkdtemp())
    os.chown(cwd, *nobody)
    fork = (
        "python3 -c 'import os, sys, time\nfor i in range(50):\n try:\n  pid = os.fork()\n"
        ' except OSError:\n  print("forks", i); sys.exit(7)\n if pid == 0:\n'
        "  time.sleep(5); os._exit(0)'"
    )
    try:
        result, lines = await run(fork, cwd, processes=8, run_as=nobody)
        assert (result.reason, result.exit_code) == (StepReason.FAILED, 7), lines.items
        assert int(lines.of("stdout")[0].split()[1]) < 8
    finally:
        shutil.rmtree(cwd)


def test_line_splitter_bounds_memory_and_marks_truncation() -> None:
    splitter = LineSplitter(max_line_bytes=4)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"cdefgh\nxy\r\n\xc3") == ["abcd [line truncated: 4 bytes omitted]", "xy"]
    assert splitter.feed(b"\xa9") == []
    assert splitter.flush() == ["\u00e9"]
    assert splitter.flush() == []


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
