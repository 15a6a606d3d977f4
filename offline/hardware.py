"""Simulated hardware for the offline evaluation: what each remote step would print on the
host that the stack config declares, in the exact format of the real tool (fio and iperf3
JSON as in ../shared/fixtures, nvidia-smi CSV and topology matrix, lspci -nn).

Faults can be injected per host to exercise the preflight gate through the whole program.
"""

import base64
import functools
import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar

from components.catalog import GPU_MODELS
from components.remote.steps import STEPS, UPDATE_ONLY_STEPS, format_result, parse_shell_command

# PCI device IDs of the GPUs we simulate (pci-ids database), and NVSwitch bridges.
_PCI = {
    "A100-40GB": ("GA100 [A100 SXM4 40GB]", "20b0"),
    "A100-80GB": ("GA100 [A100 SXM4 80GB]", "20b2"),
    "V100-16GB": ("GV100GL [Tesla V100 SXM2 16GB]", "1db1"),
    "V100-32GB": ("GV100GL [Tesla V100 SXM2 32GB]", "1db5"),
    "A40": ("GA102GL [A40]", "2235"),
    "L40S": ("AD102GL [L40S]", "26b9"),
    "H100-80GB": ("GH100 [H100 SXM5 80GB]", "2330"),
    "H200": ("GH100 [H200 SXM 141GB]", "2335"),
}
_NVLINK_CODE = {
    "A100-40GB": "NV12",
    "A100-80GB": "NV12",
    "H100-80GB": "NV18",
    "H200": "NV18",
    "V100-16GB": "NV2",
    "V100-32GB": "NV2",
}


@dataclass
class HardwareFaults:
    """What is wrong with one simulated host."""

    gpus_missing: int = 0
    """GPUs that nvidia-smi and lspci do not see."""
    pairs_without_nvlink: list[tuple[int, int]] = field(default_factory=list)
    disk_iops: float | None = None
    network_gbps: float | None = None
    peer_refused: bool = False
    tool_outputs: dict[str, str] = field(default_factory=dict)
    """A tool's raw output on this host in place of the simulated one, by result field:
    "fio", "iperf3", "lspci" (preflight), "nvidia-smi-query", "nvidia-smi-topo" (gpu-check)."""
    truncate_step: str | None = None
    """The step whose stdout is cut short before its result line (a killed script, a dropped
    connection)."""

    TOOLS: ClassVar[tuple[str, ...]] = (
        "fio",
        "iperf3",
        "lspci",
        "nvidia-smi-query",
        "nvidia-smi-topo",
    )
    """The result fields that hold a tool's printed output."""

    def __post_init__(self) -> None:
        # A misspelt tool or step would silently simulate a healthy host.
        unknown = sorted(set(self.tool_outputs) - set(self.TOOLS))
        if unknown:
            raise ValueError(f"tool_outputs: no step prints {unknown}; tools: {self.TOOLS}")
        if self.truncate_step is not None and self.truncate_step not in STEPS:
            raise ValueError(f"truncate_step: no step {self.truncate_step!r}")

    def replace_tool_outputs(self, step: str, fields: dict[str, str]) -> dict[str, str]:
        """The step's result fields with this host's replaced tool outputs."""
        spec = STEPS[step]
        promised = (*spec.result, *spec.optional_result)
        replaced = {tool: text for tool, text in self.tool_outputs.items() if tool in promised}
        return {**fields, **replaced}


def fio_json(read_iops: float, write_iops: float, directory: str) -> str:
    job = {
        "jobname": "preflight",
        "groupid": 0,
        "error": 0,
        "eta": 0,
        "elapsed": 31,
        "job options": {
            "name": "preflight",
            "filename": f"{directory}/fio-preflight.dat",
            "rw": "randrw",
            "rwmixread": "70",
            "bs": "4k",
            "size": "1024M",
            "runtime": "30",
            "time_based": "",
            "direct": "1",
            "ioengine": "libaio",
            "iodepth": "32",
        },
        "read": {
            "io_bytes": int(read_iops * 30 * 4096),
            "bw": int(read_iops * 4),
            "iops": read_iops,
            "runtime": 30001,
            "total_ios": int(read_iops * 30),
        },
        "write": {
            "io_bytes": int(write_iops * 30 * 4096),
            "bw": int(write_iops * 4),
            "iops": write_iops,
            "runtime": 30001,
            "total_ios": int(write_iops * 30),
        },
    }
    return json.dumps({"fio version": "fio-3.33", "jobs": [job]}, indent=2)


def iperf3_json(local: str, remote: str, gbps: float | None, error: str | None = None) -> str:
    if error:
        return json.dumps(
            {
                "start": {"connected": [], "version": "iperf 3.12"},
                "intervals": [],
                "end": {},
                "error": error,
            },
            indent="\t",
        )
    bits = (gbps or 0) * 1e9
    summary = {
        "start": 0,
        "end": 10.0,
        "seconds": 10.0,
        "bytes": int(bits * 10 / 8),
        "bits_per_second": bits,
        "sender": True,
    }
    return json.dumps(
        {
            "start": {
                "connected": [
                    {
                        "socket": 5,
                        "local_host": local,
                        "local_port": 41992,
                        "remote_host": remote,
                        "remote_port": 5201,
                    }
                ],
                "version": "iperf 3.12",
                "test_start": {"protocol": "TCP", "num_streams": 1, "duration": 10},
            },
            "intervals": [],
            "end": {"sum_sent": {**summary, "retransmits": 0}, "sum_received": summary},
        },
        indent="\t",
    )


def lspci(model: str, count: int) -> str:
    name, device = _PCI[model]
    lines = [
        f"{0x17 + 0x10 * i:02x}:00.0 3D controller [0302]: NVIDIA Corporation {name} "
        f"[10de:{device}] (rev a1)"
        for i in range(count)
    ]
    if model in ("A100-40GB", "A100-80GB", "H100-80GB", "H200") and count == 8:
        lines += [
            f"{0xC4 + i:02x}:00.0 Bridge [0680]: NVIDIA Corporation GA100 [A100 NVSwitch] "
            "[10de:1af1] (rev a1)"
            for i in range(6)
        ]
    return "\n".join(lines) + "\n"


def nvidia_smi_csv(model: str, count: int) -> str:
    gpu = GPU_MODELS[model]
    header = (
        "index, name, uuid, memory.total [MiB], driver_version, pci.bus_id, "
        "power.limit [W], power.draw [W], utilization.gpu [%], temperature.gpu, "
        "compute_cap"
    )
    rows = [
        f"{i}, {gpu.smi_product_names[0]}, GPU-{i:08x}-b8b7-f690-8b13-da867baa5cab, "
        f"{gpu.memory_gib * 1024 - 512} MiB, 535.183.01, 00000000:{0x17 + 0x10 * i:02X}:00.0, "
        f"400.00 W, 61.20 W, 0 %, 34, {gpu.compute_capability[0]}.{gpu.compute_capability[1]}"
        for i in range(count)
    ]
    return "\n".join([header, *rows]) + "\n"


def topology_matrix(model: str, count: int, broken: list[tuple[int, int]]) -> str:
    code = _NVLINK_CODE.get(model, "SYS")
    cols = "\t".join(f"GPU{i}" for i in range(count))
    lines = [f"\t\x1b[4m{cols}\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m"]
    for a in range(count):
        cells = []
        for b in range(count):
            if a == b:
                cells.append(" X ")
            elif (a, b) in broken or (b, a) in broken:
                cells.append("SYS")
            else:
                cells.append(code)
        numa = 0 if a < count / 2 else 1
        cpus = "0-63,128-191" if numa == 0 else "64-127,192-255"
        lines.append(f"GPU{a}\t" + "\t".join(cells) + f"\t{cpus}\t{numa}\t\tN/A")
    lines += [
        "",
        "Legend:",
        "",
        "  X    = Self",
        "  SYS  = Connection traversing PCIe as well as the SMP interconnect between "
        "NUMA nodes (e.g., QPI/UPI)",
        "  NV#  = Connection traversing a bonded set of # NVLinks",
    ]
    return "\n".join(lines) + "\n"


def admin_kubeconfig(cluster: str) -> str:
    """An admin.conf as kubeadm writes it (certificates replaced by stand-ins)."""
    stand_in = base64.b64encode(f"offline stand-in for {cluster}".encode()).decode()
    return (
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {stand_in}\n    server: https://{cluster}:6443\n"
        "  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n"
        "    user: kubernetes-admin\n  name: kubernetes-admin@kubernetes\n"
        "current-context: kubernetes-admin@kubernetes\nkind: Config\npreferences: {}\n"
        "users:\n- name: kubernetes-admin\n  user:\n"
        f"    client-certificate-data: {stand_in}\n    client-key-data: {stand_in}\n"
    )


def cephx_key(seed: str) -> str:
    """A well-formed cephx key, as `ceph auth get-key` prints it: type 1 (AES), a creation
    time, 16 bytes (derived from `seed`, so snapshots stay byte-identical)."""
    secret = hashlib.sha256(seed.encode()).digest()[:16]
    return base64.b64encode(struct.pack("<HIIH", 1, 1_700_000_000, 0, 16) + secret).decode()


def cephadm_public_key(fsid: str) -> str:
    """cephadm's SSH public key line (`ceph cephadm get-pub-key`): an RSA key, `ceph-<fsid>`."""
    body = base64.b64encode(
        b"\x00\x00\x00\x07ssh-rsa" + hashlib.sha512(fsid.encode()).digest() * 4
    ).decode()
    return f"ssh-rsa {body} ceph-{fsid}"


class SimulatedHardware:
    """Answers each remote step with what the declared host would print."""

    def __init__(self, raw_config: dict[str, str], faults: dict[str, HardwareFaults]) -> None:
        sites = json.loads(raw_config.get("deepseek-onprem:sites", "[]"))
        self.hosts: dict[str, dict[str, Any]] = {
            host["address"]: host for site in sites for host in site.get("hosts", [])
        }
        self.faults = faults

    def stdout(self, step: str, address: str, create: str) -> str:
        """What the step's script prints on this host: a human line and its result line,
        the same shape the real script prints (tests/external proves it in the sandbox)."""
        host = self.hosts.get(address, {"name": address, "roles": ["worker"]})
        fault = self.faults.get(host["name"], HardwareFaults())
        env = parse_shell_command(create) if create else {}
        human, fields = self._simulators[step](host, fault, address, env)
        fields = fault.replace_tool_outputs(step, fields)
        if fault.truncate_step == step:
            return f"{human}\n"
        return f"{human}\n" + format_result(step, fields)

    @functools.cached_property
    def _simulators(self) -> dict[str, Any]:
        simulators = {
            "net-server": lambda host, fault, address, env: (
                f"iperf3 server listening on port {env.get('IPERF_PORT', '5201')}",
                {"port": env.get("IPERF_PORT", "5201"), "server": "started"},
            ),
            "preflight": self._preflight,
            "os-prep": lambda host, fault, address, env: (
                "os-prep: kernel 5.15.0-119-generic, congestion control bbr",
                {"kernel": "5.15.0-119-generic", "congestionControl": "bbr"},
            ),
            "container-runtime": lambda host, fault, address, env: (
                "changed: /etc/containerd/certs.d/docker.io/hosts.toml",
                {"containerd": "containerd containerd.io 1.7.12"},
            ),
            "nvidia-stack": lambda host, fault, address, env: (
                "nvidia-stack: driver 535.183.01 loaded",
                {"driver": "loaded", "version": "535.183.01"},
            ),
            "gpu-check": self._gpu_check,
            "kubeadm-init": lambda host, fault, address, env: (
                # What the real script prints first (lib.sh's changed: lines) precedes it.
                "changed: /etc/apt/sources.list.d/deepseek-kubernetes.list",
                {
                    "caCertHash": "sha256:" + hashlib.sha256(address.encode()).hexdigest(),
                    "node": host["name"],
                },
            ),
            "kubeadm-join": lambda host, fault, address, env: (
                f"kubeadm-join: {host['name']} joined",
                {"node": host["name"]},
            ),
            "admin-kubeconfig": lambda host, fault, address, env: (
                "",
                {"kubeconfig": admin_kubeconfig(host.get("name", address))},
            ),
            "api-ready": lambda host, fault, address, env: (
                "api-ready: /healthz ok",
                {"endpoint": env.get("API_ENDPOINT", "")},
            ),
            "etcd-snapshot": lambda host, fault, address, env: (
                f"etcd-snapshot: deepseek-etcd-snapshot.timer active: snapshots of "
                f"{env.get('NODE', '')} to {env.get('RGW_ENDPOINT', '')}/{env.get('BUCKET', '')}",
                {
                    "timer": "active",
                    "bucket": env.get("BUCKET", ""),
                    "endpoint": env.get("RGW_ENDPOINT", ""),
                },
            ),
            "model-cache-dir": lambda host, fault, address, env: (
                f"model-cache-dir: {env.get('CACHE_PATH', '')} is "
                f"{env.get('CACHE_UID', '')}:{env.get('CACHE_UID', '')} 0755",
                {"path": env.get("CACHE_PATH", "")},
            ),
            **self._ceph_simulators,
        }
        # The rollout's update-only steps run nothing when created: nothing to simulate.
        assert set(simulators) == set(STEPS) - set(UPDATE_ONLY_STEPS), (
            "a registered step has no simulator"
        )
        return simulators

    @property
    def _ceph_simulators(self) -> dict[str, Any]:
        """The data layer's steps (components/storage/scripts), as the scripts print them."""
        return {
            "ceph-host-prep": lambda host, fault, address, env: (
                "ceph-host-prep: cephadm 18.2.4-1jammy, podman version 3.4.4",
                {
                    "cephadm": f"{env.get('CEPH_VERSION', '18.2.4')}-1jammy",
                    "podman": "podman version 3.4.4",
                },
            ),
            "ceph-bootstrap": lambda host, fault, address, env: (
                f"ceph-bootstrap: cluster {env.get('FSID', '')}, monitor {env.get('MON_IP', '')}",
                {
                    "fsid": env.get("FSID", ""),
                    "monHost": env.get("MON_IP", address),
                    "publicKey": cephadm_public_key(env.get("FSID", "")),
                },
            ),
            "ceph-host-add": lambda host, fault, address, env: (
                f"ceph-host-add: {env.get('HOST_NAME', '')} ({env.get('HOST_ADDRESS', '')}) "
                "is a host of the cluster",
                {"host": env.get("HOST_NAME", ""), "address": env.get("HOST_ADDRESS", "")},
            ),
            "ceph-osds": lambda host, fault, address, env: (
                f"ceph-osds: {env.get('OSDS_EXPECTED', '0')} OSDs up",
                {
                    "osdsExpected": env.get("OSDS_EXPECTED", "0"),
                    "osdsUp": env.get("OSDS_EXPECTED", "0"),
                },
            ),
            "ceph-pools": lambda host, fault, address, env: (
                f"ceph-pools: pool {env.get('RBD_POOL', '')}",
                {
                    "pool": env.get("RBD_POOL", ""),
                    "crushRule": f"{env.get('CRUSH_RULE', '')}-"
                    + (env.get("DEVICE_CLASSES", "").split() or [""])[0],
                    "backupPlacement": env.get("BACKUP_PLACEMENT", ""),
                    "backupPool": f"default.rgw.{env.get('BACKUP_PLACEMENT', '')}.data",
                    "backupCrushRule": f"{env.get('CRUSH_RULE', '')}-{env.get('BACKUP_CLASS', '')}",
                },
            ),
            "ceph-rgw": lambda host, fault, address, env: (
                f"ceph-rgw: S3 answers at {env.get('RGW_ENDPOINT', '')}",
                {"endpoint": env.get("RGW_ENDPOINT", "")},
            ),
            "ceph-rgw-user": lambda host, fault, address, env: (
                "",
                {
                    "user": env.get("RGW_USER", ""),
                    "bucket": env.get("BUCKET", ""),
                    "placement": env.get("PLACEMENT", ""),
                },
            ),
            "ceph-client-key": lambda host, fault, address, env: (
                f"ceph-client-key: client.{env.get('CSI_USER', '')}",
                {"user": env.get("CSI_USER", ""), "key": cephx_key(f"{address}/{env}")},
            ),
        }

    def _gpu_check(
        self, host: dict[str, Any], fault: HardwareFaults, address: str, env: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        gpu = host.get("gpu") or {"model": "A100-80GB", "count": 0}
        count = gpu["count"] - fault.gpus_missing
        return "", {
            "nvidia-smi-query": nvidia_smi_csv(gpu["model"], count),
            "nvidia-smi-topo": topology_matrix(gpu["model"], count, fault.pairs_without_nvlink),
        }

    def _preflight(
        self, host: dict[str, Any], fault: HardwareFaults, address: str, env: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        total = fault.disk_iops or (180_000 if "storage" in host["roles"] else 90_000)
        sections = [("fio", fio_json(total * 0.7, total * 0.3, env.get("PREFLIGHT_DIR", "/")))]
        if env.get("PEER_ADDRESS"):
            speeds = [nic["speedGbps"] for nic in host.get("nics", [])] or [25]
            gbps = fault.network_gbps or round(min(max(speeds), 100) * 0.94, 2)
            refused = "unable to connect to server: Connection refused"
            sections.append(
                (
                    "iperf3",
                    iperf3_json(
                        address, env["PEER_ADDRESS"], gbps, refused if fault.peer_refused else None
                    ),
                )
            )
        if env.get("COUNT_PCI_GPUS") == "true" and host.get("gpu"):
            gpu = host["gpu"]
            sections.append(("lspci", lspci(gpu["model"], gpu["count"] - fault.gpus_missing)))
        return "", dict(sections)
