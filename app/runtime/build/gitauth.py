"""Hand a credential to git without putting it in argv, the environment or a stored URL.

The token is written to a 0600 file in the operation's throwaway HOME and read back by a
GIT_ASKPASS script; an SSH key becomes a 0600 file named in GIT_SSH_COMMAND.
"""

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


@dataclass(frozen=True)
class GitCredential:
    """A token for HTTPS (sent as the password of ``username``) and/or an SSH private key.

    Without ``ssh_known_hosts`` an SSH host key is accepted on first use, and every
    operation starts with an empty known_hosts: pass the provider's keys to pin them.
    """

    token: str | None = field(default=None, repr=False)
    username: str = "x-access-token"
    ssh_private_key: str | None = field(default=None, repr=False)
    ssh_known_hosts: str | None = None

    def secrets(self) -> list[str]:
        """Strings that must never appear in a message."""
        found = [self.token] if self.token else []
        if self.ssh_private_key:
            found += [line for line in self.ssh_private_key.splitlines() if len(line) > 8]
        return found


def redact_url(url: str) -> str:
    """Drop ``user:password@`` from URLs so they can go into messages and logs."""
    return _USERINFO.sub(r"\g<scheme>***@", url)


def write_askpass(home: Path, cred: GitCredential) -> str:
    """Path of a GIT_ASKPASS script answering git's username and password prompts."""
    assert cred.token is not None
    _write_private(home / "username", cred.username)
    _write_private(home / "password", cred.token)
    script = home / "askpass.sh"
    username, password = shlex.quote(str(home / "username")), shlex.quote(str(home / "password"))
    script.write_text(
        f'#!/bin/sh\ncase "$1" in\n  Username*) cat {username} ;;\n  *) cat {password} ;;\nesac\n'
    )
    script.chmod(0o700)
    return str(script)


def ssh_command(home: Path, cred: GitCredential | None) -> str:
    """GIT_SSH_COMMAND: no user ssh config, never prompt, known_hosts inside ``home``."""
    known_hosts = home / "known_hosts"
    checking = "accept-new"
    if cred is not None and cred.ssh_known_hosts:
        known_hosts.write_text(cred.ssh_known_hosts)
        checking = "yes"
    options = ["-F", "/dev/null", "-o", "BatchMode=yes"]
    options += [
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        f"StrictHostKeyChecking={checking}",
    ]
    if cred is not None and cred.ssh_private_key:
        key = home / "id_key"
        _write_private(key, cred.ssh_private_key.rstrip("\n") + "\n")
        options += ["-o", "IdentitiesOnly=yes", "-i", str(key)]
    return shlex.join(["ssh", *options])


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
