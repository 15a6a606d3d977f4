"""A real Ceph cluster on loopback, from Debian's packages, for the data layer's tests.

`start()` boots, in a fresh directory of its own, one monitor, one manager, three OSDs on
memstore, each under a CRUSH host bucket of its own (host0..host2 under root=default), and
radosgw (beast) answering S3 on a free loopback port (`start(device_classes=("nvme", "hdd"))`:
one OSD of each class under each host, six in all, their CRUSH device classes set before they
start, as cephadm's `crush_device_class` sets them); it returns once every placement group
is active+clean and radosgw answers, and `CephCluster.stop()` kills every process it started.
The steps of the data layer run the real `ceph` and `radosgw-admin` against it with
`CEPH_CONF` in their environment (`CephCluster.env`).

Choices, and why:

- cephx, not `auth * required = none`: the client key the ceph-csi step creates, with its
  caps, is only worth testing if the cluster checks keys and caps. All keys are generated up
  front into one keyring the monitor's mkfs imports (no `ceph auth add` round trip at boot);
  every daemon and the CLI read it (`keyring` in [global]).
- The directory is under /dev/shm (tmpfs), not the repo or /tmp: the monitor's store syncs
  on every commit (free on tmpfs), the monitor warns when its disk has less than 30% free
  (the project's disk often has less), memstore keeps the OSDs' data in memory anyway, and
  /tmp is the host-script sandbox's own.
- Only msgr2 (`[v2:127.0.0.1:port]`): the monitor's port is picked free by the test.
- 8 placement groups per pool by default and the autoscaler off: radosgw creates its own
  pools at start, and 32 each at size 3 crosses `mon_max_pg_per_osd` with three OSDs; fewer
  PGs also peer sooner. `paxos_propose_interval` and the manager's report periods are
  shortened so that a change shows in `ceph -s` within a second, not five.
- The OSDs are placed by the CLI (`osd crush add-bucket`/`move`/`add`) with
  `osd_crush_update_on_start = false`, so that they stay where the test put them and do not
  move under this machine's hostname when they start.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGES = ("ceph-mon", "ceph-mgr", "ceph-osd", "radosgw", "ceph-common", "curl")
BINARIES = (
    "setpriv",  # util-linux: every Debian has it
    "monmaptool",
    "ceph-mon",
    "ceph-mgr",
    "ceph-osd",
    "radosgw",
    "ceph",
    "radosgw-admin",
    "curl",
)
INSTALL_HINT = (
    "install them as root with `bash tools/system-packages.sh` (what `make tools` runs), or "
    f"`apt-get install --no-install-recommends {' '.join(PACKAGES)}`"
)
HOSTS = 3
OSD_COUNT = 3
"""OSDs of a cluster started without device classes: one per host."""
MEMSTORE_BYTES = 512 * 1024 * 1024
BOOT_TIMEOUT = 120.0
PARENT_DIR = Path("/dev/shm")
MON_ID = "a"
MGR_ID = "x"
RGW_NAME = "client.rgw.a"

_live: set[CephCluster] = set()
_live_lock = threading.Lock()


class CephBootError(RuntimeError):
    """The cluster did not come up; the message carries the tail of the relevant logs."""

    cluster: CephCluster | None = None
    """The cluster that failed to boot, already stopped (its processes, to check they ended)."""


def missing_binaries() -> list[str]:
    """The Ceph tools this module needs that are not on PATH."""
    return [name for name in BINARIES if shutil.which(name) is None]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cephx_key() -> str:
    """A new cephx secret as ceph-authtool --gen-print-key prints it: type 1 (AES), the
    creation time (seconds, nanoseconds), the length and 16 random bytes, base64."""
    now = time.time()
    header = struct.pack("<HIIH", 1, int(now), int(now % 1 * 1e9), 16)
    return base64.b64encode(header + os.urandom(16)).decode()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"({path.name}: {error.strerror})"
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(kept) if kept else f"({path.name} is empty)"


@dataclass(eq=False)
class CephCluster:
    """A running cluster: `env` (CEPH_CONF) reaches it with the real CLIs."""

    root: Path
    fsid: str
    mon_port: int
    rgw_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    boot_timeout: float = BOOT_TIMEOUT
    boot_seconds: float = 0.0
    stopped: bool = False
    device_classes: tuple[str, ...] = ()
    """The classes of each host's OSDs (one OSD each), in order; empty: one OSD per host, of
    the class Ceph detects (memstore: hdd)."""

    @property
    def osd_count(self) -> int:
        return HOSTS * max(len(self.device_classes), 1)

    def osd_class(self, n: int) -> str | None:
        """The device class osd.n was given (None: Ceph's own)."""
        return self.device_classes[n % len(self.device_classes)] if self.device_classes else None

    def osd_host(self, n: int) -> str:
        return f"host{n // max(len(self.device_classes), 1)}"

    @property
    def conf(self) -> Path:
        return self.root / "ceph.conf"

    @property
    def keyring(self) -> Path:
        return self.root / "keyring"

    @property
    def mon_addr(self) -> str:
        return f"[v2:127.0.0.1:{self.mon_port}]"

    @property
    def rgw_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.rgw_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment in which `ceph`, `rados`, `rbd` and `radosgw-admin` reach this
        cluster as client.admin, with no argument of their own."""
        return {**os.environ, "CEPH_CONF": str(self.conf)}

    def log_path(self, name: str) -> Path:
        """The log a daemon (`mon.a`, `mgr.x`, `osd.0`, `client.rgw.a`) writes."""
        return self.root / "log" / f"{name}.log"

    def run(
        self,
        argv: str | Sequence[str],
        *,
        check: bool = True,
        timeout: float = 60,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Runs a command (a list, or a string split as the shell would) with the cluster's
        environment (plus `env`); text in and out. With `check`, a non-zero exit raises,
        quoting the command's output."""
        if isinstance(argv, str):
            argv = shlex.split(argv)
        result = subprocess.run(
            list(argv),
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"`{' '.join(argv)}` exited {result.returncode}\n"
                f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
            )
        return result

    def ceph(self, *args: str, timeout: float = 60) -> Any:
        """`ceph ARGS --format json`, decoded."""
        result = self.run(["ceph", *args, "--format", "json"], timeout=timeout)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def status(self) -> dict[str, Any]:
        return self.ceph("status", "--connect-timeout", "5", timeout=20)

    def wait_active_clean(self, timeout: float = 60) -> dict[str, Any]:
        """Waits until every placement group is active+clean (as the manager reports it to
        the monitor); returns the last `ceph status`. Raises with the PG states otherwise."""
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while True:
            status = self.status()
            if _all_active_clean(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"placement groups not active+clean within {timeout:.0f} s: "
                    f"{status.get('pgmap', {}).get('pgs_by_state')}; "
                    f"health {json.dumps(status.get('health', {}).get('checks', {}))[:1500]}"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        """Kills every process this cluster started (each in a session of its own) and
        removes its directory (kept when DEEPSEEK_KEEP_CEPH is set, to read the logs)."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self.stopped = True
        with _live_lock:
            _live.discard(self)
        if not os.environ.get("DEEPSEEK_KEEP_CEPH"):
            shutil.rmtree(self.root, ignore_errors=True)

    # --- boot -----------------------------------------------------------------------------

    def _spawn(self, name: str, argv: Sequence[str]) -> subprocess.Popen:
        """Starts a process in a session of its own (so stop() kills it and its children),
        its stdout and stderr in log/<name>.out beside the log the daemon writes itself.
        `setpriv --pdeathsig KILL` makes the kernel kill it when the thread that started it
        ends, so a test process killed outright (no teardown, no atexit) leaves no daemon."""
        out = (self.root / "log" / f"{name}.out").open("wb")
        try:
            process = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", "--", *argv],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            out.close()
        self.processes[name] = process
        return process

    def _logs(self, *names: str) -> str:
        parts = []
        for name in names:
            for path in (self.root / "log" / f"{name}.out", self.log_path(name)):
                if path.exists() and path.stat().st_size:
                    parts.append(f"--- {path} (last lines) ---\n{_tail(path)}")
        return "\n".join(parts) or "(no log written)"

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None and not name.endswith("-mkfs"):
                raise CephBootError(
                    f"{name} exited with status {process.returncode} during boot\n"
                    + self._logs(name.removesuffix("-mkfs"))
                )

    def _step(self, name: str, argv: Sequence[str], deadline: float) -> str:
        """Runs one boot command to its end within the boot's deadline; its failure raises
        with its output and the logs of the daemon it concerns."""
        remaining = max(deadline - time.monotonic(), 1)
        try:
            result = subprocess.run(
                list(argv),
                env=self.env,
                capture_output=True,
                text=True,
                timeout=remaining,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CephBootError(
                f"`{' '.join(argv)}` did not finish within the boot timeout "
                f"({self.boot_timeout:.0f} s)\n" + self._logs(name)
            ) from None
        if result.returncode != 0:
            raise CephBootError(
                f"`{' '.join(argv)}` exited {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-1500:]}\n" + self._logs(name)
            )
        return result.stdout

    def _write_config(self) -> None:
        root = self.root
        for sub in ("log", "run", "mon", "mgr", "osd", "rgw"):
            (root / sub).mkdir()
        self.conf.write_text(
            f"""[global]
fsid = {self.fsid}
mon host = {self.mon_addr}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = {root}/keyring
run dir = {root}/run
log file = {root}/log/$name.log
pid file = {root}/run/$name.pid
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool delete = true
mgr initial modules = iostat
mgr stats period = 1
mgr tick period = 1
paxos propose interval = 0.1

[mon]
mon data = {root}/mon/$name

[mgr]
mgr data = {root}/mgr/$name

[osd]
osd objectstore = memstore
memstore device bytes = {MEMSTORE_BYTES}
osd data = {root}/osd/$name
osd crush update on start = false
osd op num shards = 2
osd op num threads per shard = 1

[{RGW_NAME}]
rgw frontends = beast endpoint=127.0.0.1:{self.rgw_port}
rgw data = {root}/rgw/$name
"""
        )
        osd_caps = {"mon": "allow profile osd", "mgr": "allow profile osd", "osd": "allow *"}
        entities: dict[str, dict[str, str]] = {
            "mon.": {"mon": "allow *"},
            "client.admin": {
                "mon": "allow *",
                "osd": "allow *",
                "mds": "allow *",
                "mgr": "allow *",
            },
            f"mgr.{MGR_ID}": {"mon": "allow profile mgr", "osd": "allow *", "mds": "allow *"},
            **{f"osd.{n}": osd_caps for n in range(self.osd_count)},
            RGW_NAME: {"mon": "allow rw", "osd": "allow rwx", "mgr": "allow rw"},
        }
        lines = []
        for entity, caps in entities.items():
            lines += [f"[{entity}]", f"\tkey = {_cephx_key()}"]
            lines += [f'\tcaps {kind} = "{cap}"' for kind, cap in caps.items()]
        self.keyring.write_text("\n".join(lines) + "\n")
        self.keyring.chmod(0o600)

    def _boot(self, timeout: float) -> None:
        started = time.monotonic()
        deadline = started + timeout
        root = self.root
        self._write_config()
        monmap = root / "monmap"
        mon = f"mon.{MON_ID}"
        create = ["--create", "--fsid", self.fsid, "--addv", MON_ID, self.mon_addr]
        self._step(mon, ["monmaptool", *create, str(monmap)], deadline)
        mkfs = ["--mkfs", "-i", MON_ID, "--monmap", str(monmap), "--keyring", str(self.keyring)]
        self._step(mon, ["ceph-mon", *mkfs], deadline)
        self._spawn(f"mon.{MON_ID}", ["ceph-mon", "-f", "-i", MON_ID])
        self._spawn(f"mgr.{MGR_ID}", ["ceph-mgr", "-f", "-i", MGR_ID])
        self._spawn(RGW_NAME, ["radosgw", "-f", "-n", RGW_NAME])
        uuids = [str(uuid.uuid4()) for _ in range(self.osd_count)]
        for n, osd_uuid in enumerate(uuids):
            (root / "osd" / f"osd.{n}").mkdir()
            self._spawn(
                f"osd.{n}-mkfs", ["ceph-osd", "-i", str(n), "--mkfs", "--osd-uuid", osd_uuid]
            )

        def place(h: int) -> None:
            # Each host's OSDs under a host bucket of their own: the failure domain the
            # layer's pools use; each of its class, set before it starts (an OSD sets its
            # class at start only when it has none).
            connect = ["--connect-timeout", str(max(int(deadline - time.monotonic()), 1))]
            name = f"mon.{MON_ID}"
            host = f"host{h}"
            self._step(name, ["ceph", "osd", "crush", "add-bucket", host, "host"], deadline)
            self._step(name, ["ceph", "osd", "crush", "move", host, "root=default"], deadline)
            for n in range(self.osd_count):
                if self.osd_host(n) != host:
                    continue
                self._step(name, ["ceph", *connect, "osd", "new", uuids[n], str(n)], deadline)
                self._step(
                    name,
                    ["ceph", "osd", "crush", "add", f"osd.{n}", "1.0", f"host={host}"],
                    deadline,
                )
                device_class = self.osd_class(n)
                if device_class:
                    self._step(
                        name,
                        ["ceph", "osd", "crush", "set-device-class", device_class, f"osd.{n}"],
                        deadline,
                    )

        with ThreadPoolExecutor(HOSTS) as pool:
            for placed in [pool.submit(place, h) for h in range(HOSTS)]:
                placed.result()
        for n in range(self.osd_count):
            mkfs = self.processes[f"osd.{n}-mkfs"]
            try:
                code = mkfs.wait(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                raise CephBootError(
                    f"ceph-osd --mkfs of osd.{n} did not finish within the boot timeout "
                    f"({timeout:.0f} s)\n" + self._logs(f"osd.{n}-mkfs", f"osd.{n}")
                ) from None
            if code != 0:
                raise CephBootError(
                    f"ceph-osd --mkfs of osd.{n} exited {code}\n"
                    + self._logs(f"osd.{n}-mkfs", f"osd.{n}")
                )
            self._spawn(f"osd.{n}", ["ceph-osd", "-f", "-i", str(n)])
        self._wait_ready(deadline, timeout)
        self.boot_seconds = time.monotonic() - started

    def _wait_ready(self, deadline: float, timeout: float) -> None:
        waiting_for = "the monitor"
        status: dict[str, Any] = {}
        while True:
            self._check_alive()
            try:
                status = json.loads(
                    self._step(
                        f"mon.{MON_ID}",
                        ["ceph", "status", "--format", "json", "--connect-timeout", "5"],
                        deadline,
                    )
                )
            except CephBootError:
                if time.monotonic() > deadline:
                    raise
                status = {}
            osdmap = status.get("osdmap", {})
            if not status:
                waiting_for = "the monitor"
            elif not status.get("mgrmap", {}).get("available"):
                waiting_for = f"mgr.{MGR_ID}"
            elif (
                osdmap.get("num_up_osds") != self.osd_count
                or osdmap.get("num_in_osds") != self.osd_count
            ):
                waiting_for = "osd." + ",".join(str(n) for n in range(self.osd_count))
            elif not _all_active_clean(status):
                waiting_for = "placement groups"
            elif not self._rgw_answers():
                waiting_for = RGW_NAME
            else:
                return
            if time.monotonic() > deadline:
                names = {
                    "the monitor": [f"mon.{MON_ID}"],
                    "placement groups": [f"osd.{n}" for n in range(self.osd_count)],
                    "osd." + ",".join(str(n) for n in range(self.osd_count)): [
                        f"osd.{n}" for n in range(self.osd_count)
                    ],
                }.get(waiting_for, [waiting_for])
                raise CephBootError(
                    f"the cluster was not ready within the boot timeout ({timeout:.0f} s): "
                    f"waiting for {waiting_for}"
                    f" (osdmap {osdmap}, pgs {status.get('pgmap', {}).get('pgs_by_state')})\n"
                    + self._logs(*names)
                )
            time.sleep(0.25)

    def restart_rgw(self, timeout: float = 60) -> None:
        """Stops radosgw and starts it again (as `ceph orch restart rgw.<id>` does in
        production: RGW reads its zone's placement targets at start); returns once it answers
        S3 again."""
        process = self.processes[RGW_NAME]
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._spawn(RGW_NAME, ["radosgw", "-f", "-n", RGW_NAME])
        deadline = time.monotonic() + timeout
        while not self._rgw_answers():
            if self.processes[RGW_NAME].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"radosgw did not answer again\n{self._logs(RGW_NAME)}")
            time.sleep(0.25)

    def _rgw_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.rgw_endpoint + "/", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False


def _all_active_clean(status: Mapping[str, Any]) -> bool:
    pgmap = status.get("pgmap", {})
    total = pgmap.get("num_pgs", 0)
    clean = sum(
        s.get("count", 0)
        for s in pgmap.get("pgs_by_state", [])
        if s.get("state_name") == "active+clean"
    )
    return total > 0 and clean == total


def _remove_orphans(parent: Path) -> None:
    """Removes the directories of clusters whose test process was killed outright (its
    daemons died with it, see _spawn; the directory stayed): tmpfs holds them in memory."""
    for root in parent.glob("deepseek-ceph-*"):
        try:
            owner = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{owner}").exists():
            shutil.rmtree(root, ignore_errors=True)


def start(
    parent: Path = PARENT_DIR,
    timeout: float = BOOT_TIMEOUT,
    device_classes: Sequence[str] = (),
) -> CephCluster:
    """Boots a cluster in a new directory under `parent` (with `device_classes`, one OSD of
    each under each host); on any failure every process it started is killed and
    CephBootError (or the error) says why, with the logs' tails."""
    missing = missing_binaries()
    if missing:
        raise CephBootError(
            f"the real Ceph these tests run is not installed (missing {', '.join(missing)}): "
            + INSTALL_HINT
        )
    _remove_orphans(parent)
    root = Path(tempfile.mkdtemp(prefix="deepseek-ceph-", dir=parent))
    (root / "owner.pid").write_text(f"{os.getpid()}\n")
    cluster = CephCluster(
        root=root,
        fsid=str(uuid.uuid4()),
        mon_port=0,
        rgw_port=0,
        boot_timeout=timeout,
        device_classes=tuple(device_classes),
    )
    cluster.mon_port = _free_port()
    cluster.rgw_port = _free_port()
    while cluster.rgw_port == cluster.mon_port:
        cluster.rgw_port = _free_port()
    with _live_lock:
        _live.add(cluster)
    try:
        cluster._boot(timeout)
    except BaseException as error:
        cluster.stop()
        if isinstance(error, CephBootError):
            error.cluster = cluster
        raise
    return cluster


@atexit.register
def _stop_leftovers() -> None:
    """A process that exits without its fixture's teardown still kills its daemons."""
    with _live_lock:
        left = list(_live)
    for cluster in left:
        cluster.stop()
