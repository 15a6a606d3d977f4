"""Runs a step's real script as its SSH step runs it (the same `sudo env … bash -s` command
line, lib.sh and the script on stdin, secrets as `export` lines ahead of them) as root inside
a sandboxed host: its own mount, PID, network and UTS namespaces, overlays on the paths a
host's configuration lives in, and stand-ins on PATH for every tool that cannot run here or
must not touch the machine (see standins/). Each sandbox is a long-lived namespace, so a
second run finds what the first left, servers included; `clone` copies a host's state into
a new sandbox, `reboot` restarts it as a host reboots.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.remote.runner import with_secrets
from components.remote.steps import parse_result, script_text, shell_command, step

SANDBOX_DIR = Path(__file__).resolve().parent
STANDINS = SANDBOX_DIR / "standins"
CONTROL_IN_SANDBOX = "/dev/shm/deepseek-sandbox"
CREATED_ROOTS: list[Path] = []
"""Every sandbox root this process made: what its clean-up must have removed (other runs of
the harness on the same machine make their own, which are not ours to judge)."""
CREATED_PID_NAMESPACES: set[str] = set()
"""The PID namespaces of this process's sandboxes (`pid:[inode]`): no process may be left in
one once its sandbox stopped."""
# Where the sandbox's own layers cover the machine's (overlays; the machine's is the lower).
OVERLAID = ("/etc", "/var", "/opt", "/usr/local", "/root")
# The sandbox's own, empty at boot.
PRIVATE = ("/run", "/tmp")
# What the scripts keep of their runs (the logs of the steps whose output may hold a
# secret): history, like a service's restart count, not the host's configuration; left out
# of `state`, so a re-run that only wrote its log changed nothing.
HISTORY = ("/var/log/deepseek",)
# Tools that must resolve to a stand-in inside the sandbox before any script runs there.
MUST_BE_STOOD_IN = (
    "apt-get apt-mark dpkg-query systemctl systemd-run modprobe lsmod sysctl swapon swapoff "
    "mount reboot update-initramfs kubeadm kubectl containerd nvidia-smi nvidia-ctk curl "
    "cephadm ceph rados rbd radosgw-admin podman etcdctl"
).split()
# What an SSH session's shell has before sudo resets it.
SSH_SESSION_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}

_live: set[Sandbox] = set()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class Hardware:
    """What the sandboxed host has that the machine running the harness may not."""

    gpu: bool = False
    """NVIDIA GPUs: nvidia-smi answers (once the driver is loaded) from real captures."""
    nouveau: bool = False
    """The kernel loads nouveau for those GPUs at boot until the initramfs blacklists it."""
    query_csv: Path | None = None
    """`nvidia-smi --query-gpu … --format=csv` as captured on such a host."""
    topology: Path | None = None
    """`nvidia-smi topo -m` as captured on such a host."""


@dataclass(frozen=True)
class Call:
    """One call a script made to a stand-in (or a recorded real tool)."""

    tool: str
    argv: tuple[str, ...]

    @property
    def line(self) -> str:
        """The call-log line, as the stand-in writes it (the failure switch matches it)."""
        return json.dumps({"tool": self.tool, "argv": list(self.argv)}, separators=(",", ":"))

    def __str__(self) -> str:
        return " ".join([self.tool, *self.argv])[:160]


@dataclass(frozen=True)
class Failure:
    """Makes the `occurrence`-th call equal to `call` fail: at once ("early"), or after part
    of its work ("late", for the tools that can fail half-way), or so after printing what it
    knows, secrets included ("verbose": kubeadm at --v=5)."""

    call: Call
    occurrence: int = 1
    mode: str = "early"

    def __str__(self) -> str:
        return f"{self.mode} failure of call #{self.occurrence} `{self.call}`"


@dataclass(frozen=True)
class Process:
    """A process a run started (from strace): its command line and environment."""

    argv: tuple[str, ...]
    environment: tuple[str, ...]


@dataclass
class Run:
    """What one run of a step printed, called and changed."""

    step: str
    command: str
    returncode: int
    stdout: str
    stderr: str
    calls: list[Call]
    before: dict[str, str]
    after: dict[str, str]
    processes: list[Process] = field(default_factory=list)
    raw_stdout: bytes = b""
    raw_stderr: bytes = b""
    """What the run printed, byte for byte (`stdout`/`stderr` are decoded, invalid UTF-8
    replaced)."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def result(self) -> dict[str, Any]:
        """The result line as the program reads it."""
        return parse_result(self.step, self.stdout)

    def invalid_utf8(self) -> list[str]:
        """The streams that are not valid UTF-8 (which a protobuf string field refuses, so
        the provider could not return them): what Python's strict decoder rejects, as Go's
        utf8.ValidString does (surrogates, overlong forms, code points beyond U+10FFFF)."""
        streams = []
        for name, raw in (("stdout", self.raw_stdout), ("stderr", self.raw_stderr)):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                streams.append(f"{name}: {error}")
        return streams

    @property
    def host_changed(self) -> bool:
        return self.before != self.after

    def changes(self) -> list[str]:
        return describe_difference(self.before, self.after)

    def explain(self) -> str:
        return (
            f"{self.step} exited {self.returncode}\n--- stdout\n{self.stdout[-4000:]}\n"
            f"--- stderr\n{self.stderr[-4000:]}\n--- calls\n"
            + "\n".join(str(c) for c in self.calls)
            + "\n--- host changes\n"
            + "\n".join(self.changes())
        )


def describe_difference(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    lines = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            lines.append(
                f"{path}: {before.get(path, '(as the machine has it)')} -> "
                f"{after.get(path, '(as the machine has it)')}"
            )
    return lines


def _describe(path: Path) -> str | None:
    """A path's type, ownership, mode and content (a digest), without times."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    owner = f"{info.st_uid}:{info.st_gid} {stat.S_IMODE(info.st_mode):04o}"
    if stat.S_ISREG(info.st_mode):
        return f"file {owner} {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    if stat.S_ISLNK(info.st_mode):
        return f"link -> {os.readlink(path)}"
    if stat.S_ISDIR(info.st_mode):
        try:
            opaque = os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False)
        except OSError:
            opaque = b""
        return f"dir {owner}" + (" opaque" if opaque == b"y" else "")
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
        return "deleted"
    return f"special {stat.S_IFMT(info.st_mode):o} {info.st_rdev}"


def _walk(top: Path) -> Iterable[Path]:
    for directory, subdirectories, files in os.walk(top):
        base = Path(directory)
        for name in [*subdirectories, *files]:
            yield base / name


_ca_lock = threading.Lock()
_ca_dir: Path | None = None


def cluster_ca() -> Path:
    """A real self-signed cluster CA (kubeadm's: CN=kubernetes, RSA 2048, ten years), made
    once with openssl; the kubeadm stand-in installs it, so the CA-hash pipeline of the
    scripts runs on a real certificate, and every sandbox's cluster has the same CA."""
    global _ca_dir
    with _ca_lock:
        if _ca_dir is None:
            directory = Path(tempfile.mkdtemp(prefix="deepseek-sandbox-ca-"))
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                 "-subj", "/CN=kubernetes", "-keyout", str(directory / "ca.key"),
                 "-out", str(directory / "ca.crt")],
                check=True, capture_output=True,
            )  # fmt: skip
            atexit.register(shutil.rmtree, directory, True)
            _ca_dir = directory
        return _ca_dir


def ca_cert_hash(certificate: Path) -> str:
    """`sha256:<hex>` of the certificate's public key, as kubeadm pins it, computed by
    openssl on the machine (independently of the scripts)."""
    public_key = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout", "-in", str(certificate)],
        check=True,
        capture_output=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=public_key,
        check=True,
        capture_output=True,
    ).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()


def step_stdin(step_name: str, secrets: Mapping[str, str] | None) -> str:
    """What the program sends on the step's stdin: lib.sh and the script, and for a step
    with secret inputs the `export` lines `with_secrets` puts ahead of them."""
    return _step_stdin(step_name, tuple(sorted((secrets or {}).items())))


@functools.lru_cache(maxsize=64)
def _step_stdin(step_name: str, secret_items: tuple[tuple[str, str], ...]) -> str:
    secrets = dict(secret_items)
    spec = step(step_name)
    if not spec.secret_inputs:
        if secrets:
            raise ValueError(f"step {step_name} takes no secrets")
        return script_text(spec.script)
    unknown = set(secrets or {}) - set(spec.secret_inputs)
    if unknown:
        raise ValueError(f"step {step_name} takes no secret {sorted(unknown)}")
    resolved: dict[str, str] = {}

    def resolve() -> None:  # an Output resolves on an event loop of its own
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            output = with_secrets(spec.script, dict(secrets or {}))
            resolved["stdin"] = loop.run_until_complete(output.future())
        finally:
            loop.close()

    worker = threading.Thread(target=resolve)
    worker.start()
    worker.join()
    return resolved["stdin"]


class SandboxError(RuntimeError):
    pass


class Sandbox:
    """One sandboxed host; stop it (or use it as a context manager) when done."""

    def __init__(
        self, root: Path, name: str, addresses: tuple[str, ...], hardware: Hardware
    ) -> None:
        self.root = root
        CREATED_ROOTS.append(root)
        self.name = name
        self.addresses = addresses
        self.hardware = hardware
        self._unshare: subprocess.Popen[bytes] | None = None
        self.pid = 0

    # --- life ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        name: str,
        addresses: Iterable[str] = (),
        hardware: Hardware = Hardware(),
    ) -> Sandbox:
        """A freshly installed host, booted."""
        root = Path(tempfile.mkdtemp(prefix=f"deepseek-sandbox-{name}-"))
        control = root / "control"
        hardware_dir = control / "hardware"
        hardware_dir.mkdir(parents=True)
        (root / "state").mkdir()
        shutil.copytree(cluster_ca(), control / "ca")
        if hardware.gpu:
            (hardware_dir / "gpu").touch()
            if hardware.nouveau:
                (hardware_dir / "nouveau").touch()
            for source, target in (
                (hardware.query_csv, "nvidia-smi-query.csv"),
                (hardware.topology, "nvidia-smi-topo.txt"),
            ):
                if source is None:
                    raise ValueError("a GPU host needs its nvidia-smi captures")
                shutil.copy(source, hardware_dir / target)
        sandbox = cls(root, name, tuple(addresses), hardware)
        sandbox._start("seed")
        return sandbox

    def clone(self) -> Sandbox:
        """Another sandbox holding this host's state (files and /run; not its processes)."""
        root = Path(tempfile.mkdtemp(prefix=f"deepseek-sandbox-{self.name}-"))
        root.rmdir()
        subprocess.run(["cp", "-a", str(self.root), str(root)], check=True)
        for leftover in ("ready", "calls.log", "fail", "execve.log"):
            (root / "control" / leftover).unlink(missing_ok=True)
        shutil.rmtree(root / "control" / "hooks", ignore_errors=True)
        for work in (root / "state").glob("*.work"):
            shutil.rmtree(work)
        twin = Sandbox(root, self.name, self.addresses, self.hardware)
        twin._start("keep")
        return twin

    def reboot(self) -> None:
        """The host restarts: processes end, /run and /tmp are empty, the boot runs (and a
        scheduled reboot is thereby done)."""
        self._kill()
        for private in PRIVATE:
            shutil.rmtree(self.root / "state" / private.lstrip("/"), ignore_errors=True)
        self._start("boot")

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self, mode: str) -> None:
        ready = self.root / "control" / "ready"
        ready.unlink(missing_ok=True)
        log = open(self.root / "init.log", "ab")  # noqa: SIM115 the namespace outlives this call
        self._unshare = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--net", "--uts", "--fork", "--kill-child",
             "--mount-proc", "bash", str(SANDBOX_DIR / "init.sh"), str(self.root),
             str(SANDBOX_DIR), mode, self.name, *self.addresses],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()
        with _live_lock:
            _live.add(self)
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self._unshare.poll() is not None or time.monotonic() > deadline:
                log_text = (self.root / "init.log").read_text()
                self.stop()
                raise SandboxError(f"sandbox {self.name} did not start:\n{log_text}")
            time.sleep(0.02)
        children = Path(f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children")
        self.pid = int(children.read_text().split()[0])
        CREATED_PID_NAMESPACES.add(os.readlink(f"/proc/{self.pid}/ns/pid"))
        self._check_standins()

    def _check_standins(self) -> None:
        """Every dangerous tool resolves to its stand-in under sudo's PATH, or nothing runs."""
        probe = self.exec(
            "sudo", "--non-interactive", "bash", "-c",
            'for tool in "$@"; do command -v "$tool"; done', "probe", *MUST_BE_STOOD_IN,
        )  # fmt: skip
        resolved = probe.stdout.split()
        expected = [f"/usr/local/sbin/{tool}" for tool in MUST_BE_STOOD_IN]
        if resolved != expected:
            self.stop()
            raise SandboxError(f"stand-ins are not ahead on PATH in the sandbox: {resolved}")

    def _kill(self) -> None:
        if self._unshare is not None:
            if self.pid:
                members = self._namespace_members()
                try:
                    os.kill(self.pid, 9)  # PID 1 of the namespace: everything in it ends
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + 10
                while any(Path(f"/proc/{pid}").exists() for pid in members):
                    if time.monotonic() > deadline:
                        raise SandboxError(f"processes of sandbox {self.name} did not end")
                    time.sleep(0.01)
            if self._unshare.poll() is None:
                try:
                    self._unshare.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._unshare.kill()
                    self._unshare.wait()
            self._unshare = None
            self.pid = 0
        with _live_lock:
            _live.discard(self)

    # --- inside ----------------------------------------------------------------------------
    def _enter(self) -> list[str]:
        if not self.pid:
            raise SandboxError(f"sandbox {self.name} is not running")
        return ["nsenter", f"--target={self.pid}", "--mount", "--pid", "--net", "--uts",
                "--wd=/", "--"]  # fmt: skip

    def exec(self, *argv: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """A command inside the sandbox (for the tests' own looks; not a step)."""
        return subprocess.run(
            [*self._enter(), *argv], input=input, capture_output=True, text=True,
            env=SSH_SESSION_ENV, timeout=60,
        )  # fmt: skip

    def path(self, inside: str) -> Path:
        """A path as the sandbox sees it, readable from the harness."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def set_hook(self, tool: str, when: str, script: str | None) -> None:
        """A bash script the stand-in for `tool` runs with its arguments `before` its work or
        `after` it (see standins/_standin.sh), printing into the tool's output; None removes
        it. Not carried over by `clone`."""
        if when not in ("before", "after"):
            raise ValueError(when)
        hook = self.root / "control" / "hooks" / f"{tool}.{when}"
        if script is None:
            hook.unlink(missing_ok=True)
            return
        hook.parent.mkdir(exist_ok=True)
        hook.write_text(script)

    def set_cluster(self, **fields: str) -> None:
        """The cluster that `kubeadm join` reaches from this host (endpoint, token,
        caCertHash, certificateKey)."""
        text = "".join(f"{key}={value}\n" for key, value in fields.items())
        (self.root / "control" / "cluster").write_text(text)

    def state(self) -> dict[str, str]:
        """Everything in which this host differs from the machine it is laid over: each
        path the sandbox's layers hold (whatever the machine has there being the lower
        layer), and all of /run and /tmp. Times are left out: content, type, mode, owner."""
        entries: dict[str, str] = {}
        state = self.root / "state"
        for target in OVERLAID:
            upper = state / (target.lstrip("/").replace("/", "-") + ".upper")
            for path in _walk(upper):
                inside = target + "/" + str(path.relative_to(upper))
                if any(inside == h or inside.startswith(h + "/") for h in HISTORY):
                    continue
                mine = _describe(path)
                if mine is not None and mine != _describe(Path(inside)):
                    entries[inside] = mine
        for private in PRIVATE:
            top = state / private.lstrip("/")
            for path in _walk(top):
                mine = _describe(path)
                if mine is not None:
                    entries[private + "/" + str(path.relative_to(top))] = mine
        for command in self.processes():
            entries[f"process: {command}"] = "running"
        return entries

    def _namespace_members(self) -> list[str]:
        """The machine's PIDs of the processes in this sandbox's PID namespace."""
        try:
            namespace = os.readlink(f"/proc/{self.pid}/ns/pid")
        except OSError:
            return []
        members = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if os.readlink(f"/proc/{entry.name}/ns/pid") == namespace:
                        members.append(entry.name)
                except OSError:
                    continue
        return members

    def processes(self) -> list[str]:
        """Command lines of what runs on the host (servers a script left), but its init."""
        if not self.pid:
            return []
        namespace = os.readlink(f"/proc/{self.pid}/ns/pid")
        commands = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == self.pid:
                continue
            try:
                if os.readlink(f"/proc/{entry.name}/ns/pid") != namespace:
                    continue
                command = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except OSError:
                continue  # ended meanwhile
            text = command.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
            if text and text != "sleep 3600":
                commands.append(text)
        return sorted(commands)

    def run(
        self,
        step_name: str,
        environment: Mapping[str, str],
        secrets: Mapping[str, str] | None = None,
        fail: Failure | None = None,
        trace: bool = False,
        timeout: float = 300,
        tuning: Mapping[str, str] | None = None,
    ) -> Run:
        """The step's script, run exactly as its SSH step runs it. `tuning`: settings the
        script has defaults for and the program never sets (IPERF_ATTEMPTS,
        API_READY_SECONDS), to keep a test short; they join the command line."""
        spec = step(step_name)
        unknown = sorted(set(environment) - set(spec.inputs))
        if unknown:
            raise ValueError(f"step {step_name} does not read {unknown}")
        environment = {**environment, **(tuning or {})}
        control = self.root / "control"
        (control / "calls.log").write_text("")
        switch = control / "fail"
        switch.unlink(missing_ok=True)
        if fail is not None:
            switch.write_text(f"{fail.call.line}\n{fail.occurrence}\n{fail.mode}\n")
        command = shell_command(dict(environment))
        stdin = step_stdin(step_name, secrets)
        argv = [*self._enter()]
        trace_log = control / "execve.log"
        if trace:
            trace_log.unlink(missing_ok=True)
            argv += ["strace", "-f", "-qq", "-v", "-s", "1000000", "-e", "trace=execve",
                     "-o", f"{CONTROL_IN_SANDBOX}/execve.log"]  # fmt: skip
        argv += ["/bin/sh", "-c", command]
        before = self.state()
        completed = subprocess.run(
            argv, input=stdin.encode(), capture_output=True, env=SSH_SESSION_ENV,
            timeout=timeout,
        )  # fmt: skip
        after = self.state()
        switch.unlink(missing_ok=True)
        calls = [
            Call(entry["tool"], tuple(entry["argv"]))
            for entry in (
                json.loads(line, strict=False)
                for line in (control / "calls.log").read_text().splitlines()
                if line.strip()
            )
        ]
        processes = _parse_execve(trace_log.read_text()) if trace else []
        return Run(
            step_name, command, completed.returncode,
            completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"),
            calls, before, after, processes, completed.stdout, completed.stderr,
        )  # fmt: skip


def _parse_execve(log: str) -> list[Process]:
    """Command lines and environments of the execve calls strace recorded."""
    processes = []
    for line in log.splitlines():
        start = line.find("execve(")
        if start < 0:
            continue
        text = line[start + len("execve(") :]
        # execve("path", [argv...], [env...]) = 0 -- the strings are C-escaped.
        try:
            _, rest = _c_string(text)
            argv, rest = _c_list(rest.lstrip(", "))
            environment, _ = _c_list(rest.lstrip(", "))
        except ValueError:
            continue
        processes.append(Process(tuple(argv), tuple(environment)))
    return processes


def _c_string(text: str) -> tuple[str, str]:
    if not text.startswith('"'):
        raise ValueError(text[:40])
    index, chars = 1, bytearray()
    while index < len(text):
        char = text[index]
        if char == "\\":
            following = text[index + 1]
            simple = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, '"': 34, "\\": 92}
            if following in simple:
                chars.append(simple[following])
                index += 2
            elif following == "x":
                chars.append(int(text[index + 2 : index + 4], 16))
                index += 4
            else:
                digits = ""
                while len(digits) < 3 and text[index + 1 + len(digits)].isdigit():
                    digits += text[index + 1 + len(digits)]
                chars.append(int(digits, 8))
                index += 1 + len(digits)
            continue
        if char == '"':
            rest = text[index + 1 :]
            if rest.startswith("..."):
                rest = rest[3:]
            return chars.decode("utf-8", "replace"), rest
        chars.extend(char.encode())
        index += 1
    raise ValueError("unterminated string")


def _c_list(text: str) -> tuple[list[str], str]:
    if text.startswith("0x"):  # a pointer strace could not read
        return [], text.split(",", 1)[-1]
    if not text.startswith("["):
        raise ValueError(text[:40])
    items, rest = [], text[1:]
    while True:
        rest = rest.lstrip(", ")
        if rest.startswith("]"):
            return items, rest[1:]
        if rest.startswith("..."):
            rest = rest[3:]
            continue
        item, rest = _c_string(rest)
        items.append(item)


@atexit.register
def _stop_all() -> None:
    with _live_lock:
        running = list(_live)
    for sandbox in running:
        sandbox.stop()
