"""Heroku-style Procfile parsing: one ``name: command`` per line."""

import re

from app.runtime.build.errors import DetectionError

# Heroku's own rule for process type names; anything else is almost always a typo.
_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(\S.*)$")


def parse_procfile(text: str) -> dict[str, str]:
    """Return process types in file order; blank lines and ``#`` comments are skipped."""
    processes: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise DetectionError(
                f"Procfile line {lineno} is not of the form 'name: command': {line[:80]!r}"
            )
        name, command = match.group(1), match.group(2).strip()
        if name in processes:
            raise DetectionError(f"Procfile line {lineno} defines process type {name!r} twice")
        processes[name] = command
    return processes
