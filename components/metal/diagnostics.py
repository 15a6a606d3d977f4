"""Parsers for the preflight tools' real output (nvidia-smi, fio, iperf3) and the check of
what they measured against what the stack config declares.

Pure functions: text in, typed measurements or a `DiagnosticsParseError` out.
"""

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from components.catalog import GPU_MODELS

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class DiagnosticsParseError(ValueError):
    """A tool's output is not what that tool prints; the message says what was expected."""


# --- nvidia-smi topo -m ----------------------------------------------------------------


@dataclass(frozen=True)
class GpuTopology:
    """The GPU-to-GPU block of `nvidia-smi topo -m`."""

    gpu_count: int
    matrix: tuple[tuple[str, ...], ...]

    def link(self, a: int, b: int) -> str:
        """The matrix code between GPU a and GPU b: "X", "NV12", "SYS", "PIX", ..."""
        if not (0 <= a < self.gpu_count and 0 <= b < self.gpu_count):
            raise IndexError(f"GPU index out of range 0..{self.gpu_count - 1}: {a}, {b}")
        return self.matrix[a][b]

    def pairs_without_nvlink(self) -> list[tuple[int, int]]:
        return [
            (a, b)
            for a in range(self.gpu_count)
            for b in range(a + 1, self.gpu_count)
            if not self.link(a, b).startswith("NV")
        ]


def parse_gpu_topology(text: str) -> GpuTopology:
    """Parses `nvidia-smi topo -m` as printed (tabs, the underline escapes of the header)."""
    lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    # The header is the first line naming GPU0; the GPU0 row comes after it.
    header = next((line for line in lines if re.search(r"\bGPU0\b", line)), None)
    if header is None:
        raise DiagnosticsParseError(
            "not `nvidia-smi topo -m` output: no header row naming GPU0, GPU1, ..."
        )
    columns = re.findall(r"\bGPU(\d+)\b", header)
    gpu_count = len(columns)
    if [int(c) for c in columns] != list(range(gpu_count)):
        raise DiagnosticsParseError(f"GPU columns out of order in the header: {header.strip()!r}")
    rows: dict[int, tuple[str, ...]] = {}
    for line in lines[lines.index(header) + 1 :]:
        if line.strip().startswith("Legend"):
            break
        match = re.match(r"^\s*GPU(\d+)\s+(.*)$", line)
        if not match:
            continue
        cells = match.group(2).split()
        if len(cells) < gpu_count:
            raise DiagnosticsParseError(
                f"row GPU{match.group(1)} has {len(cells)} cells, expected {gpu_count}"
            )
        rows[int(match.group(1))] = tuple(cells[:gpu_count])
    if sorted(rows) != list(range(gpu_count)):
        raise DiagnosticsParseError(f"expected rows GPU0..GPU{gpu_count - 1}, found {sorted(rows)}")
    matrix = tuple(rows[i] for i in range(gpu_count))
    for i in range(gpu_count):
        if matrix[i][i] != "X":
            raise DiagnosticsParseError(f"GPU{i} to itself should be X, found {matrix[i][i]!r}")
    return GpuTopology(gpu_count, matrix)


# --- nvidia-smi --query-gpu=... --format=csv -------------------------------------------

GPU_QUERY_FIELDS = (
    "index,name,uuid,memory.total,driver_version,pci.bus_id,"
    "power.limit,power.draw,utilization.gpu,temperature.gpu,compute_cap"
)
"""The fields the inventory script asks nvidia-smi for, in order."""


@dataclass(frozen=True)
class GpuDevice:
    index: int
    name: str
    uuid: str
    memory_mib: int
    driver_version: str
    compute_capability: str


def parse_gpu_inventory(text: str) -> list[GpuDevice]:
    """Parses `nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv` (header included)."""
    reader = csv.reader(io.StringIO(text.strip()), skipinitialspace=True)
    rows = [row for row in reader if row]
    if not rows or not rows[0] or rows[0][0].strip() != "index":
        raise DiagnosticsParseError(
            "not `nvidia-smi --query-gpu --format=csv` output: the first line should be the "
            "header starting with 'index'"
        )
    header = [cell.strip() for cell in rows[0]]
    wanted = {"index", "name", "uuid", "memory.total [MiB]", "driver_version", "compute_cap"}
    missing = wanted - set(header)
    if missing:
        raise DiagnosticsParseError(f"nvidia-smi CSV lacks columns {sorted(missing)}")
    devices = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DiagnosticsParseError(
                f"line {number} has {len(row)} fields, the header has {len(header)}"
            )
        cell = dict(zip(header, (c.strip() for c in row), strict=True))
        memory = re.match(r"^(\d+)\s*MiB$", cell["memory.total [MiB]"])
        if not memory or not cell["index"].isdigit():
            raise DiagnosticsParseError(f"line {number}: cannot read index or memory: {row}")
        devices.append(
            GpuDevice(
                index=int(cell["index"]),
                name=cell["name"],
                uuid=cell["uuid"],
                memory_mib=int(memory.group(1)),
                driver_version=cell["driver_version"],
                compute_capability=cell["compute_cap"],
            )
        )
    return devices


def parse_gpu_inventory_xml(text: str) -> list[GpuDevice]:
    """Parses `nvidia-smi -q -x` (the full XML report) into the same devices as the CSV."""
    try:
        root = ElementTree.fromstring(text.encode())
    except ElementTree.ParseError as error:
        raise DiagnosticsParseError(f"not `nvidia-smi -q -x` output: {error}") from None
    if root.tag != "nvidia_smi_log":
        raise DiagnosticsParseError(f"not `nvidia-smi -q -x` output: root element <{root.tag}>")
    driver = root.findtext("driver_version", "")
    devices = []
    for gpu in root.findall("gpu"):
        memory = re.match(r"^(\d+)\s*MiB$", gpu.findtext("fb_memory_usage/total", ""))
        index = gpu.findtext("minor_number", "")
        if not memory or not index.isdigit():
            raise DiagnosticsParseError(
                f"GPU {gpu.get('id')}: no minor_number or fb_memory_usage/total in MiB"
            )
        devices.append(
            GpuDevice(
                index=int(index),
                name=gpu.findtext("product_name", ""),
                uuid=gpu.findtext("uuid", ""),
                memory_mib=int(memory.group(1)),
                driver_version=driver,
                compute_capability="",
            )
        )
    return devices


# --- fio --output-format=json ------------------------------------------------------------


@dataclass(frozen=True)
class DiskBench:
    read_iops: float
    write_iops: float
    rw: str
    block_size: str

    @property
    def total_iops(self) -> float:
        return self.read_iops + self.write_iops


def _json_document(text: str, tool: str) -> dict[str, Any]:
    # Tools may print warnings before their JSON (fio: "fio: ... "); start at the first brace.
    start = text.find("{")
    if start < 0:
        raise DiagnosticsParseError(f"no JSON document in the {tool} output: {text[:120]!r}")
    try:
        document = json.loads(text[start:])
    except json.JSONDecodeError as error:
        raise DiagnosticsParseError(f"{tool} output is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise DiagnosticsParseError(f"{tool} JSON output is not an object")
    return document


def parse_fio(text: str) -> DiskBench:
    """Parses `fio --output-format=json` of one job."""
    document = _json_document(text, "fio")
    jobs = document.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise DiagnosticsParseError("fio JSON has no jobs")
    job = jobs[0]
    if job.get("error"):
        raise DiagnosticsParseError(
            f"fio job {job.get('jobname')!r} failed with error {job['error']}"
        )
    try:
        options = job.get("job options", {})
        return DiskBench(
            read_iops=float(job["read"]["iops"]),
            write_iops=float(job["write"]["iops"]),
            rw=options.get("rw", ""),
            block_size=options.get("bs", ""),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise DiagnosticsParseError(f"fio job lacks read/write iops: {error}") from None


# --- iperf3 -J ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkBench:
    gbps: float | None
    """Received throughput in Gbit/s; None when the test did not run."""
    protocol: str
    remote_host: str | None
    error: str | None = None
    """iperf3's own error ("unable to connect to server: Connection refused")."""


def parse_iperf3(text: str) -> NetworkBench:
    """Parses `iperf3 -J` client output. iperf3 3.12 exits 0 on a refused connection and
    reports it in an "error" key: that is a failed measurement, not a zero."""
    document = _json_document(text, "iperf3")
    start = document.get("start", {})
    connected = start.get("connected") or []
    remote = connected[0].get("remote_host") if connected else None
    protocol = start.get("test_start", {}).get("protocol", "TCP")
    if document.get("error"):
        return NetworkBench(None, protocol, remote, str(document["error"]))
    end = document.get("end", {})
    summary = end.get("sum") if protocol == "UDP" else end.get("sum_received")
    if not isinstance(summary, dict) or "bits_per_second" not in summary:
        raise DiagnosticsParseError("iperf3 JSON has no end summary with bits_per_second")
    return NetworkBench(float(summary["bits_per_second"]) / 1e9, protocol, remote)


# --- lspci -nn -d 10de: -------------------------------------------------------------------

# PCI classes of GPUs: VGA compatible controller [0300], 3D controller [0302]. NVSwitches
# and bridges (class [0680], [0604]) are NVIDIA devices too and must not be counted.
_PCI_GPU = re.compile(r"^\S+\s+(VGA compatible controller|3D controller) \[030[02]\]: NVIDIA")


def parse_pci_gpus(text: str) -> int:
    """Counts the NVIDIA GPUs in `lspci -nn -d 10de:` output (works before any driver)."""
    count = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        if not re.match(r"^[0-9a-f]{2,4}(:[0-9a-f]{2})?:[0-9a-f]{2}\.[0-7] ", line):
            raise DiagnosticsParseError(f"not an `lspci -nn` line: {line[:100]!r}")
        if _PCI_GPU.match(line):
            count += 1
    return count


# --- the verdict -------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    check: str
    expected: str
    measured: str

    def render(self) -> str:
        return f"{self.check}: expected {self.expected}, measured {self.measured}"


@dataclass(frozen=True)
class PreflightReport:
    host: str
    findings: tuple[Finding, ...]
    measurements: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.findings

    def to_json(self) -> str:
        return json.dumps(
            {
                "host": self.host,
                "passed": self.passed,
                "findings": [f.__dict__ for f in self.findings],
                "measurements": self.measurements,
            },
            sort_keys=True,
        )


@dataclass(frozen=True)
class PreflightExpectations:
    """What config declares for one host."""

    host: str
    gpu_model: str | None
    gpu_count: int
    min_disk_iops: int
    min_network_gbps: float


def _report(host: str, findings: list[Finding], measured: dict[str, Any]) -> PreflightReport:
    return PreflightReport(host, tuple(findings), measured)


def check_hardware(
    expect: PreflightExpectations,
    disk_text: str,
    network_text: str,
    pci_text: str | None = None,
) -> PreflightReport:
    """Before anything is installed: disk, network, and the GPUs on the PCI bus."""
    findings: list[Finding] = []
    measured: dict[str, Any] = {}

    disk = parse_fio(disk_text)
    measured["diskIops"] = round(disk.total_iops)
    if disk.total_iops < expect.min_disk_iops:
        findings.append(
            Finding(
                "4K random read/write IOPS", f">= {expect.min_disk_iops}", f"{disk.total_iops:.0f}"
            )
        )

    network = parse_iperf3(network_text)
    measured["networkGbps"] = None if network.gbps is None else round(network.gbps, 2)
    wanted = f">= {expect.min_network_gbps:g} Gbit/s"
    if network.error:
        findings.append(Finding("iperf3 to peer", wanted, f"no measurement ({network.error})"))
    elif network.gbps is not None and network.gbps < expect.min_network_gbps:
        findings.append(Finding("iperf3 to peer", wanted, f"{network.gbps:.2f} Gbit/s"))

    if expect.gpu_count:
        if pci_text is None:
            raise ValueError(f"{expect.host}: a GPU host needs its lspci listing")
        on_bus = parse_pci_gpus(pci_text)
        measured["pciGpus"] = on_bus
        if on_bus != expect.gpu_count:
            findings.append(
                Finding("NVIDIA GPUs on the PCI bus", str(expect.gpu_count), str(on_bus))
            )
    return _report(expect.host, findings, measured)


def check_preflight_output(
    expect: PreflightExpectations, outputs: Mapping[str, Any]
) -> PreflightReport:
    """`check_hardware` on the tool outputs of the preflight step's result line."""
    if expect.gpu_count and "lspci" not in outputs:
        raise DiagnosticsParseError("lspci: the step reported no listing for this GPU host")
    network = outputs.get("iperf3", json.dumps({"error": "no peer host to measure"}))
    return check_hardware(expect, outputs["fio"], network, outputs.get("lspci"))


def check_gpu_check_output(
    expect: PreflightExpectations, outputs: Mapping[str, Any]
) -> PreflightReport:
    """`check_gpus` on the tool outputs of the gpu-check step's result line."""
    return check_gpus(expect, outputs["nvidia-smi-query"], outputs["nvidia-smi-topo"])


def check_gpus(
    expect: PreflightExpectations, inventory_text: str, topology_text: str
) -> PreflightReport:
    """After the driver: GPU model and count as nvidia-smi sees them, and NVLink."""
    devices = parse_gpu_inventory(inventory_text)
    findings: list[Finding] = []
    gpu = GPU_MODELS[expect.gpu_model] if expect.gpu_model else None
    if len(devices) != expect.gpu_count:
        findings.append(Finding("GPU count", str(expect.gpu_count), str(len(devices))))
    if gpu and any(d.name not in gpu.smi_product_names for d in devices):
        findings.append(
            Finding(
                "GPU model",
                f"{gpu.name} ({' or '.join(gpu.smi_product_names)})",
                ", ".join(sorted({d.name for d in devices})),
            )
        )
    measured: dict[str, Any] = {
        "gpus": [
            {"index": d.index, "name": d.name, "memoryMiB": d.memory_mib, "uuid": d.uuid}
            for d in devices
        ],
        "driverVersion": devices[0].driver_version if devices else None,
    }
    topology = parse_gpu_topology(topology_text)
    # 8-GPU NVLink servers (A100/H100 HGX) must reach every peer over NVLink: a missing
    # link halves tensor-parallel bandwidth and usually means a failed NVSwitch or bridge.
    if gpu and gpu.nvlink and expect.gpu_count == 8:
        missing = topology.pairs_without_nvlink()
        measured["pairsWithoutNvlink"] = len(missing)
        if missing:
            shown = ", ".join(f"GPU{a}-GPU{b}={topology.link(a, b)}" for a, b in missing[:4])
            findings.append(
                Finding(
                    "NVLink between every GPU pair",
                    "NV# on all 28 pairs",
                    f"{len(missing)} pairs without NVLink ({shown})",
                )
            )
    return _report(expect.host, findings, measured)
