"""Every host script, run for real as its SSH step runs it (the program's own command line
from the recorded prod graph, lib.sh and the script on stdin, secrets as `export` lines) as
root in a sandboxed host (tests/external/sandbox): the first run converges and prints the
result the registry promises; a second run changes nothing and says so; a run that fails at
any of its external calls is recovered by the next; the offline simulators print the same
shape; no secret reaches a command line, an environment or the output; and the machine
running all this is unchanged afterwards.
"""

import contextlib
import functools
import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.metal.diagnostics import parse_fio, parse_iperf3, parse_pci_gpus
from components.remote.runner import StepFailed, read_result
from components.remote.steps import (
    LIB,
    STEPS,
    UPDATE_ONLY_STEPS,
    parse_result,
    parse_shell_command,
    step,
)
from offline.hardware import SimulatedHardware
from offline.stack_files import read_stack_config
from tests.external.sandbox import (
    Failure,
    Hardware,
    Run,
    Sandbox,
    ca_cert_hash,
    cluster_ca,
    describe_difference,
)
from tests.external.sandbox.harness import CREATED_PID_NAMESPACES, CREATED_ROOTS
from tests.paths import LOCAL_FIXTURES, PROJECT_DIR, SHARED_FIXTURES

SHARED = SHARED_FIXTURES / "diagnostics"
LOCAL = LOCAL_FIXTURES
SANDBOX_DIR = PROJECT_DIR / "tests" / "external" / "sandbox"

# The secrets of these tests: what the program's random resources would hold.
TOKEN = "k7sb2x.q7v2m9x4t1z8c3w6"
CERTIFICATE_KEY = hashlib.sha256(b"deepseek sandbox certificate key").hexdigest()
RGW_ACCESS_KEY = "SANDBOXACCESSKEY0001"
RGW_SECRET_KEY = hashlib.sha256(b"deepseek sandbox rgw secret").hexdigest()[:40]
SECRETS_OF_RGW = {"RGW_ACCESS_KEY": RGW_ACCESS_KEY, "RGW_SECRET_KEY": RGW_SECRET_KEY}
ROTATED = {
    "RGW_ACCESS_KEY": "SANDBOXACCESSKEY0002",
    "RGW_SECRET_KEY": hashlib.sha256(b"deepseek sandbox rotated secret").hexdigest()[:40],
}
ETCD_SNAPSHOT_KEY = hashlib.sha256(b"deepseek sandbox etcd snapshot key").hexdigest()
SECRETS = {
    "KUBEADM_TOKEN": TOKEN,
    "KUBEADM_CERTIFICATE_KEY": CERTIFICATE_KEY,
    "RGW_ACCESS_KEY": RGW_ACCESS_KEY,
    "RGW_SECRET_KEY": RGW_SECRET_KEY,
    "ETCD_SNAPSHOT_KEY": ETCD_SNAPSHOT_KEY,
}
API_VIP = "10.10.0.10:6443"

# Stand-ins that can fail half-way (kubeadm after writing its files, dpkg after unpacking),
# and kubectl's drain (after evicting a pod).
# cephadm's bootstrap (after the monitor and the keyring), rbd's pool init (after enabling the
# pool's application).
HALF_WAY = {"kubeadm", "apt-get", "nvidia-ctk", "cephadm"}
HALF_WAY_CALLS = {("kubectl", "drain"), ("rbd", "init")}

GPU_HOST = Hardware(
    gpu=True,
    query_csv=SHARED / "nvidia-smi-query-gpu-h200.csv",
    topology=LOCAL / "nvidia-smi-topo-8xa100.txt",
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="the host-script harness runs each script as root in namespaces it makes "
    "(unshare): run the tests as root on Linux",
)


# --- what the machine looked like before any of this -----------------------------------------
def machine_snapshot() -> dict[str, str]:
    """The settings no sandboxed script may change on the machine running the tests."""
    snapshot = {
        key: Path(f"/proc/sys/{key.replace('.', '/')}").read_text().strip()
        for key in ("vm.nr_hugepages", "net.ipv4.tcp_congestion_control", "net.ipv4.ip_forward")
    }
    snapshot["swapon --show"] = subprocess.run(
        ["/usr/sbin/swapon", "--show"], capture_output=True, text=True
    ).stdout
    snapshot["/proc/mounts"] = Path("/proc/mounts").read_text()
    snapshot["os-release"] = Path("/etc/os-release").read_text()  # a link out of /etc
    snapshot["/run"] = " ".join(sorted(os.listdir("/run")))
    modules = Path("/proc/modules")  # absent from a kernel built without modules
    if modules.exists():
        snapshot["modules"] = " ".join(
            sorted(line.split()[0] for line in modules.read_text().splitlines())
        )
    etc = hashlib.sha256()
    for directory, subdirectories, files in sorted(os.walk("/etc")):
        subdirectories.sort()
        for name in sorted([*subdirectories, *files]):
            path = Path(directory) / name
            info = path.lstat()
            etc.update(f"{path} {info.st_mode:o} {info.st_uid}:{info.st_gid}".encode())
            if path.is_symlink():
                etc.update(os.readlink(path).encode())
            elif path.is_file():
                etc.update(path.read_bytes())
    snapshot["/etc"] = etc.hexdigest()
    return snapshot


@pytest.fixture(scope="module", autouse=True)
def machine_before() -> dict[str, str]:
    """Taken before the first test of this module runs anything."""
    return machine_snapshot()


# --- the program's own commands ----------------------------------------------------------------
@functools.cache
def stack_hosts() -> dict[str, str]:
    config, _ = read_stack_config("prod")
    return {
        host["name"]: host["address"]
        for site in json.loads(config["deepseek-onprem:sites"])
        for host in site["hosts"]
    }


# The day-2 steps: Commands without a `create`, named `deepseek-<site>-<kind>-<host>-<step>` for
# the host whose change or removal they are part of: a rollout's run on `update`, a removal's on
# `delete` (a removal has a node-drain too, the rollout's script; the kind keeps them apart).
ROLLOUT_STEPS = frozenset({"node-drain", "node-uncordon", "kubeadm-upgrade"})
REMOVAL_STEPS = frozenset({"kubeadm-reset", "node-delete"})
DAY2_STEPS = ROLLOUT_STEPS | REMOVAL_STEPS
LIFECYCLE_INPUTS = {"create", "update", "delete"}


def command_of(graph, host: str, step_name: str) -> str | None:
    """The command the program gives this step on this host (or the site's): an install
    step's `create`; a rollout step's `update`, a removal step's `delete` (None while the
    program has no such Command)."""
    commands = graph.by_type("command:remote:Command")
    if step_name in DAY2_STEPS:
        removal = step_name in REMOVAL_STEPS
        kind, runs_on = ("removal", "delete") if removal else ("rollout", "update")
        found = [
            c.inputs[runs_on]
            for c in commands
            if LIFECYCLE_INPUTS & set(c.inputs) == {runs_on}
            and c.name.endswith(f"-{kind}-{host}-{step_name}")
        ]
        assert len(found) <= 1, f"{len(found)} {kind} Commands of {step_name} for {host}"
        return found[0] if found else None
    # A site's step (the cluster's, Ceph's) is named for the site; the Ceph steps that run on
    # the first storage host for another one (host-add) or for an S3 user are named for it.
    (command,) = [
        c.inputs["create"]
        for c in commands
        if "create" in c.inputs
        and c.name.startswith("deepseek-dc-a-")
        and (
            c.name.endswith(f"-{host}-{step_name}")
            or c.name == f"deepseek-dc-a-cluster-{step_name}"
            or c.name == f"deepseek-dc-a-storage-{step_name}"
        )
    ]
    return command


def rollout_inputs(graph, node: str, step_name: str) -> dict[str, str]:
    """What the program gives a rollout step for `node`, written out here for as long as the
    recorded graph has no Command for it (the graph's are used once it has)."""
    kubeadm = parse_shell_command(command_of(graph, "dca-cp-1", "kubeadm-init"))
    return {
        "node-drain": {"NODE": node, "DRAIN_TIMEOUT_SECONDS": "900", "CHANGE": "0123456789abcdef"},
        "node-uncordon": {
            "NODE": node,
            "READY_TIMEOUT_SECONDS": "900",
            "GPU_RESOURCE": "nvidia.com/gpu",
            "GPU_ALLOCATABLE": "8",
            "CHANGE": "0123456789abcdef",
            "VERIFIED": "gpu-check passed",
        },
        "kubeadm-upgrade": {
            "KUBERNETES_VERSION": kubeadm["KUBERNETES_VERSION"],
            "KUBERNETES_APT_REPO": kubeadm["KUBERNETES_APT_REPO"],
            "UPGRADE_ROLE": "first" if node == "dca-cp-1" else "worker",
            "HOST_READY": "true",
        },
    }[step_name]


def at_kubernetes(environment: dict[str, str], version: str) -> dict[str, str]:
    """A kubeadm step's inputs as the program gives them when config names Kubernetes
    `version`: the version, its kubeadm configuration, the package repository of its minor."""
    current = environment["KUBERNETES_VERSION"]
    minor = ".".join(current.split(".")[:2])
    changed = {
        "KUBERNETES_VERSION": version,
        "KUBERNETES_APT_REPO": environment["KUBERNETES_APT_REPO"].replace(
            f"/v{minor}/", f"/v{'.'.join(version.split('.')[:2])}/"
        ),
    }
    if "KUBEADM_CONFIG" in environment:
        changed["KUBEADM_CONFIG"] = environment["KUBEADM_CONFIG"].replace(
            f"kubernetesVersion: v{current}", f"kubernetesVersion: v{version}"
        )
    return {**environment, **changed}


# --- the cluster a control plane's kubectl sees (standins/kubectl keeps it in etcd's dir) ---
def cluster_object(sandbox: Sandbox, path: str, fields: dict[str, str]) -> None:
    """An object of the sandbox's cluster (`nodes/NAME`, `pods/NS/NAME`, `pdbs/NS/NAME`) with
    these fields, as the kubectl stand-in keeps it."""
    target = sandbox.path(f"/var/lib/etcd/standin/{path}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(f"{key}={value}\n" for key, value in fields.items()))


def cluster_field(sandbox: Sandbox, path: str, key: str) -> str | None:
    target = sandbox.path(f"/var/lib/etcd/standin/{path}")
    if not target.exists():
        return None
    for line in target.read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    return ""


GPU_WORKER = "dca-gpu-a100-1"
OTHER_WORKER = "dca-gpu-a100-2"
SERVING_POD = "pods/serving/deepseek-r1-7d9f8c-x2kq9"


def gpu_worker_at_work(sandbox: Sandbox) -> None:
    """A GPU worker serving: a model replica under a PodDisruptionBudget that allows one
    disruption, a device-plugin DaemonSet pod, a training pod with an emptyDir; and a replica
    on another node, which a drain of this one leaves alone."""
    cluster_object(sandbox, f"nodes/{GPU_WORKER}", {"allocatable.nvidia.com/gpu": "8"})
    cluster_object(sandbox, "pdbs/serving/deepseek-r1", {"disruptionsAllowed": "1"})
    cluster_object(
        sandbox, SERVING_POD, {"node": GPU_WORKER, "owner": "ReplicaSet", "pdb": "deepseek-r1"}
    )
    cluster_object(
        sandbox,
        "pods/serving/deepseek-r1-7d9f8c-p8m2z",
        {"node": OTHER_WORKER, "owner": "ReplicaSet", "pdb": "deepseek-r1"},
    )
    cluster_object(
        sandbox,
        "pods/gpu-operator/nvidia-device-plugin-daemonset-4xk2n",
        {"node": GPU_WORKER, "owner": "DaemonSet"},
    )
    cluster_object(
        sandbox,
        "pods/training/trainer-0",
        {"node": GPU_WORKER, "owner": "StatefulSet", "emptyDir": "true"},
    )


def gpu_worker_changed(sandbox: Sandbox) -> None:
    """The same worker drained and changed: cordoned, back Ready with its GPUs."""
    cluster_object(
        sandbox,
        f"nodes/{GPU_WORKER}",
        {"allocatable.nvidia.com/gpu": "8", "unschedulable": "true"},
    )
    cluster_object(
        sandbox,
        "pods/gpu-operator/nvidia-device-plugin-daemonset-4xk2n",
        {"node": GPU_WORKER, "owner": "DaemonSet"},
    )


def gpu_worker_drained(sandbox: Sandbox) -> None:
    """The same worker drained for its removal (cordoned, only its DaemonSet's pod left
    there), beside another worker of the cluster."""
    gpu_worker_changed(sandbox)
    cluster_object(sandbox, f"nodes/{OTHER_WORKER}", {"allocatable.nvidia.com/gpu": "8"})


def cni_configured(sandbox: Sandbox) -> None:
    """The cluster's CNI plugin wrote its configuration on the host (kubeadm reset leaves
    it there)."""
    target = sandbox.path("/etc/cni/net.d/10-calico.conflist")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text('{"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":[]}\n')


@dataclass(frozen=True)
class Case:
    """A step on one kind of host, with what must have run there before it."""

    id: str
    step: str
    host: str
    hardware: Hardware = Hardware()
    before: tuple[str, ...] = ()
    """Steps run (cleanly, as the program orders them) before this one on the host; `STEP@NAME`
    is the Command of STEP named for NAME (a Ceph step the first storage host runs for another
    host)."""
    secrets: tuple[str, ...] = ()
    """The secret inputs the program sends this step on this host."""
    node: str = ""
    """A day-2 step's host, whose change or removal it is part of (its Command is named for
    it), when it runs elsewhere: drain, uncordon and node-delete run on the site's first
    control plane. Likewise the host a Ceph step adds, or the S3 user it makes, from the
    site's first storage host."""
    earlier_kubernetes: str = ""
    """The Kubernetes version the `before` steps install (an upgrade has one to find)."""
    scene: Callable[[Sandbox], None] | None = None
    """What the cluster holds once the `before` steps ran (nodes, pods, budgets)."""

    def environment(self, graph, step_name: str | None = None) -> dict[str, str]:
        """The inputs the program gives the step, from its command line in the graph."""
        name, _, named_for = (step_name or self.step).partition("@")
        if name in DAY2_STEPS:
            node = self.node or self.host
            command = command_of(graph, node, name)
            if command is None:
                return rollout_inputs(graph, node, name)
            environment = parse_shell_command(command)
            if name == "node-uncordon" and environment.get("VERIFIED") == "not-run":
                # The offline graph's GPU check ran nothing (created, not updated): as after
                # a rollout whose GPU check passed.
                environment["VERIFIED"] = "passed"
            return environment
        if not named_for and name == self.step:
            named_for = self.node
        environment = parse_shell_command(command_of(graph, named_for or self.host, name))
        if self.earlier_kubernetes and name != self.step and "KUBERNETES_VERSION" in environment:
            environment = at_kubernetes(environment, self.earlier_kubernetes)
        if name == "preflight":
            environment.update(FAST_PREFLIGHT)
        if name == "kubeadm-join":
            # The offline graph's hash is simulated; the cluster here has the harness's CA.
            environment["KUBEADM_CA_CERT_HASH"] = ca_hash()
        return environment

    def secret_values(self, step_name: str | None = None) -> dict[str, str] | None:
        name = (step_name or self.step).partition("@")[0]
        if not step(name).secret_inputs:
            return None
        keys = self.secrets if name == self.step else tuple(step(name).secret_inputs)
        return {key: SECRETS[key] for key in keys}


FAST_PREFLIGHT = {"FIO_SIZE_MIB": "16", "FIO_RUNTIME_SECONDS": "1", "IPERF_SECONDS": "1"}
HOST_PREP = ("os-prep", "container-runtime")
BOTH_SECRETS = ("KUBEADM_TOKEN", "KUBEADM_CERTIFICATE_KEY")
FIRST_STORAGE = "dca-ceph-1"
CEPH_PREP = (*HOST_PREP, "ceph-host-prep")
BOOTSTRAPPED = (*CEPH_PREP, "ceph-bootstrap")
HOSTS_ADDED = (*BOOTSTRAPPED, "ceph-host-add@dca-ceph-2", "ceph-host-add@dca-ceph-3")
POOLS = (*HOSTS_ADDED, "ceph-osds", "ceph-pools")
CASES = [
    Case("net-server", "net-server", "dca-cp-1"),
    # The peer's address is on the sandbox's loopback too: it runs the peer's iperf3 server.
    Case("preflight", "preflight", "dca-gpu-a100-1", GPU_HOST, ("net-server",)),
    Case("os-prep", "os-prep", "dca-gpu-a100-1", GPU_HOST),
    Case("container-runtime", "container-runtime", "dca-cp-1", before=("os-prep",)),
    Case("nvidia-stack", "nvidia-stack", "dca-gpu-a100-1", GPU_HOST, HOST_PREP),
    Case("gpu-check", "gpu-check", "dca-gpu-a100-1", GPU_HOST, (*HOST_PREP, "nvidia-stack")),
    Case("kubeadm-init", "kubeadm-init", "dca-cp-1", before=HOST_PREP, secrets=BOTH_SECRETS),
    Case(
        "admin-kubeconfig",
        "admin-kubeconfig",
        "dca-cp-1",
        before=(*HOST_PREP, "kubeadm-init"),
    ),
    Case("api-ready", "api-ready", "dca-cp-1", before=(*HOST_PREP, "kubeadm-init")),
    Case(
        "kubeadm-join-control-plane",
        "kubeadm-join",
        "dca-cp-2",
        before=HOST_PREP,
        secrets=BOTH_SECRETS,
    ),
    Case(
        "kubeadm-join-worker",
        "kubeadm-join",
        "dca-gpu-a100-2",
        GPU_HOST,
        before=HOST_PREP,
        secrets=("KUBEADM_TOKEN",),
    ),
    # Day-2: the rollout of a change to a live host. Drain and uncordon run on the site's
    # first control plane, for a GPU worker of the cluster it holds.
    Case(
        "node-drain",
        "node-drain",
        "dca-cp-1",
        before=(*HOST_PREP, "kubeadm-init"),
        node=GPU_WORKER,
        scene=gpu_worker_at_work,
    ),
    Case(
        "node-uncordon",
        "node-uncordon",
        "dca-cp-1",
        before=(*HOST_PREP, "kubeadm-init"),
        node=GPU_WORKER,
        scene=gpu_worker_changed,
    ),
    # From the previous minor version to the one config names.
    Case(
        "kubeadm-upgrade-first",
        "kubeadm-upgrade",
        "dca-cp-1",
        before=(*HOST_PREP, "kubeadm-init"),
        earlier_kubernetes="1.30.8",
    ),
    Case(
        "kubeadm-upgrade-control-plane",
        "kubeadm-upgrade",
        "dca-cp-2",
        before=(*HOST_PREP, "kubeadm-join"),
        earlier_kubernetes="1.30.8",
    ),
    Case(
        "kubeadm-upgrade-worker",
        "kubeadm-upgrade",
        "dca-gpu-a100-2",
        GPU_HOST,
        before=(*HOST_PREP, "kubeadm-join"),
        earlier_kubernetes="1.30.8",
    ),
    # Day-2: a host's removal, once its node was drained. The reset runs on the host itself
    # (a worker that joined, the control plane that ran init); node-delete on the site's
    # first control plane.
    Case(
        "kubeadm-reset-worker",
        "kubeadm-reset",
        GPU_WORKER,
        GPU_HOST,
        before=(*HOST_PREP, "kubeadm-join"),
        scene=cni_configured,
    ),
    Case(
        "kubeadm-reset-control-plane",
        "kubeadm-reset",
        "dca-cp-1",
        before=(*HOST_PREP, "kubeadm-init"),
        scene=cni_configured,
    ),
    Case(
        "node-delete",
        "node-delete",
        "dca-cp-1",
        before=(*HOST_PREP, "kubeadm-init"),
        node=GPU_WORKER,
        scene=gpu_worker_drained,
    ),
    # The data layer: Ceph on the storage hosts. The first storage host bootstraps the
    # cluster and runs every step of the site (its hosts' additions, the S3 users too); the
    # others are prepared with cephadm's key.
    Case("ceph-host-prep-first", "ceph-host-prep", FIRST_STORAGE, before=HOST_PREP),
    Case("ceph-host-prep-other", "ceph-host-prep", "dca-ceph-2", before=HOST_PREP),
    Case("ceph-bootstrap", "ceph-bootstrap", FIRST_STORAGE, before=CEPH_PREP),
    Case("ceph-host-add", "ceph-host-add", FIRST_STORAGE, before=BOOTSTRAPPED, node="dca-ceph-2"),
    Case("ceph-osds", "ceph-osds", FIRST_STORAGE, before=HOSTS_ADDED),
    Case("ceph-pools", "ceph-pools", FIRST_STORAGE, before=(*HOSTS_ADDED, "ceph-osds")),
    Case("ceph-rgw", "ceph-rgw", FIRST_STORAGE, before=POOLS),
    Case(
        "ceph-rgw-user",
        "ceph-rgw-user",
        FIRST_STORAGE,
        before=(*POOLS, "ceph-rgw"),
        node="model-store",
        secrets=("RGW_ACCESS_KEY", "RGW_SECRET_KEY"),
    ),
    Case("ceph-client-key", "ceph-client-key", FIRST_STORAGE, before=POOLS),
    # Off-site etcd snapshots: the timer on a control plane (its key and the target's S3
    # keys on stdin); the model cache's directory on a GPU host.
    Case(
        "etcd-snapshot",
        "etcd-snapshot",
        "dca-cp-1",
        before=(*HOST_PREP, "kubeadm-init"),
        secrets=("ETCD_SNAPSHOT_KEY", "RGW_ACCESS_KEY", "RGW_SECRET_KEY"),
    ),
    Case("model-cache-dir", "model-cache-dir", "dca-gpu-a100-1", before=HOST_PREP),
]
CASE_IDS = [case.id for case in CASES]
BY_ID = {case.id: case for case in CASES}


@functools.cache
def ca_hash() -> str:
    """The CA hash of the harness's cluster CA, as openssl computes it."""
    return ca_cert_hash(cluster_ca() / "ca.crt")


# --- running steps in sandboxes --------------------------------------------------------------
class Harness:
    """The sandboxes of this module: one prepared host per case (what ran before the step),
    cloned for every test, and the clean run of each step as the reference."""

    def __init__(self, graph) -> None:
        self.graph = graph
        self.sandboxes: list[Sandbox] = []
        self._prepared: dict[str, Sandbox] = {}
        self._clean: dict[str, tuple[Run, dict[str, str]]] = {}

    def new(self, case: Case) -> Sandbox:
        addresses = [stack_hosts()[case.host]]
        if "preflight" in (case.step, *case.before):
            addresses.append(case.environment(self.graph, "preflight")["PEER_ADDRESS"])
        sandbox = Sandbox.create(case.host, addresses, case.hardware)
        self.sandboxes.append(sandbox)
        if "kubeadm-join" in (case.step, *case.before):
            sandbox.set_cluster(
                endpoint=API_VIP,
                token=TOKEN,
                caCertHash=ca_hash(),
                certificateKey=CERTIFICATE_KEY,
            )
        return sandbox

    def clone(self, sandbox: Sandbox, case: Case) -> Sandbox:
        twin = sandbox.clone()
        self.sandboxes.append(twin)
        # Processes are not cloned: the peer's iperf3 server is started again.
        if "net-server" in case.before:
            self.run(twin, case, "net-server")
        return twin

    def run(
        self,
        sandbox: Sandbox,
        case: Case,
        step_name: str | None = None,
        fail: Failure | None = None,
        trace: bool = False,
    ) -> Run:
        name = step_name or case.step
        run = sandbox.run(
            name.partition("@")[0],
            case.environment(self.graph, name),
            case.secret_values(name),
            fail=fail,
            trace=trace,
        )
        # What the provider returns as stdout and stderr must be valid UTF-8, failed or not.
        assert not run.invalid_utf8(), f"{run.invalid_utf8()}\n{run.explain()}"
        if fail is None:
            assert run.ok, run.explain()
            assert_changed_is_honest(run)
        return run

    def prepared(self, case: Case) -> Sandbox:
        """The host as the step finds it (never changed by a test: clone it)."""
        if case.id not in self._prepared:
            sandbox = self.new(case)
            for earlier in case.before:
                self.settle(sandbox, case, self.run(sandbox, case, earlier), earlier)
            if case.scene is not None:
                case.scene(sandbox)
            self._prepared[case.id] = sandbox
        return self._prepared[case.id]

    def settle(self, sandbox: Sandbox, case: Case, run: Run, step_name: str | None = None) -> Run:
        """A run that scheduled a reboot is followed by the reboot and the step again (as
        the host reboots and the program's next connection waits for it)."""
        if reboot_scheduled(sandbox):
            sandbox.reboot()
            if "net-server" in case.before:
                self.run(sandbox, case, "net-server")
            run = self.run(sandbox, case, step_name)
            assert not reboot_scheduled(sandbox), "the step asks for a reboot after each boot"
        return run

    def clean(self, case: Case) -> tuple[Run, dict[str, str]]:
        """The step's clean first run from the prepared host, and the host it leaves."""
        if case.id not in self._clean:
            sandbox = self.clone(self.prepared(case), case)
            run = self.settle(sandbox, case, self.run(sandbox, case))
            self._clean[case.id] = (run, converged(sandbox))
            self.stop(sandbox)
        return self._clean[case.id]

    def stop(self, sandbox: Sandbox) -> None:
        sandbox.stop()
        with contextlib.suppress(ValueError):
            self.sandboxes.remove(sandbox)

    def close(self) -> None:
        for sandbox in [*self.sandboxes]:
            self.stop(sandbox)


def reboot_scheduled(sandbox: Sandbox) -> bool:
    units = sandbox.path("/run/standin-systemd")
    return (
        any(units.glob("*.timer")) or sandbox.path("/run/standin-kernel/reboot-requested").exists()
    )


def converged(sandbox: Sandbox) -> dict[str, str]:
    """The host's state, without its history (how often a service restarted)."""
    return {
        path: description
        for path, description in sandbox.state().items()
        if not path.endswith(".restarts")
    }


def assert_changed_is_honest(run: Run) -> None:
    """`changed` is true exactly when the run changed the host."""
    changed = run.result["changed"]
    assert changed == run.host_changed, (
        f"{run.step} said changed={changed} but the host "
        + ("changed:\n" + "\n".join(run.changes()) if run.host_changed else "did not change")
        + f"\n{run.explain()}"
    )


# Result fields that say what the run did or found rather than what the host is (an
# upgrade's `from`: the version it found; a removal's `reset` and `deleted`: true when it did
# it, absent when there was nothing left to do), and measurements (which differ from one run
# to the next).
RUN_FIELDS = {"changed", "server", "from", "reset", "deleted", "drainedAt"}
MEASURED = {"fio", "iperf3"}


def host_result(run: Run) -> dict[str, object]:
    """The result's fields that describe the host (equal for any run that converged it)."""
    return {
        key: "(measured)" if key in MEASURED else value
        for key, value in run.result.items()
        if key not in RUN_FIELDS
    }


@pytest.fixture(scope="module")
def harness(prod) -> Iterator[Harness]:
    harness = Harness(prod)
    yield harness
    harness.close()
    for sandbox in harness._prepared.values():
        sandbox.stop()


# --- the scripts themselves ----------------------------------------------------------------------
def test_shellcheck_passes_on_every_script_and_stand_in():
    scripts = sorted(
        str(p.relative_to(PROJECT_DIR))
        for p in [
            *PROJECT_DIR.glob("components/**/*.sh"),
            *PROJECT_DIR.glob("tools/*.sh"),
            *SANDBOX_DIR.glob("*.sh"),
            *(p for p in (SANDBOX_DIR / "standins").iterdir() if p.is_file()),
        ]
    ) + [".ci/run"]
    sent = {LIB, *(spec.script for spec in STEPS.values())}
    assert {str(p.relative_to(PROJECT_DIR)) for p in sent} <= set(scripts)
    result = subprocess.run(
        ["shellcheck", "--external-sources", *scripts],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_script_is_strict():
    for spec in STEPS.values():
        assert "set -euo pipefail" in spec.script.read_text(), spec.name


def test_every_registered_step_has_a_case():
    assert {case.step for case in CASES} == set(STEPS)
    # And the harness knows where each day-2 step's command is (`update` or `delete`).
    assert DAY2_STEPS == set(UPDATE_ONLY_STEPS)


# --- (a) the first run converges and prints what the registry promises -------------------------
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_first_run_converges_and_prints_the_promised_result(harness, case_id):
    case = BY_ID[case_id]
    run, _ = harness.clean(case)
    spec = step(case.step)
    fields = set(run.result) - {"changed"}
    assert set(spec.result) <= fields <= set(spec.result) | set(spec.optional_result), run.stdout


# --- (b) a second run changes nothing and says so ----------------------------------------------
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_second_run_changes_nothing_and_says_so(harness, case_id):
    case = BY_ID[case_id]
    sandbox = harness.clone(harness.prepared(case), case)
    first = harness.settle(sandbox, case, harness.run(sandbox, case))
    second = harness.run(sandbox, case)
    assert second.result["changed"] is False, second.explain()
    assert not second.host_changed, "\n".join(second.changes())
    assert host_result(second) == host_result(first)
    harness.stop(sandbox)


# --- (c) a run interrupted at any external call is recovered by the next ---------------------
def failure_points(run: Run) -> list[Failure]:
    """Every call of a clean run, as a failure at once, and half-way where the tool can."""
    seen: dict[str, int] = {}
    points = []
    for call in run.calls:
        seen[call.line] = seen.get(call.line, 0) + 1
        points.append(Failure(call, seen[call.line], "early"))
        if call.tool in HALF_WAY or any(
            call.tool == tool and verb in call.argv for tool, verb in HALF_WAY_CALLS
        ):
            points.append(Failure(call, seen[call.line], "late"))
    return points


def recover(harness: Harness, case: Case, start: Sandbox, failure: Failure) -> str | None:
    """Fails the step at `failure`, runs it normally; what differs from a clean run, if any."""
    sandbox = harness.clone(start, case)
    try:
        failed = harness.run(sandbox, case, fail=failure)
        if failure.call not in failed.calls:
            return f"{failure}: the call did not happen again"
        clean_run, clean_state = harness.clean(case)
        if failed.ok and case.step in REMOVAL_STEPS:
            # A removal's delete that succeeds is never run again (the engine drops it from
            # the state): a failed call it got past must have left the host as a clean run.
            difference = describe_difference(clean_state, converged(sandbox))
            if difference:
                return f"{failure}: the run succeeded, and so is not run again, leaving:\n  " + (
                    "\n  ".join(difference)
                )
        recovered = harness.settle(sandbox, case, harness.run(sandbox, case))
        difference = describe_difference(clean_state, converged(sandbox))
        if difference:
            return f"{failure}: the host differs from a clean run's:\n  " + "\n  ".join(difference)
        if host_result(recovered) != host_result(clean_run):
            return f"{failure}: result {recovered.result} instead of {clean_run.result}"
        return None
    finally:
        harness.stop(sandbox)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_a_run_failing_at_any_external_call_is_recovered_by_the_next(harness, case_id):
    case = BY_ID[case_id]
    clean_run, _ = harness.clean(case)
    points = failure_points(clean_run)
    # admin-kubeconfig reads a file; model-cache-dir makes a directory (coreutils' install).
    assert points or case.step in ("admin-kubeconfig", "model-cache-dir"), (
        "the clean run made no external call"
    )
    start = harness.prepared(case)
    # Each case in a sandbox of its own: as many at once as the machine has cores.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        problems = [
            problem
            for problem in pool.map(lambda failure: recover(harness, case, start, failure), points)
            if problem
        ]
    assert not problems, "\n".join(problems)


# --- (d) the offline simulators print what the scripts print ------------------------------------
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_simulated_step_has_the_shape_of_the_real_script(harness, prod, case_id):
    case = BY_ID[case_id]
    if case.step in DAY2_STEPS:
        # A rollout's update-only and a removal's delete-only Commands run nothing when
        # created: the offline mocks give them an empty stdout and no simulator stands for them.
        pytest.skip(f"{case.step} runs only on a live host's change or removal: no simulator")
    run, _ = harness.clean(case)
    config, _ = read_stack_config("prod")
    simulated = SimulatedHardware(config, {}).stdout(
        case.step, stack_hosts()[case.host], command_of(prod, case.node or case.host, case.step)
    )
    simulated_result = read_result(case.step, simulated, case.host)
    assert set(simulated_result) == set(run.result), (
        f"simulator {sorted(simulated_result)} vs script {sorted(run.result)}"
    )


# --- what the scripts must get right, one by one -----------------------------------------------
def test_kubeadm_init_result_parses_after_the_lines_lib_prints_before_it(harness):
    """The bug issue 11 opens with: kubeadm-init.sh prints lib.sh's `changed: …` lines (and
    kubeadm's log) before its result, and the program parsed the whole stdout as JSON."""
    case = BY_ID["kubeadm-init"]
    sandbox = harness.clone(harness.prepared(case), case)
    run = harness.run(sandbox, case)
    # What it prints for people is in its log on the host (its stdout may carry a secret).
    log = sandbox.path("/var/log/deepseek/kubeadm-init.log").read_text()
    assert "changed: /etc/apt/sources.list.d/deepseek-kubernetes.list" in log
    with pytest.raises(json.JSONDecodeError):
        json.loads(run.stdout)  # what cluster.py did before the output contract
    result = read_result("kubeadm-init", run.stdout, "dca-cp-1 (control plane of site dc-a)")
    # The hash openssl computes, here, from the CA the sandboxed host now holds.
    assert result["caCertHash"] == ca_cert_hash(sandbox.path("/etc/kubernetes/pki/ca.crt"))
    assert result["caCertHash"] == ca_hash()
    assert result["node"] == "dca-cp-1"
    harness.stop(sandbox)


def test_unreadable_result_fails_naming_the_host(harness):
    case = BY_ID["kubeadm-init"]
    run, _ = harness.clean(case)
    cut_short = run.stdout.rsplit("##### deepseek-result:", 1)[0]
    with pytest.raises(StepFailed, match=r"host dca-cp-1 \(cp\): step kubeadm-init: printed no"):
        read_result("kubeadm-init", cut_short, "dca-cp-1 (cp)")


def half_done(harness: Harness, case_id: str) -> tuple[Case, Sandbox, Run]:
    """The step's kubeadm call failed after writing its files (kubeadm init timing out on
    the control plane, a join whose kubelet never bootstrapped)."""
    case = BY_ID[case_id]
    sandbox = harness.clone(harness.prepared(case), case)
    clean_run, _ = harness.clean(case)
    (kubeadm,) = [c for c in clean_run.calls if c.tool == "kubeadm"]
    failed = harness.run(sandbox, case, fail=Failure(kubeadm, 1, "late"))
    assert not failed.ok
    return case, sandbox, failed


@pytest.mark.parametrize(
    ("case_id", "leftover"),
    [
        ("kubeadm-init", "/etc/kubernetes/admin.conf"),
        ("kubeadm-join-control-plane", "/etc/kubernetes/kubelet.conf"),
        ("kubeadm-join-worker", "/etc/kubernetes/kubelet.conf"),
    ],
)
def test_a_half_done_kubeadm_run_is_reset_and_done_again(harness, case_id, leftover):
    case, sandbox, _ = half_done(harness, case_id)
    assert sandbox.path(leftover).exists()
    run = harness.run(sandbox, case)
    tools = [" ".join([c.tool, *c.argv[:1]]) for c in run.calls]
    assert tools.index("kubeadm reset") < tools.index(f"kubeadm {case.step.split('-')[1]}")
    assert ["--force"] == [a for c in run.calls if c.argv[:1] == ("reset",) for a in c.argv[1:]]
    _, clean_state = harness.clean(case)
    assert converged(sandbox) == clean_state, "\n".join(
        describe_difference(clean_state, converged(sandbox))
    )
    assert harness.run(sandbox, case).result["changed"] is False
    harness.stop(sandbox)


def test_a_reset_that_fails_is_recovered_too(harness):
    """The recovery run of a half-done init, itself failing at each of its calls (the reset
    among them), is recovered by the run after it."""
    case, start, _ = half_done(harness, "kubeadm-init")
    probe = harness.clone(start, case)
    recovery = harness.run(probe, case)
    harness.stop(probe)
    points = [p for p in failure_points(recovery) if p.call.tool in ("kubeadm", "kubectl")]
    assert any(p.call.argv[:1] == ("reset",) for p in points)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        problems = [p for p in pool.map(lambda f: recover(harness, case, start, f), points) if p]
    assert not problems, "\n".join(problems)
    harness.stop(start)


def test_kubeadm_init_on_an_initialized_host_only_renews_the_token_and_certificates(harness):
    case = BY_ID["kubeadm-init"]
    sandbox = harness.clone(harness.prepared(case), case)
    harness.run(sandbox, case)
    # A day later: the token and the uploaded certificates have expired.
    for expired in ("/var/lib/etcd/standin/tokens", "/var/lib/etcd/standin/secrets"):
        sandbox.exec("rm", "-rf", expired)
    renewed = harness.run(sandbox, case)
    assert renewed.result["changed"] is True
    assert [c.argv[:2] for c in renewed.calls if c.tool == "kubeadm"] == [
        ("token", "list"),
        ("token", "create"),
        ("init", "phase"),
    ]
    assert TOKEN in sandbox.path("/var/lib/etcd/standin/tokens").read_text()
    assert sandbox.path("/var/lib/etcd/standin/secrets/kube-system/kubeadm-certs").exists()
    assert harness.run(sandbox, case).result["changed"] is False
    harness.stop(sandbox)


def test_no_secret_on_a_command_line_in_an_environment_or_in_what_was_printed(harness):
    """Every process the kubeadm steps start (strace records each execve, with its argv and
    environment), every stand-in call and all they print, over fresh runs, re-runs that renew
    the token and certificates, and the recovery of a half-done init."""
    runs: list[Run] = []
    for case_id in ("kubeadm-init", "kubeadm-join-control-plane", "kubeadm-join-worker"):
        case = BY_ID[case_id]
        sandbox = harness.clone(harness.prepared(case), case)
        runs.append(harness.run(sandbox, case, trace=True))
        if case.step == "kubeadm-init":
            for expired in ("/var/lib/etcd/standin/tokens", "/var/lib/etcd/standin/secrets"):
                sandbox.exec("rm", "-rf", expired)
            runs.append(harness.run(sandbox, case, trace=True))
        harness.stop(sandbox)
    case, sandbox, failed = half_done(harness, "kubeadm-init")
    runs += [failed, harness.run(sandbox, case, trace=True)]
    harness.stop(sandbox)
    # An S3 user made with its keys and its bucket created with them (curl), then its keys
    # rotated (another pair replaces the first), then a run that fails (its cluster gone).
    case = BY_ID["ceph-rgw-user"]
    sandbox = harness.clone(harness.prepared(case), case)
    runs.append(harness.run(sandbox, case, trace=True))
    rotated = sandbox.run(case.step, case.environment(harness.graph), ROTATED, trace=True)
    assert rotated.ok and rotated.result["changed"] is True, rotated.explain()
    runs.append(rotated)
    curl = next(c for c in runs[-2].calls if c.tool == "curl")
    sandbox.exec("sudo", "rm", "-r", "/var/lib/ceph")
    gone = sandbox.run(case.step, case.environment(harness.graph), SECRETS_OF_RGW, trace=True)
    assert not gone.ok and "RADOS timed out" in gone.stderr, gone.explain()
    runs.append(gone)
    harness.stop(sandbox)
    assert "--config" in curl.argv and "-" in curl.argv
    # The etcd snapshots' timer: the site's key and the target's S3 keys written to root-only
    # files (what the timer's own script does with them: tests/external/test_etcd_snapshot.py).
    case = BY_ID["etcd-snapshot"]
    sandbox = harness.clone(harness.prepared(case), case)
    runs.append(harness.run(sandbox, case, trace=True))
    harness.stop(sandbox)

    processes = [p for run in runs for p in run.processes]
    assert any(p.argv[:2] == ("kubeadm", "init") for p in processes)
    assert any(p.argv[:3] == ("kubeadm", "token", "create") for p in processes)
    assert any(p.argv[:1] == ("curl",) for p in processes)
    assert any(p.argv[:3] == ("radosgw-admin", "metadata", "put") for p in processes)
    assert any(p.argv[:2] == ("systemctl", "daemon-reload") for p in processes)
    leaks = []
    for run in runs:
        places = {
            "stdout": run.stdout,
            "stderr": run.stderr,
            "command line": run.command,
            **{f"call `{call.tool}`": call.line for call in run.calls},
            **{f"argv of `{' '.join(p.argv)[:60]}`": "\0".join(p.argv) for p in run.processes},
            **{
                f"environment of `{' '.join(p.argv)[:60]}`": "\0".join(p.environment)
                for p in run.processes
            },
        }
        for name, secret in {**SECRETS, **{f"rotated {k}": v for k, v in ROTATED.items()}}.items():
            for place, text in places.items():
                if secret in text or secret.split(".")[-1] in text:
                    leaks.append(f"{run.step}: {name} in the {place}")
    assert not leaks, "\n".join(leaks)


def test_os_prep_leaves_only_the_internal_mirror_as_an_apt_source(harness):
    case = BY_ID["os-prep"]
    sandbox = harness.clone(harness.prepared(case), case)
    lists = sandbox.path("/var/lib/standin/apt/lists")
    public = ("archive.ubuntu.com", "security.ubuntu.com", "download.docker.com", "esm.ubuntu")
    assert all(host in lists.read_text() for host in public)  # the image as shipped
    harness.run(sandbox, case)
    mirror = case.environment(harness.graph)["APT_MIRROR"]
    assert {line.split()[0] for line in lists.read_text().splitlines()} == {mirror}
    origins = {
        line.split("\t")[0]: line.split("\t")[4]
        for line in sandbox.path("/var/lib/standin/dpkg/status").read_text().splitlines()
    }
    assert origins["chrony"] == mirror and origins["rdma-core"] == mirror

    # A source that appears later (a package's, a person's) is disabled by the next run; the
    # Kubernetes repository the kubeadm steps add is deepseek-onprem's own and stays.
    kubernetes_repo = BY_ID["kubeadm-init"].environment(harness.graph)["KUBERNETES_APT_REPO"]
    sources = sandbox.path("/etc/apt/sources.list.d")
    (sources / "deepseek-kubernetes.list").write_text(
        f"# Managed by deepseek-onprem: Kubernetes packages from the internal mirror only.\n"
        f"deb {kubernetes_repo} /\n"
    )
    (sources / "nodesource.sources").write_text(
        "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"
        "Components: main\n"
    )
    (sources / "deepseek-lookalike.list").write_text(
        "deb http://archive.ubuntu.com/ubuntu jammy main\n"
    )
    again = harness.run(sandbox, case)
    assert again.result["changed"] is True
    assert {line.split()[0] for line in lists.read_text().splitlines()} == {
        mirror,
        kubernetes_repo,
    }
    assert not (sources / "nodesource.sources").exists()
    assert (sources / "nodesource.sources.deepseek.disabled").exists()
    assert harness.run(sandbox, case).result["changed"] is False
    harness.stop(sandbox)


def test_os_prep_sets_hugepages_swap_and_bbr_only_in_the_sandbox(harness):
    case = BY_ID["os-prep"]
    sandbox = harness.clone(harness.prepared(case), case)
    assert sandbox.path("/run/standin-kernel/swaps").read_text().strip()  # swap on, as shipped
    environment = {**case.environment(harness.graph), "HUGEPAGES_2MI": "1024"}
    run = sandbox.run("os-prep", environment)
    assert run.ok, run.explain()
    assert run.result["congestionControl"] == "bbr"
    kernel = sandbox.exec("sudo", "sysctl", "-n", "vm.nr_hugepages", "net.ipv4.ip_forward")
    assert kernel.stdout.split() == ["1024", "1"]
    assert sandbox.exec("sudo", "swapon", "--show").stdout == ""
    assert "# disabled by deepseek-onprem: /swap.img" in sandbox.path("/etc/fstab").read_text()
    # The reboot keeps it so: swap stays off, the settings come back from the files.
    sandbox.reboot()
    assert sandbox.exec("sudo", "swapon", "--show").stdout == ""
    again = sandbox.run("os-prep", environment)
    assert again.ok and again.result["changed"] is False, again.explain()
    harness.stop(sandbox)


def test_net_server_starts_a_fresh_server_for_each_new_client(harness):
    case = BY_ID["net-server"]
    sandbox = harness.clone(harness.prepared(case), case)
    environment = case.environment(harness.graph)
    port = environment["IPERF_PORT"]
    server = f"timeout {environment['IPERF_SERVER_SECONDS']} iperf3 --server --port {port}"

    def servers() -> list[str]:
        return [p for p in sandbox.processes() if p.startswith("timeout ")]

    first = sandbox.run("net-server", environment)
    assert first.result["server"] == "started" and servers() == [server]
    (old_pid,) = sandbox.exec("pgrep", "-f", f"^{server}$").stdout.split()

    same = sandbox.run("net-server", environment)
    assert (same.result["server"], same.result["changed"]) == ("running", False)
    assert sandbox.exec("pgrep", "-f", f"^{server}$").stdout.split() == [old_pid]

    # The client host was replaced (or measures again): its preflight run has a new id.
    newer = sandbox.run(
        "net-server", {**environment, "IPERF_CLIENT": "10.10.0.13/0123456789abcdef"}
    )
    assert (newer.result["server"], newer.result["changed"]) == ("started", True)
    assert servers() == [server]
    (new_pid,) = sandbox.exec("pgrep", "-f", f"^{server}$").stdout.split()
    assert new_pid != old_pid
    assert sandbox.path("/run/deepseek/iperf3-server-5201.client").read_text() == (
        "10.10.0.13/0123456789abcdef\n"
    )
    # After a reboot the server is gone and is started again for the same client.
    sandbox.reboot()
    back = sandbox.run("net-server", {**environment, "IPERF_CLIENT": "10.10.0.13/0123456789abcdef"})
    assert (back.result["server"], back.result["changed"]) == ("started", True)
    harness.stop(sandbox)


def test_preflight_measures_disk_network_and_pci_for_real(harness):
    case = BY_ID["preflight"]
    run, _ = harness.clean(case)
    disk = parse_fio(str(run.result["fio"]))
    assert (disk.rw, disk.block_size) == ("randrw", "4k")
    assert disk.read_iops > 0 and disk.write_iops > 0
    network = parse_iperf3(str(run.result["iperf3"]))
    assert network.error is None, network.error
    assert (
        network.remote_host == case.environment(harness.graph)["PEER_ADDRESS"]
        and network.gbps > 0.1
    )
    assert parse_pci_gpus(str(run.result["lspci"])) == 0  # the machine's PCI bus: no NVIDIA GPU
    assert not run.host_changed  # the fio file and the folder made for it are gone


def test_preflight_reports_a_refused_peer_in_iperf3s_own_words(harness):
    case = BY_ID["preflight"]
    sandbox = harness.new(case)  # no iperf3 server on the peer
    run = sandbox.run("preflight", case.environment(harness.graph), tuning={"IPERF_ATTEMPTS": "1"})
    assert run.ok, run.explain()
    network = parse_iperf3(str(run.result["iperf3"]))
    assert network.gbps is None
    assert "Connection refused" in network.error
    harness.stop(sandbox)


def test_nvidia_stack_reboots_once_where_nouveau_holds_the_gpus(harness):
    case = BY_ID["nvidia-stack"]
    nouveau = Case(
        "nvidia-stack-nouveau",
        "nvidia-stack",
        case.host,
        Hardware(gpu=True, nouveau=True, query_csv=GPU_HOST.query_csv, topology=GPU_HOST.topology),
        case.before,
    )
    sandbox = harness.prepared(nouveau)
    assert "nouveau" in sandbox.path("/run/standin-kernel/modules").read_text()
    first = harness.run(sandbox, nouveau)
    assert first.result["driver"] == "reboot-scheduled"
    assert [c.argv[0] for c in first.calls if c.tool == "update-initramfs"] == ["-u"]
    # Run again before the host went down: the reboot is already on its way.
    before_reboot = harness.run(sandbox, nouveau)
    assert (before_reboot.result["driver"], before_reboot.result["changed"]) == (
        "reboot-scheduled",
        False,
    )
    sandbox.reboot()
    after = harness.run(sandbox, nouveau)
    assert (after.result["driver"], after.result["changed"]) == ("loaded", False)
    check = harness.run(sandbox, BY_ID["gpu-check"])
    assert "NVIDIA H200" in str(check.result["nvidia-smi-query"])


def test_api_ready_waits_for_the_vip_with_the_clusters_ca(harness):
    case = BY_ID["api-ready"]
    run, _ = harness.clean(case)
    (curl,) = [c for c in run.calls if c.tool == "curl"]
    assert "--cacert" in curl.argv and curl.argv[-1] == f"https://{API_VIP}/healthz"
    sandbox = harness.clone(harness.prepared(case), case)
    sandbox.exec("rm", "/etc/kubernetes/manifests/kube-vip.yaml")  # no VIP announced
    unreachable = sandbox.run(
        "api-ready", case.environment(harness.graph), tuning={"API_READY_SECONDS": "1"}
    )
    assert not unreachable.ok
    assert "did not answer /healthz within 1s" in unreachable.stderr
    harness.stop(sandbox)


# --- what a hostile review found (and the fixes keep) ---------------------------------------


FORGED = '##### deepseek-result: {"step":"%s","changed":false,%s}'


def test_a_tool_output_without_a_final_newline_cannot_forge_the_result(harness):
    """A tool whose output ends without a newline must not glue itself onto the result line,
    which would leave an earlier, forged result line the last one the program reads."""
    case = BY_ID["kubeadm-init"]
    sandbox = harness.clone(harness.prepared(case), case)
    harness.run(sandbox, case)
    forged = FORGED % ("kubeadm-init", '"caCertHash":"sha256:forged","node":"forged"')
    sandbox.set_hook(
        "apt-get", "after", f"[[ $1 == update ]] && printf '%s\\n%s' '{forged}' 'Done. '\n"
    )
    # The Kubernetes repository moved: apt-get update is the step's last tool to print.
    environment = {
        **case.environment(harness.graph),
        "KUBERNETES_APT_REPO": "https://apt.bank.internal/kubernetes/v1.31/deb/",
    }
    run = sandbox.run(case.step, environment, case.secret_values())
    assert run.ok, run.explain()
    assert (run.result["caCertHash"], run.result["node"]) == (ca_hash(), "dca-cp-1")

    # lib.sh's result line itself, straight after such a tool (on any step).
    forged = FORGED % ("net-server", '"port":"1","server":"forged"')
    sandbox.set_hook("apt-get", "after", f"printf '%s\\n%s' '{forged}' 'Done. '\n")
    emitted = sandbox.exec(
        "sudo", "bash", "-s",
        input=LIB.read_text()
        + "apt-get update\nresult_field port 5201\nresult_field server running\n"
        + "result_emit net-server\n",
    )  # fmt: skip
    assert emitted.returncode == 0, emitted.stderr
    assert "Done. " in emitted.stdout
    assert parse_result("net-server", emitted.stdout)["server"] == "running"
    harness.stop(sandbox)


def test_invalid_utf8_from_tools_never_reaches_the_output(harness):
    """protobuf refuses invalid UTF-8 in a string field: stdout or stderr holding any would
    fail the provider with a message naming no host. Tools print some: in a value that
    reaches the result (`containerd --version`), and in what apt-get prints."""
    case = BY_ID["container-runtime"]
    sandbox = harness.clone(harness.prepared(case), case)
    bad = r"\xff\xfe\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf\xc3"
    sandbox.set_hook("containerd", "before", f"[[ $1 == --version ]] && printf '{bad}'\n")
    sandbox.set_hook("apt-get", "before", f"printf '{bad}\\n'; printf '{bad}\\n' >&2\n")
    run = sandbox.run(case.step, case.environment(harness.graph))
    assert run.ok, run.explain()
    assert not run.invalid_utf8(), run.invalid_utf8()
    # The invalid bytes are dropped, the rest kept.
    assert run.result["containerd"].strip() == "containerd github.com/containerd/containerd 1.7.12"
    harness.stop(sandbox)


def secret_places(run: Run) -> list[str]:
    """Where a secret of these tests (or the token's secret half alone) shows in what the run
    printed."""
    leaks = []
    for name, secret in {**SECRETS, "the token's secret half": TOKEN.split(".")[1]}.items():
        for stream in ("stdout", "stderr"):
            if secret in getattr(run, stream):
                leaks.append(f"{name} in the {stream}")
    return leaks


@pytest.mark.parametrize("case_id", ["kubeadm-init", "kubeadm-join-control-plane"])
def test_a_failed_kubeadm_step_prints_no_secret_and_keeps_its_output_in_a_root_only_log(
    harness, case_id
):
    """pulumi-command puts all of a failed command's stdout and stderr into the update's
    plain error, whatever `logging` says: kubeadm failing right after it printed the token
    and the certificate key (its configuration at --v=5, a join command) must not bring them
    there. Its whole output is in the step's log on the host, readable by root only."""
    case = BY_ID[case_id]
    sandbox = harness.clone(harness.prepared(case), case)
    clean_run, _ = harness.clean(case)
    kubeadm = next(c for c in clean_run.calls if c.tool == "kubeadm" and c.argv[0] != "reset")
    # And what merely looks like a secret (another token, a key, a kubeconfig's key data).
    lookalikes = ("z9y8x7.w6v5u4t3s2r1q0p9", "ab" * 32, "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1J")
    sandbox.set_hook(
        "kubeadm",
        "after",
        f"echo 'token: {lookalikes[0]}'; echo 'certificate key {lookalikes[1]} used' >&2\n"
        f"echo '    client-key-data: {lookalikes[2]}'\n",
    )
    failed = harness.run(sandbox, case, fail=Failure(kubeadm, 1, "verbose"))
    sandbox.set_hook("kubeadm", "after", None)
    assert not failed.ok
    assert not secret_places(failed), "\n".join(secret_places(failed)) + failed.explain()
    assert "client-key-data: <masked>" in failed.stderr, failed.stderr
    assert not [text for text in lookalikes if text in failed.stderr], failed.stderr
    log_path = f"/var/log/deepseek/{case.step}.log"
    assert log_path in failed.stderr, failed.stderr
    # A short tail of the log, secrets masked: kubeadm's own error is there to read.
    assert "error execution phase" in failed.stderr or "could not initialize" in failed.stderr
    assert len(failed.stderr.splitlines()) <= 30, failed.stderr
    log = sandbox.path(log_path)
    text = log.read_text()
    assert TOKEN in text and CERTIFICATE_KEY in text, text  # the full output
    info = log.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    # The next run recovers; the failed run's log is kept beside the new one, root only too.
    recovered = harness.run(sandbox, case)
    assert not secret_places(recovered)
    previous = sandbox.path(log_path + ".1")
    assert TOKEN in previous.read_text() and stat.S_IMODE(previous.stat().st_mode) == 0o600
    assert TOKEN not in log.read_text()
    harness.stop(sandbox)


def installed(sandbox: Sandbox, package: str) -> tuple[str, str]:
    """(version, selection) of a package in the sandboxed host's dpkg database."""
    for line in sandbox.path("/var/lib/standin/dpkg/status").read_text().splitlines():
        fields = line.split("\t")
        if fields[0] == package:
            return fields[1], fields[3]
    raise AssertionError(f"{package} is not installed")


def test_a_changed_package_pin_is_applied(harness):
    """`nvidia.containerToolkitPackage: nvidia-container-toolkit=1.17.3-1`, then another
    version: the installed version follows the pin, up or down, held or not."""
    case = BY_ID["nvidia-stack"]
    sandbox = harness.clone(harness.prepared(case), case)
    environment = case.environment(harness.graph)
    toolkit = environment["TOOLKIT_PACKAGE"].split("=")[0]

    def pinned(version: str) -> Run:
        return harness.settle(
            sandbox,
            case,
            sandbox_run(
                harness, sandbox, {**environment, "TOOLKIT_PACKAGE": f"{toolkit}={version}"}
            ),
        )

    assert pinned("1.17.3-1").ok and installed(sandbox, toolkit)[0] == "1.17.3-1"
    upgraded = pinned("1.17.4-1")
    assert upgraded.result["changed"] is True, upgraded.explain()
    assert installed(sandbox, toolkit)[0] == "1.17.4-1"
    assert pinned("1.17.4-1").result["changed"] is False
    # Held (by a person, or an earlier tool), and pinned back to the older version.
    sandbox.exec("sudo", "apt-mark", "hold", toolkit)
    downgraded = pinned("1.17.3-1")
    assert downgraded.result["changed"] is True, downgraded.explain()
    assert installed(sandbox, toolkit) == ("1.17.3-1", "hold")
    (install,) = [c for c in downgraded.calls if c.argv[:1] == ("install",)]
    assert {"--allow-downgrades", "--allow-change-held-packages"} <= set(install.argv)
    assert pinned("1.17.3-1").result["changed"] is False
    harness.stop(sandbox)


def sandbox_run(harness: Harness, sandbox: Sandbox, environment: dict[str, str]) -> Run:
    """A run of nvidia-stack with these inputs, checked as Harness.run checks one."""
    run = sandbox.run("nvidia-stack", environment)
    assert not run.invalid_utf8()
    assert run.ok, run.explain()
    assert_changed_is_honest(run)
    return run


def test_preflight_removes_only_what_it_made(harness):
    """Its clean-up removes the fio file and the folders it created if they are empty, never
    what else appeared in them during the run (a file system automounted there)."""
    case = BY_ID["preflight"]
    sandbox = harness.clone(harness.prepared(case), case)
    directory = "/var/lib/deepseek-preflight-new/disk"
    sandbox.set_hook(
        "fio",
        "before",
        'for a in "$@"; do [[ $a == --filename=* ]] && dir=$(dirname "${a#--filename=}"); done\n'
        'mkdir -p "${dir}/automount" && echo data >"${dir}/automount/volume.txt"\n',
    )
    run = sandbox.run(
        "preflight",
        {**case.environment(harness.graph), "PREFLIGHT_DIR": directory, "PEER_ADDRESS": ""},
    )
    assert run.ok, run.explain()
    assert sandbox.path(f"{directory}/automount/volume.txt").read_text() == "data\n"
    assert not sandbox.path(f"{directory}/fio-preflight.dat").exists()
    # Without anything appearing, it leaves no folder behind (the clean run's host: unchanged).
    sandbox.set_hook("fio", "before", None)
    sandbox.exec("rm", "-r", "/var/lib/deepseek-preflight-new")
    again = sandbox.run(
        "preflight",
        {**case.environment(harness.graph), "PREFLIGHT_DIR": directory, "PEER_ADDRESS": ""},
    )
    assert again.ok and not again.host_changed, "\n".join(again.changes())
    harness.stop(sandbox)


@pytest.mark.parametrize(
    ("case_id", "variable", "values", "message"),
    [
        (
            "os-prep",
            "NTP_SERVERS",
            ["10.200.0.123 *", '10.200.0.123 ntp"1.bank.internal', "ntp-[ab].bank.internal", " "],
            "NTP_SERVERS",
        ),
        (
            "container-runtime",
            "MIRRORED_REGISTRIES",
            ["docker.io *", 'docker.io quay.io"', "docker.io ../../etc", "_default"],
            "MIRRORED_REGISTRIES",
        ),
        (
            "container-runtime",
            "IMAGE_REGISTRY",
            ['registry.bank.internal/deep"seek', "registry.bank.internal/*", "/deepseek"],
            "IMAGE_REGISTRY",
        ),
    ],
)
def test_a_list_or_name_with_glob_or_quote_characters_is_refused_before_any_change(
    harness, case_id, variable, values, message
):
    """Lists were split unquoted (so globbed), and registry names written into TOML strings:
    each script checks what it is given itself and refuses it before it changes anything."""
    case = BY_ID[case_id]
    sandbox = harness.clone(harness.prepared(case), case)
    for value in values:
        run = sandbox.run(case.step, {**case.environment(harness.graph), variable: value})
        assert not run.ok, f"{variable}={value!r} was accepted:\n{run.explain()}"
        assert message in run.stderr and "refused" in run.stderr, run.stderr
        assert not run.host_changed and not run.calls, run.explain()
    harness.stop(sandbox)


def _cmdline(process: Path) -> str:
    try:
        return (process / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# --- last: the machine that ran all of the above -------------------------------------------------
def _pid_namespace(process: Path) -> str:
    try:
        return os.readlink(process / "ns" / "pid")
    except OSError:
        return ""


def test_the_machine_running_the_harness_is_unchanged(machine_before, harness):
    harness.close()
    for sandbox in harness._prepared.values():
        sandbox.stop()
    assert CREATED_ROOTS, "the harness made no sandbox: this test proves nothing"
    assert not [root for root in CREATED_ROOTS if root.exists()]
    # Processes of our sandboxes (an iperf3 server, a stand-in) in any of their PID
    # namespaces, or their unshare naming one of our roots; another run's are not ours.
    assert CREATED_PID_NAMESPACES
    leftovers = [
        _cmdline(entry)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and (
            _pid_namespace(entry) in CREATED_PID_NAMESPACES
            or any(str(root) in _cmdline(entry) for root in CREATED_ROOTS)
        )
    ]
    assert not leftovers, f"processes of a sandbox outlived it: {leftovers}"
    after = machine_snapshot()
    changed = {
        key: (machine_before[key], after.get(key))
        for key in machine_before
        if machine_before[key] != after.get(key)
    }
    assert not changed, changed
