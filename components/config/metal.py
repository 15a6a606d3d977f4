"""The bare-metal layer's config: hosts (GPUs, NICs, BMC, paths the platform writes), the
preflight minimums, the NVIDIA stack and how the deploy reaches the hosts over SSH."""

import base64
import binascii
import posixpath
import re
from ipaddress import IPv4Address
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from components.config.base import DnsLabel, FieldError, GpuModelName, Model

SSH_HOST_KEY = re.compile(
    r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$"
)


def _embedded_key_type(body: str) -> str | None:
    """The key type an SSH public key blob names in its first field (RFC 4253 6.6: a uint32
    length and the name), or None when the body is not base64 of such a blob with more after
    the name."""
    try:
        blob = base64.b64decode(body, validate=True)
    except binascii.Error:
        return None
    if len(blob) < 4:
        return None
    length = int.from_bytes(blob[:4], "big")
    if len(blob) <= 4 + length:
        return None
    # ed25519: name then a 32-byte key; the others carry more fields, at least that long.
    if len(blob) < 4 + length + 4 + 32:
        return None
    try:
        return blob[4 : 4 + length].decode("ascii")
    except UnicodeDecodeError:
        return None


class GpuSpec(Model):
    """GPUs installed in one host."""

    model: GpuModelName
    count: int = Field(ge=1, le=16)


class Nic(Model):
    """A data-plane network interface."""

    name: str = Field(pattern=r"^[a-zA-Z0-9._-]{1,15}$")
    speed_gbps: int = Field(ge=1, le=1600)
    rdma: bool = False


HostRole = Literal["control-plane", "worker", "storage"]
NodePool = Literal["general", "inference", "training"]
HOST_PATH_PREFIXES = ("/var/lib", "/srv", "/data", "/mnt", "/opt")
"""Where a directory the platform writes on a host may be: data areas, never the system's own
trees (/, /etc, /usr, /boot, /proc, /sys, /dev, ...)."""


def _host_path(path: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", path):
        raise FieldError(
            "may hold only letters, digits and . _ - / (no whitespace, quotes, $ or other "
            "characters a shell would interpret)",
            "use a plain absolute path such as /var/lib/deepseek-preflight",
        )
    if not path.startswith("/"):
        raise FieldError("is not an absolute path", "start it with /, e.g. /var/lib/deepseek")
    # normpath folds `..`, `.`, `//` and a trailing slash: any difference is one of them.
    if path.startswith("//") or posixpath.normpath(path) != path:
        resolved = posixpath.normpath("/" + path.lstrip("/"))
        raise FieldError(
            f"is not a normalized path: it resolves to {resolved}",
            f"write the directory "
            f"itself, without '..', '.', '//' or a trailing '/', below one of "
            f"{', '.join(HOST_PATH_PREFIXES)}",
        )
    if not any(path.startswith(prefix + "/") for prefix in HOST_PATH_PREFIXES):
        raise FieldError(
            "is outside the directories the platform may write on a host",
            f"use a directory below one of {', '.join(HOST_PATH_PREFIXES)}",
        )
    return path


RerunToken = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
"""A value whose only meaning is its change: changing it runs a step again."""

HostPath = Annotated[str, AfterValidator(_host_path)]
"""A directory the platform writes on a host: absolute, normalized, below `HOST_PATH_PREFIXES`."""


def _not_a_directory(device: str) -> str:
    if device.rsplit("/", 1)[1] in (".", ".."):
        raise FieldError(
            f"names the directory {posixpath.normpath(device)}, not a device",
            "name the whole disk, e.g. /dev/nvme0n1 or /dev/disk/by-id/nvme-<model>_<serial>",
        )
    return device


DiskDevice = Annotated[
    str,
    StringConstraints(
        pattern=r"^/dev/(disk/by-(id|path)/[A-Za-z0-9:._+-]{1,128}|(nvme[0-9]{1,3}n[0-9]{1,3}|[sv]d[a-z]{1,3}))$"
    ),
    AfterValidator(_not_a_directory),
]
"""A whole block device: `/dev/nvme0n1`, `/dev/sdb`, or a stable `/dev/disk/by-id/...` name
(never a partition: cephadm's OSD spec takes whole devices)."""


class Disk(Model):
    """A whole device of a storage host given to Ceph as one OSD (its data is wiped)."""

    device: DiskDevice
    size_gb: int = Field(ge=1, le=1_000_000)
    media: Literal["nvme", "ssd", "hdd"]


class Host(Model):
    """One bare-metal server."""

    name: DnsLabel
    address: IPv4Address
    roles: list[HostRole] = Field(min_length=1)
    host_key: str
    """The host's SSH public host key (`ssh-keyscan` output without the host name): pinned,
    so that a man-in-the-middle cannot receive the deploy key's session."""
    gpu: GpuSpec | None = None
    node_pool: NodePool = "general"
    """Which workloads the host is for; `inference` and `training` need GPUs."""
    nics: list[Nic] = []
    preflight_dir: HostPath = "/var/lib/deepseek-preflight"
    """Directory on the data disk where fio writes its test file (never a raw device)."""
    hugepages_2mi: int = Field(default=0, ge=0, le=1_000_000)
    """2 MiB hugepages to reserve (RDMA and DPDK workloads); 0 leaves the kernel default."""
    reachable: bool = True
    """false for a host that is dead or gone: no change reaches it any more, and when it is
    taken out of config only the cluster's side of its removal runs (its node is deleted from
    a control plane; nothing dials the host). Set it, `pulumi up`, then remove the host."""
    disks: list[Disk] = []
    """Whole devices given to Ceph as OSDs (role `storage` only; their data is wiped)."""
    remeasure: RerunToken | None = None
    """Change it (e.g. to today's date) to run this host's preflight measurements again; on a
    live host nothing else does (a changed minimum re-judges the stored measurements)."""

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise FieldError("a role is listed twice", "list each role once")
        return roles

    @field_validator("host_key")
    @classmethod
    def _host_key_format(cls, key: str) -> str:
        fix = (
            "paste the key type and base64 body "
            "as `ssh-keyscan -t ed25519 <host>` prints them, e.g. 'ssh-ed25519 AAAAC3...'"
        )
        if not SSH_HOST_KEY.match(key.strip()):
            raise FieldError("not an SSH public host key", fix)
        kind, body = key.strip().split(" ")
        embedded = _embedded_key_type(body)
        if embedded != kind:
            raise FieldError(
                f"says {kind} but its body "
                + (f"is an {embedded} key" if embedded else "is not a whole SSH key (truncated?)"),
                fix,
            )
        return key.strip()

    @property
    def rdma(self) -> bool:
        return any(nic.rdma for nic in self.nics)


class Preflight(Model):
    """Minimums the preflight diagnostics must measure before a host is configured."""

    min_disk_iops: dict[HostRole, Annotated[int, Field(ge=0, le=100_000_000)]] = {
        "control-plane": 5000,
        "worker": 20000,
        "storage": 40000,
    }
    """4K random read+write IOPS (fio, direct I/O) per role."""
    min_network_gbps: dict[HostRole, Annotated[float, Field(ge=0, le=1600)]] = {
        "control-plane": 5,
        "worker": 20,
        "storage": 20,
    }
    """TCP throughput to the peer host (iperf3) per role."""
    fio_size_mib: int = Field(default=1024, ge=64, le=1_048_576)
    fio_runtime_seconds: int = Field(default=30, ge=5, le=600)
    iperf_seconds: int = Field(default=10, ge=3, le=120)
    iperf_port: int = Field(default=5201, ge=1024, le=65535)

    def minimum_for(self, table: dict[str, float], roles: list[str]) -> float:
        return max(table.get(role, 0) for role in roles)


class Nvidia(Model):
    """How the NVIDIA stack reaches GPU hosts."""

    driver_managed_by: Literal["host", "gpu-operator"] = "host"
    """`host`: the driver package below is installed over SSH; `gpu-operator`: its
    driver container installs it inside Kubernetes."""
    driver_package: str = Field(default="nvidia-driver-535", pattern=r"^[a-z0-9][a-z0-9.+-]+$")
    """Driver package from the internal apt mirror (the guide's nvidia-driver-535)."""
    container_toolkit_package: str = Field(
        default="nvidia-container-toolkit",
        pattern=r"^[a-z0-9][a-z0-9.+-]+(=[0-9][A-Za-z0-9.+~:-]*)?$",
    )
    """A package name, optionally pinned as `name=version` (a Debian version, epoch allowed)."""


class Ssh(Model):
    """How the deploy reaches the hosts. The private key is the `sshPrivateKey` secret."""

    user: str = Field(default="deploy", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    port: int = Field(default=22, ge=1, le=65535)
