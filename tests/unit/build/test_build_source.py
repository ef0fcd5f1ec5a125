import os
import subprocess
from pathlib import Path

import pytest

from app.runtime.build import GitCredential, SourceError, checkout, resolve_ref
from app.runtime.build.gitauth import ssh_command
from app.runtime.build.gitcli import GitSession
from app.runtime.build.source import check_url
from tests.support.git_repos import GitHttpServer, blackhole_url, create_repo, git

TOKEN = "tok-3f9a1c7e5b"  # distinctive, so a leak anywhere is easy to find


@pytest.fixture
def repo(tmp_path: Path):
    repo = create_repo(tmp_path, {"app.txt": "one\n"})
    repo.commit({"app.txt": "two\n"})
    return repo


async def test_resolves_branch_tag_annotated_tag_and_sha(repo) -> None:
    first = repo.commits[0]
    repo.tag("v1", first)
    repo.tag("v1-annotated", first, annotated=True)
    repo.branch("release", first)

    assert await resolve_ref(repo.url, "main", timeout=10) == repo.sha
    assert await resolve_ref(repo.url, "refs/heads/main", timeout=10) == repo.sha
    assert await resolve_ref(repo.url, "HEAD", timeout=10) == repo.sha
    assert await resolve_ref(repo.url, "release", timeout=10) == first
    assert await resolve_ref(repo.url, "v1", timeout=10) == first
    # The commit an annotated tag points to, not the tag object.
    assert await resolve_ref(repo.url, "v1-annotated", timeout=10) == first
    assert await resolve_ref(repo.url, first.upper(), timeout=10) == first


async def test_checkout_gets_the_exact_commit_not_the_branch_head(repo, tmp_path: Path) -> None:
    dest = tmp_path / "src"
    await checkout(repo.url, repo.commits[0], dest, timeout=10)

    assert (dest / "app.txt").read_text() == "one\n"
    assert git("rev-parse", "HEAD", cwd=dest) == repo.commits[0]
    assert "url" not in (dest / ".git" / "config").read_text()


async def test_checkout_falls_back_when_server_refuses_fetch_by_sha(repo, tmp_path: Path) -> None:
    # Protocol v0 servers refuse to send a commit that is not a ref tip.
    v0 = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "protocol.version",
        "GIT_CONFIG_VALUE_0": "0",
    }
    await checkout(repo.url, repo.commits[0], tmp_path / "src", timeout=10, env=v0)
    assert (tmp_path / "src" / "app.txt").read_text() == "one\n"

    with pytest.raises(SourceError, match=r"commit 0{40} not found"):
        await checkout(repo.url, "0" * 40, tmp_path / "other", timeout=10, env=v0)


async def test_unknown_refs_and_commits(repo, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"ref 'nope' not found in file://"):
        await resolve_ref(repo.url, "nope", timeout=10)
    with pytest.raises(SourceError, match="abbreviated SHAs are not supported"):
        await resolve_ref(repo.url, repo.sha[:7], timeout=10)
    with pytest.raises(SourceError, match=r"commit 1{40} not found"):
        await resolve_ref(repo.url, "1" * 40, timeout=10)
    with pytest.raises(SourceError, match=r"commit 1{40} not found"):
        await checkout(repo.url, "1" * 40, tmp_path / "src", timeout=10)
    with pytest.raises(SourceError, match="invalid ref"):
        await resolve_ref(repo.url, "--upload-pack=evil", timeout=10)


async def test_missing_repository_and_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found or not accessible"):
        await resolve_ref(f"file://{tmp_path}/missing.git", "main", timeout=10)
    for url in ("ext::sh -c touch% /tmp/x", "-uexploit", "/plain/path", "ftp://host/repo"):
        with pytest.raises(SourceError, match=r"unsupported repository URL|whitespace"):
            await resolve_ref(url, "main", timeout=10)
    with pytest.raises(SourceError, match="unsupported"):
        check_url("file:///srv/repo.git", allow_file_urls=False)
    with pytest.raises(SourceError, match="refusing to send a token over plain http"):
        check_url("http://git.example.com/r.git", credential=GitCredential(token=TOKEN))
    check_url("git@github.com:org/repo.git")
    check_url("ssh://git@host:2222/org/repo.git")


async def test_timeout_is_a_source_error() -> None:
    with blackhole_url() as url:
        with pytest.raises(SourceError, match=r"timed out after 0.5s"):
            await resolve_ref(url, "main", timeout=0.5)


async def test_credential_is_used_and_never_leaks(repo, tmp_path: Path) -> None:
    leaks: list[str] = []
    # Runs while git waits for each response: any process showing the token is a leak.
    server = GitHttpServer(
        tmp_path,
        username="x-access-token",
        password=TOKEN,
        on_request=lambda: leaks.extend(_processes_showing(TOKEN)),
    )
    with server:
        url = server.url("repo.git")
        cred = GitCredential(token=TOKEN)
        assert await resolve_ref(url, "main", timeout=10, credential=cred) == repo.sha
        dest = tmp_path / "src"
        await checkout(url, repo.commits[0], dest, timeout=10, credential=cred)

        assert (dest / "app.txt").read_text() == "one\n"
        assert server.requests > 0 and leaks == []
        assert not _tree_contains(dest / ".git", TOKEN)


async def test_auth_errors_do_not_contain_the_credential(repo, tmp_path: Path) -> None:
    with GitHttpServer(tmp_path, username="x-access-token", password="right") as server:
        url = server.url("repo.git").replace("http://", f"http://user:{TOKEN}@")
        for cred in (GitCredential(token=TOKEN), None):
            with pytest.raises(SourceError, match="authentication failed") as info:
                await resolve_ref(url, "main", timeout=10, credential=cred)
            assert TOKEN not in str(info.value) and TOKEN not in repr(cred)
        with pytest.raises(SourceError, match="not found or not accessible"):
            await resolve_ref(
                server.url("missing.git"),
                "main",
                timeout=10,
                credential=GitCredential(token="right"),
            )


def test_git_command_line_and_environment_never_hold_the_token() -> None:
    cred = GitCredential(token=TOKEN, ssh_private_key="-----KEY-----\nsecretkeymaterial\n")
    with GitSession("https://example.com/org/repo.git", cred, timeout=5) as session:
        argv = session.argv("ls-remote", "--", session.url, "HEAD")
        env = session.env
        assert not any(TOKEN in arg for arg in argv)
        assert not any(TOKEN in value or "secretkeymaterial" in value for value in env.values())
        assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_CONFIG_NOSYSTEM"] == "1"
        assert env["HOME"] == str(session.home) and "DATABASE_URL" not in env
        assert session.redact(f"oops {TOKEN} secretkeymaterial") == "oops *** ***"
        home = session.home
    assert not home.exists()


def _processes_showing(secret: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        for part in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{pid}/{part}").read_bytes()
            except OSError:
                continue
            if secret.encode() in data:
                found.append(f"{pid}/{part}")
    return found


def _tree_contains(root: Path, secret: str) -> bool:
    return any(path.is_file() and secret.encode() in path.read_bytes() for path in root.rglob("*"))


def test_the_leak_probe_would_see_a_token_in_a_process() -> None:
    with subprocess.Popen(["sleep", "5"], env={"X": TOKEN}) as proc:
        try:
            assert _processes_showing(TOKEN) == [f"{proc.pid}/environ"]
        finally:
            proc.kill()


def test_ssh_key_goes_to_a_private_file_and_known_hosts_pin_the_host(tmp_path: Path) -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nkeymaterial123456\n-----END-----"
    cred = GitCredential(ssh_private_key=key, ssh_known_hosts="github.com ssh-ed25519 AAAA\n")
    command = ssh_command(tmp_path, cred)
    assert "keymaterial" not in command and "BatchMode=yes" in command
    assert "StrictHostKeyChecking=yes" in command and "IdentitiesOnly=yes" in command
    assert (tmp_path / "id_key").stat().st_mode & 0o777 == 0o600
    assert "keymaterial123456" in (tmp_path / "id_key").read_text()
    assert "StrictHostKeyChecking=accept-new" in ssh_command(tmp_path / "x", None)
