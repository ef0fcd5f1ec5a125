"""Run the git CLI isolated from the worker: no user config, no prompts, a throwaway HOME.

Credentials reach git only through files in that HOME (see gitauth), never through argv,
the environment or a stored URL, and are scrubbed from every error message.
"""

import asyncio
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from app.runtime.build.errors import SourceError
from app.runtime.build.gitauth import GitCredential, redact_url, ssh_command, write_askpass

# Ordered: an SSH auth failure also prints "Could not read from remote repository".
_FAILURES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        (
            "authentication failed",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "permission denied (publickey",
            "host key verification failed",
        ),
        "authentication failed for {url}",
    ),
    (
        (
            "repository not found",
            "not found",
            "does not appear to be a git repository",
            "could not read from remote repository",
        ),
        "repository {url} not found or not accessible",
    ),
    (
        (
            "could not resolve host",
            "connection refused",
            "failed to connect",
            "connection timed out",
            "no route to host",
        ),
        "could not connect to {url}",
    ),
)


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str


class GitSession:
    """One isolated git environment shared by the commands of one operation and deadline."""

    def __init__(
        self,
        url: str,
        credential: GitCredential | None,
        *,
        timeout: float,
        env: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.display_url = redact_url(url)
        self.timeout = timeout
        self._credential = credential
        self._extra_env = dict(env or {})
        self._deadline = time.monotonic() + timeout
        self._home: Path | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> "GitSession":
        self._home = Path(tempfile.mkdtemp(prefix="stratus-git-"))
        self.env = self._build_env(self._home)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)

    @property
    def home(self) -> Path:
        assert self._home is not None, "use GitSession as a context manager"
        return self._home

    def argv(self, *args: str) -> list[str]:
        return ["git", *args]

    async def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> GitResult:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out(args[0])
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            cwd=cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # so a timeout also ends git-remote-https and ssh
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), remaining)
        except TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            raise self._timed_out(args[0]) from None
        except BaseException:
            _kill_group(proc.pid)
            raise
        result = GitResult(
            proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
        )
        if check and result.returncode != 0:
            raise self.failure(args[0], result.stderr)
        return result

    def known_failure(self, stderr: str) -> SourceError | None:
        """A SourceError for auth/not-found/connection failures, None for anything else."""
        lowered = stderr.lower()
        for needles, summary in _FAILURES:
            if any(needle in lowered for needle in needles):
                return SourceError(self._with_detail(summary.format(url=self.display_url), stderr))
        return None

    def failure(self, verb: str, stderr: str) -> SourceError:
        known = self.known_failure(stderr)
        if known is not None:
            return known
        return SourceError(self._with_detail(f"git {verb} failed for {self.display_url}", stderr))

    def redact(self, text: str) -> str:
        text = redact_url(text)
        for secret in self._credential.secrets() if self._credential else []:
            text = text.replace(secret, "***")
        return text

    def _with_detail(self, summary: str, stderr: str) -> str:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        detail = next((ln for ln in reversed(lines) if ln.startswith(("fatal:", "error:"))), "")
        detail = self.redact(detail or (lines[-1] if lines else ""))[:300]
        return f"{summary} ({detail})" if detail else summary

    def _timed_out(self, verb: str) -> SourceError:
        return SourceError(f"git {verb} timed out after {self.timeout:g}s for {self.display_url}")

    def _build_env(self, home: Path) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            **self._extra_env,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "LANG": "C",
            "LC_ALL": "C",  # error classification matches git's English messages
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ALLOW_PROTOCOL": "https:http:ssh:file",
            "GIT_SSH_COMMAND": ssh_command(home, self._credential),
        }
        if self._credential is not None and self._credential.token:
            env["GIT_ASKPASS"] = write_askpass(home, self._credential)
        return env


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
