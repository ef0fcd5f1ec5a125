"""Resolve a branch, tag or SHA to a commit, and check out exactly that commit.

Builds always work from a full 40-hex SHA resolved once up front, so a push that lands while
the build is queued cannot change what gets built.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

from app.runtime.build.errors import SourceError
from app.runtime.build.gitauth import GitCredential, redact_url
from app.runtime.build.gitcli import GitSession

_SHA = re.compile(r"^[0-9a-f]{40}$")
_ABBREVIATED_SHA = re.compile(r"^[0-9a-f]{4,39}$")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/\\]")
_REMOTE_SCHEMES = ("https://", "http://", "ssh://")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# Characters git refuses in ref names, plus whitespace; a leading "-" could pose as an option.
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|^-|^/|/$|\.lock$|\.$")


async def resolve_ref(
    url: str,
    ref: str,
    *,
    timeout: float,
    credential: GitCredential | None = None,
    env: dict[str, str] | None = None,
    allow_file_urls: bool = True,
) -> str:
    """Full SHA of ``ref`` (branch, tag, ``refs/...``, ``HEAD`` or a full SHA) in ``url``.

    Like git, a tag wins over a branch of the same name. A full SHA is returned as is once a
    fetch proved that the repository has that commit.
    """
    check_url(url, allow_file_urls=allow_file_urls, credential=credential)
    ref = ref.strip() or "HEAD"
    if _BAD_REF.search(ref):
        raise SourceError(f"invalid ref {ref!r}")
    with GitSession(url, credential, timeout=timeout, env=env) as git:
        if _SHA.match(ref.lower()):
            probe = git.home / "probe.git"
            await git.run("init", "-q", "--bare", str(probe))
            await _fetch_commit(git, probe, ref.lower())
            return ref.lower()
        candidates = _candidates(ref)
        listing = await git.run("ls-remote", "--", url, *candidates)
        sha = _pick(listing.stdout, candidates)
    if sha is None:
        hint = ""
        if _ABBREVIATED_SHA.match(ref.lower()):
            hint = "; abbreviated SHAs are not supported, use the full 40-character SHA"
        raise SourceError(f"ref {ref!r} not found in {redact_url(url)}{hint}")
    return sha


async def checkout(
    url: str,
    sha: str,
    dest: Path,
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    credential: GitCredential | None = None,
    allow_file_urls: bool = True,
) -> None:
    """Check out commit ``sha`` of ``url`` into ``dest`` (created; must be empty if it exists).

    The URL is fetched directly instead of being saved as a remote, so nothing from it (nor
    any credential) is written into ``dest/.git``.
    """
    check_url(url, allow_file_urls=allow_file_urls, credential=credential)
    sha = sha.strip().lower()
    if not _SHA.match(sha):
        raise SourceError(f"checkout needs a full 40-character commit SHA, got {sha!r}")
    _prepare_dest(dest)
    with GitSession(url, credential, timeout=timeout, env=env) as git:
        await git.run("init", "-q", str(dest))
        await _fetch_commit(git, dest, sha)
        await git.run(
            "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", sha, cwd=dest
        )


def check_url(
    url: str, *, allow_file_urls: bool = True, credential: GitCredential | None = None
) -> None:
    """Accept https/http/ssh URLs, scp-like ``user@host:path`` and (if allowed) file://."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise SourceError("repository URL must not contain whitespace or control characters")
    if url.startswith("http://") and credential is not None and credential.token:
        # Basic auth over plain HTTP hands the token to anyone on the path.
        if urlsplit(url).hostname not in _LOOPBACK:
            raise SourceError(f"refusing to send a token over plain http to {redact_url(url)}")
    if url.startswith(_REMOTE_SCHEMES) or _SCP_LIKE.match(url):
        return
    if url.startswith("file://") and allow_file_urls:
        return
    allowed = "https://, ssh:// or user@host:path" + (" or file://" if allow_file_urls else "")
    raise SourceError(f"unsupported repository URL {redact_url(url)!r}: use {allowed}")


def _prepare_dest(dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"checkout destination {dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)


async def _fetch_commit(git: GitSession, repo: Path, sha: str) -> None:
    common = ("fetch", "-q", "--no-write-fetch-head")
    shallow = await git.run(*common, "--depth", "1", "--", git.url, sha, cwd=repo, check=False)
    if shallow.returncode != 0:
        known = git.known_failure(shallow.stderr)
        if known is not None:
            raise known
        if "not our ref" in shallow.stderr:  # the server checked: no such object
            raise SourceError(f"commit {sha} not found in {git.display_url}")
        # Servers that refuse fetching an unadvertised SHA still serve all their refs.
        await git.run(
            *common,
            "--",
            git.url,
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*",
            cwd=repo,
        )
    found = await git.run("cat-file", "-e", f"{sha}^{{commit}}", cwd=repo, check=False)
    if found.returncode != 0:
        raise SourceError(f"commit {sha} not found in {git.display_url}")


def _candidates(ref: str) -> list[str]:
    """Refs to ask for, most preferred first (git's own order for short names)."""
    if ref == "HEAD":
        return ["HEAD"]
    if ref.startswith("refs/"):
        return [f"{ref}^{{}}", ref]
    return [f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}"]


def _pick(listing: str, candidates: list[str]) -> str | None:
    # ls-remote patterns match ref name tails, so keep only exact names; "^{}" lines carry
    # the commit an annotated tag points to.
    found: dict[str, str] = {}
    for line in listing.splitlines():
        sha, _, name = line.partition("\t")
        if _SHA.match(sha):
            found[name.strip()] = sha
    return next((found[name] for name in candidates if name in found), None)
