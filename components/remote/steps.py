"""The registry of remote steps and how one is run: a script file on the shell's stdin (after
lib.sh), its inputs as environment variables, re-run when the script or an input changes; and
the output contract: the one result line a step prints, the only part the program parses.
Pure functions."""

import base64
import binascii
import functools
import hashlib
import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

COMPONENTS_DIR = Path(__file__).resolve().parent.parent
LIB = Path(__file__).resolve().parent / "lib.sh"
"""Shared functions and the result line, sent ahead of every script that uses it."""

RESULT_MARKER = "##### deepseek-result: "
"""Starts the one line of a step's stdout that the program reads (lib.sh `result_emit`)."""

_ENCODED = ".b64"
MAX_STDOUT_CHARS = 16 * 1024 * 1024
"""More than any step prints (the largest, preflight, is tens of kilobytes)."""


@dataclass(frozen=True)
class Step:
    """One remote step: what it runs, what it reads, what it promises to print."""

    name: str
    layer: str
    """The layer whose `scripts/` folder holds `<name>.sh`."""
    inputs: tuple[str, ...]
    """Environment variables the script reads from its command line."""
    secret_inputs: tuple[str, ...] = ()
    """Environment variables that arrive as `export` lines on stdin (secrets)."""
    result: tuple[str, ...] = ()
    """Fields its result line always holds (tool outputs without their `.b64` suffix)."""
    optional_result: tuple[str, ...] = ()
    """Fields its result line may hold (a tool that runs only on some hosts)."""
    secret_stdout: bool = False
    """Its stdout carries a secret: a secret output, and never logged."""
    uses_lib: bool = True
    """lib.sh (shared functions and the result line) is sent ahead of the script."""

    @property
    def script(self) -> Path:
        return COMPONENTS_DIR / self.layer / "scripts" / f"{self.name}.sh"


_KUBEADM = ("KUBERNETES_VERSION", "KUBERNETES_APT_REPO", "KUBEADM_CONFIG", "HOST_READY")

STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step(
            "net-server",
            "metal",
            ("IPERF_PORT", "IPERF_SERVER_SECONDS", "IPERF_CLIENT"),
            result=("port", "server"),
        ),
        Step(
            "preflight",
            "metal",
            (
                "PREFLIGHT_DIR",
                "FIO_SIZE_MIB",
                "FIO_RUNTIME_SECONDS",
                "PEER_ADDRESS",
                "IPERF_PORT",
                "IPERF_SECONDS",
                "COUNT_PCI_GPUS",
            ),
            result=("fio",),
            optional_result=("iperf3", "lspci"),
        ),
        Step(
            "os-prep",
            "metal",
            ("PREFLIGHT_VERDICT", "APT_MIRROR", "NTP_SERVERS", "RDMA", "HUGEPAGES_2MI"),
            result=("kernel", "congestionControl"),
        ),
        Step(
            "container-runtime",
            "metal",
            ("IMAGE_REGISTRY", "MIRRORED_REGISTRIES"),
            result=("containerd",),
        ),
        Step(
            "nvidia-stack",
            "metal",
            ("DRIVER_MANAGED_BY", "DRIVER_PACKAGE", "TOOLKIT_PACKAGE"),
            result=("driver",),
            optional_result=("version",),
        ),
        Step(
            "gpu-check",
            "metal",
            # CHANGE: on a live host, the digest of the change it verifies (rollout.py).
            ("GPU_QUERY_FIELDS", "CHANGE"),
            result=("nvidia-smi-query", "nvidia-smi-topo"),
        ),
        Step(
            "kubeadm-init",
            "kubernetes",
            (*_KUBEADM, "KUBE_VIP_MANIFEST"),
            secret_inputs=("KUBEADM_TOKEN", "KUBEADM_CERTIFICATE_KEY"),
            result=("caCertHash", "node"),
            # kubeadm's own output on a failed init can echo the configuration it read.
            secret_stdout=True,
        ),
        Step(
            "kubeadm-join",
            "kubernetes",
            (*_KUBEADM, "CONTROL_PLANE", "KUBEADM_CA_CERT_HASH", "KUBE_VIP_MANIFEST"),
            secret_inputs=("KUBEADM_TOKEN", "KUBEADM_CERTIFICATE_KEY"),
            result=("node",),
            secret_stdout=True,
        ),
        Step("admin-kubeconfig", "kubernetes", (), result=("kubeconfig",), secret_stdout=True),
        # Day-2 (components/kubernetes/rollout.py): update-only steps, run when a live host
        # changes. Drain and uncordon run on the site's first control plane (admin.conf);
        # CHANGE is the digest of the host's change, so both run whenever the host changes.
        Step(
            "node-drain",
            "kubernetes",
            ("NODE", "DRAIN_TIMEOUT_SECONDS", "CHANGE"),
            result=("node", "drained"),
            optional_result=("drainedAt",),
        ),
        Step(
            "kubeadm-upgrade",
            "kubernetes",
            ("KUBERNETES_VERSION", "KUBERNETES_APT_REPO", "UPGRADE_ROLE", "HOST_READY"),
            result=("node", "from", "to"),
        ),
        # A host's removal (delete-only): drained (node-drain), reset, its node deleted.
        Step("kubeadm-reset", "kubernetes", (), result=("node", "reset")),
        Step(
            "node-delete",
            "kubernetes",
            ("NODE", "DELETE_TIMEOUT_SECONDS"),
            result=("node", "deleted"),
        ),
        Step(
            "node-uncordon",
            "kubernetes",
            (
                "NODE",
                "READY_TIMEOUT_SECONDS",
                "GPU_RESOURCE",
                "GPU_ALLOCATABLE",
                "CHANGE",
                "VERIFIED",
                "DRAINED_AT",
            ),
            result=("node", "uncordoned"),
        ),
        Step("api-ready", "kubernetes", ("API_ENDPOINT",), result=("endpoint",)),
        # Off-site etcd snapshots (components/kubernetes/etcd_snapshots.py): a timer on each
        # control plane of a site with a backup target, its key and S3 keys on stdin.
        Step(
            "etcd-snapshot",
            "kubernetes",
            (
                "NODE",
                "RGW_ENDPOINT",
                "BUCKET",
                "RETENTION_DAYS",
                "SNAPSHOT_SCRIPT",
                "SERVICE_UNIT",
                "TIMER_UNIT",
            ),
            secret_inputs=("ETCD_SNAPSHOT_KEY", "RGW_ACCESS_KEY", "RGW_SECRET_KEY"),
            result=("timer", "bucket", "endpoint"),
        ),
        # The data layer (components/storage/ceph_cluster.py): Ceph on each site's storage
        # hosts. Host-prep runs on every storage host; the others on the site's first one.
        Step(
            "ceph-host-prep",
            "storage",
            (
                "CEPH_VERSION",
                "CEPH_APT_REPO",
                "CEPH_IMAGE",
                "IMAGE_REGISTRY",
                "MIRRORED_REGISTRIES",
                "CEPHADM_PUBLIC_KEY",
                "HOST_READY",
            ),
            result=("cephadm", "podman"),
        ),
        Step(
            "ceph-bootstrap",
            "storage",
            ("CEPH_IMAGE", "MON_IP", "FSID", "HOST_NAME"),
            result=("fsid", "monHost", "publicKey"),
        ),
        Step("ceph-host-add", "storage", ("HOST_NAME", "HOST_ADDRESS"), result=("host", "address")),
        Step(
            "ceph-osds",
            "storage",
            ("SERVICE_SPECS", "SERVICES", "OSDS_EXPECTED"),
            result=("osdsExpected", "osdsUp"),
        ),
        Step(
            "ceph-pools",
            "storage",
            (
                "REPLICA_SIZE",
                "MIN_SIZE",
                "CRUSH_RULE",
                "RBD_POOL",
                "DEVICE_CLASSES",
                "BACKUP_CLASS",
                "BACKUP_PLACEMENT",
            ),
            result=("pool", "crushRule", "backupPlacement", "backupPool", "backupCrushRule"),
        ),
        Step(
            "ceph-rgw",
            "storage",
            ("RGW_SPECS", "SERVICES", "RGW_ENDPOINT", "HAPROXY_IMAGE", "KEEPALIVED_IMAGE"),
            result=("endpoint",),
        ),
        Step(
            "ceph-rgw-user",
            "storage",
            ("RGW_USER", "BUCKET", "PLACEMENT", "RGW_ENDPOINT"),
            secret_inputs=("RGW_ACCESS_KEY", "RGW_SECRET_KEY"),
            result=("user", "bucket", "placement"),
            # Its tools' output holds the user's keys; none reaches its stdout, and should one
            # ever, it stays a secret.
            secret_stdout=True,
        ),
        Step(
            "ceph-client-key",
            "storage",
            ("CSI_USER", "RBD_POOL"),
            result=("user", "key"),
            secret_stdout=True,
        ),
        # The model cache's directory on each GPU host its volume spans
        # (components/storage/model_cache.py).
        Step("model-cache-dir", "storage", ("CACHE_PATH", "CACHE_UID"), result=("path",)),
    )
}


UPDATE_ONLY_STEPS = (
    "node-drain",
    "kubeadm-upgrade",
    "node-uncordon",
    "kubeadm-reset",
    "node-delete",
)
"""Steps that never run at creation: a rollout's `update`, a removal's `delete`."""


class StepOutputError(ValueError):
    """A step's stdout breaks the output contract; the message says what was wrong."""


def printable(text: str) -> str:
    """`text` for a message a person reads in a terminal: every character that is not
    printable (ESC, BEL, CSI, line breaks, ...) shown as its escape, so a tool's output can
    neither redraw the terminal nor add lines to the message."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def step(name: str) -> Step:
    try:
        return STEPS[name]
    except KeyError:
        raise KeyError(f"unknown remote step {name!r}; registered: {', '.join(STEPS)}") from None


def step_script(name: str) -> Path:
    return step(name).script


@functools.cache
def script_text(script: Path) -> str:
    """What a step sends on stdin: lib.sh, then the script."""
    body = script.read_text()
    registered = {s.script: s for s in STEPS.values()}.get(script)
    if registered is None or registered.uses_lib:
        return LIB.read_text() + "\n" + body
    return body


def script_digest(script: Path) -> str:
    return hashlib.sha256(script_text(script).encode()).hexdigest()


@functools.cache
def step_by_digest() -> dict[str, Step]:
    """Each registered step by the digest its Command carries first in `triggers`."""
    return {script_digest(s.script): s for s in STEPS.values()}


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


def parse_result(name: str, stdout: str) -> dict[str, str | bool]:
    """The result of step `name` from its stdout: the last result line, decoded (`.b64`
    fields become the tool's text). Raises StepOutputError saying what is wrong."""
    spec = step(name)
    if not isinstance(stdout, str):
        raise StepOutputError(f"its stdout is not text ({type(stdout).__name__})")
    if len(stdout) > MAX_STDOUT_CHARS:
        raise StepOutputError(
            f"printed {len(stdout):,} characters, more than the {MAX_STDOUT_CHARS:,} a step may"
        )
    # Lines end at "\n" alone, as the scripts print them: str.splitlines() would also break
    # the result line at U+2028, U+2029 or U+0085 inside one of its values (json_string
    # keeps non-ASCII as it is) and refuse a valid result.
    lines = [line for line in stdout.split("\n") if line.startswith(RESULT_MARKER)]
    if not lines:
        tail = stdout.strip().splitlines()[-1:]
        if spec.secret_stdout:
            # The message is plain text (an update's error): a secret stdout is never quoted.
            shown = "not shown: this step's stdout is secret" if tail else "nothing"
            raise StepOutputError(f"printed no result line ({shown}); was it cut short?")
        raise StepOutputError(
            f"printed no result line (its last line: {(tail or ['(nothing)'])[0][:120]!r}); "
            "was it cut short?"
        )
    try:
        document = json.loads(lines[-1][len(RESULT_MARKER) :])
    except (ValueError, RecursionError) as error:
        # JSONDecodeError is a ValueError; so are over-long integers; deep nesting recurses.
        problem = str(error)[:120] or type(error).__name__
        raise StepOutputError(f"its result line is not valid JSON ({problem})") from None
    if not isinstance(document, dict):
        raise StepOutputError("its result line is not a JSON object")
    if document.get("step") != name:
        other = document.get("step")
        known = isinstance(other, str) and other in STEPS
        shown = f"{other!r}" if known or not spec.secret_stdout else "another step"
        raise StepOutputError(f"its result line is for step {shown}")
    if not isinstance(document.get("changed"), bool):
        raise StepOutputError("its result line has no true/false 'changed'")
    fields: dict[str, str | bool] = {"changed": document["changed"]}
    for key, value in document.items():
        if key in ("step", "changed"):
            continue
        if not isinstance(value, str):
            raise StepOutputError(f"result field {key!r} is not a string")
        if key.endswith(_ENCODED):
            key = key.removesuffix(_ENCODED)
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
            except (binascii.Error, ValueError):
                raise StepOutputError(f"result field {key!r} is not valid base64") from None
        if key in fields:
            raise StepOutputError(f"its result line gives field {key!r} twice")
        fields[key] = value
    missing = [key for key in spec.result if key not in fields]
    if missing:
        raise StepOutputError(f"its result line lacks {', '.join(missing)}")
    unknown = sorted(set(fields) - {"changed", *spec.result, *spec.optional_result})
    if unknown:
        raise StepOutputError(f"its result line has fields the step does not promise: {unknown}")
    return fields


def format_result(name: str, fields: Mapping[str, str], *, changed: bool = False) -> str:
    """The result line as lib.sh prints it (for simulated steps and tests); tool outputs
    (fields the step lists as tool outputs) are base64-encoded as the script encodes them."""
    document: dict[str, str | bool] = {"step": name, "changed": changed}
    for key, value in fields.items():
        if key in _TOOL_OUTPUTS:
            document[key + _ENCODED] = base64.b64encode(value.encode()).decode()
        else:
            document[key] = value
    return RESULT_MARKER + json.dumps(document, separators=(",", ":")) + "\n"


# Fields that carry a tool's output verbatim (`.b64` on the result line).
_TOOL_OUTPUTS = frozenset(
    {"fio", "iperf3", "lspci", "nvidia-smi-query", "nvidia-smi-topo", "kubeconfig"}
)
