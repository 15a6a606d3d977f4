"""How a remote step is run: a script file from `scripts/` on the shell's stdin, its inputs
as environment variables, re-run when the script or an input changes. Pure functions."""

import functools
import hashlib
import shlex
from collections.abc import Mapping
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
LIB = SCRIPTS_DIR / "lib.sh"

# A script that uses the shared functions says so in its header; it gets lib.sh first.
_USES_LIB = "Runs after lib.sh"


def metal_script(step: str) -> Path:
    return SCRIPTS_DIR / f"{step}.sh"


@functools.cache
def script_text(script: Path) -> str:
    """What a step sends on stdin: the script, with lib.sh ahead of it if it uses it."""
    body = script.read_text()
    if _USES_LIB in body:
        return LIB.read_text() + "\n" + body
    return body


def script_digest(script: Path) -> str:
    return hashlib.sha256(script_text(script).encode()).hexdigest()


def shell_command(environment: Mapping[str, str]) -> str:
    """The command line that runs the script arriving on stdin as root.

    The inputs are set on the command line rather than through the SSH session's
    environment, which sshd drops unless its AcceptEnv lists every variable.
    """
    assignments = [f"{key}={shlex.quote(str(value))}" for key, value in sorted(environment.items())]
    return " ".join(["sudo --non-interactive env", *assignments, "bash -s"])


def parse_shell_command(command: str) -> dict[str, str]:
    """The environment a `shell_command` line sets (the inverse, for mocks and tests)."""
    words = shlex.split(command)
    start = words.index("env") + 1
    environment = {}
    for word in words[start:]:
        if "=" not in word:
            break
        key, value = word.split("=", 1)
        environment[key] = value
    return environment


def peer_ring(names: list[str]) -> dict[str, str]:
    """Each host's iperf3 peer: the next host of its site, the last one wrapping round, so
    every host is measured once as client and once as server. A lone host has no peer."""
    if len(names) < 2:
        return {}
    return {name: names[(i + 1) % len(names)] for i, name in enumerate(names)}
