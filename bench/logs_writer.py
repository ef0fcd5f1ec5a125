"""A build step printing log lines through the real LogWriter (PostgreSQL, then Redis).

    python -m bench.logs_writer DATABASE_URL REDIS_URL BUILD_ID SECONDS RATE LAST_SEQ LINE_BYTES

RATE is lines per second; 0 prints as fast as it can (the writer's own batching, 1,000
lines or 50 ms, as in a build). Prints one JSON line: lines written and wall times.
Runs in its own process so that its CPU is not the API server's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

from app.domain.build_logs import LogWriter
from app.events import EventBus
from db.engine import make_engine, make_sessionmaker
from db.enums import LogStream

CHUNK = 100  # lines per turn when unthrottled


async def write(
    db_url: str,
    redis_url: str,
    build_id: uuid.UUID,
    seconds: float,
    rate: float,
    last: int,
    size: int,
) -> dict[str, float]:
    engine = make_engine(db_url, pool_size=2)
    events = EventBus(redis_url)
    pad = "x" * max(0, size - 24)
    written = 0
    start = time.time()
    deadline = start + seconds
    try:
        async with LogWriter(make_sessionmaker(engine), events, build_id, last_seq=last) as w:
            while (now := time.time()) < deadline:
                due = int((now - start) * rate) if rate else written + CHUNK
                if due <= written:
                    await asyncio.sleep(0.002)
                    continue
                for _ in range(due - written):
                    written += 1
                    await w.write(LogStream.STDOUT, "build", f"line {written:>9} {pad}")
                if not rate:
                    await asyncio.sleep(0)  # let the periodic flusher run
        end = time.time()
    finally:
        await events.close()
        await engine.dispose()
    return {"written": written, "start": start, "end": end, "last_seq": last + written}


def main() -> None:
    db, redis_url, build, seconds, rate, last, size = sys.argv[1:8]
    result = asyncio.run(
        write(db, redis_url, uuid.UUID(build), float(seconds), float(rate), int(last), int(size))
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
