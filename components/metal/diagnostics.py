"""Parsers for the preflight tools' real output (nvidia-smi, fio, iperf3, lspci) and the check
of what they measured against what the stack config declares.

Pure functions: text in, typed measurements or a `DiagnosticsParseError` out. Whatever a tool
(or a broken host, or a cut connection) prints, a parser returns well-formed values or raises
that error, its message starting with the tool's name and saying what was wrong; nothing else
escapes, and no input takes long (oversized output is refused unread).
"""

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from components.catalog import GPU_MODELS

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

MAX_TOOL_OUTPUT_CHARS = 2 * 1024 * 1024
"""More than any preflight tool prints (`nvidia-smi -q -x` of 8 GPUs is about 250 kB): a
larger output is refused unread, so no host can make the evaluation slow."""

MAX_IOPS = 1e9
"""Beyond any disk (NVMe tops out near 10^7): a larger figure is a corrupt report."""

MAX_BITS_PER_SECOND = 1e15
"""1 Pbit/s, beyond any NIC (800 Gbit/s is the fastest sold)."""


class DiagnosticsParseError(ValueError):
    """A tool's output is not what that tool prints. The message starts with the tool's name
    (`fio: `, `iperf3: `, `lspci: `, `nvidia-smi: `, `nvidia-smi topo: `) and says what was
    wrong."""


def _quote(text: str, limit: int = 100) -> str:
    """`text` for a message: quoted, shortened, escapes visible."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _kind(value: object) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"[:60]
    if isinstance(value, str):
        return f"the string {_quote(value, 40)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _tool_text(text: object, tool: str, *, empty_allowed: bool = False) -> str:
    if not isinstance(text, str):
        raise DiagnosticsParseError(
            f"{tool}: expected the tool's printed text, got {type(text).__name__}"
        )
    if len(text) > MAX_TOOL_OUTPUT_CHARS:
        raise DiagnosticsParseError(
            f"{tool}: the output is {len(text):,} characters, more than the "
            f"{MAX_TOOL_OUTPUT_CHARS:,} the tool ever prints; not parsed"
        )
    if not empty_allowed and not text.strip():
        raise DiagnosticsParseError(f"{tool}: the output is empty")
    return text


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


# --- JSON tools (fio, iperf3) -----------------------------------------------------------

# Tools may print warnings before their JSON ("fio: ..."): the document starts on the first
# line that opens an object or a list.
_JSON_START = re.compile(r"^[ \t]*[{\[]", re.MULTILINE)


def _json_object(text: object, tool: str) -> dict[str, Any]:
    text = _tool_text(text, tool)
    found = _JSON_START.search(text)
    if found is None:
        raise DiagnosticsParseError(
            f"{tool}: no JSON document in the output, which begins {_quote(_first_line(text))}"
        )
    start = found.end() - 1
    try:
        document, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as error:
        if _cut_short(text[error.pos :]):
            raise DiagnosticsParseError(
                f"{tool}: the JSON output is cut short: it ends at line {error.lineno} "
                f"before the document does ({error.msg})"
            ) from None
        raise DiagnosticsParseError(
            f"{tool}: the JSON output is malformed at line {error.lineno} column "
            f"{error.colno}: {error.msg}, at {_quote(text[error.pos : error.pos + 30])}"
        ) from None
    except RecursionError:
        raise DiagnosticsParseError(
            f"{tool}: the JSON output is nested too deeply to be {tool}'s"
        ) from None
    except ValueError as error:  # an integer longer than Python converts (4300 digits)
        raise DiagnosticsParseError(
            f"{tool}: the JSON output holds an unreadable number: {error}"
        ) from None
    if not isinstance(document, dict):
        raise DiagnosticsParseError(f"{tool}: the JSON output is {_kind(document)}, not an object")
    return document


# What is left where the decoder stopped, when the text simply ends inside the document: in
# a string, a number or a literal (true, false, null, NaN, Infinity), or nothing at all.
_JSON_CUT_TAIL = re.compile(
    r'"(?:[^"\\\n]|\\.)*\\?|[-+.eE0-9]*|t(?:r(?:ue?)?)?|f(?:a(?:l(?:se?)?)?)?|n(?:u(?:ll?)?)?'
    r"|N(?:aN?)?|-?I(?:n(?:f(?:i(?:n(?:i(?:ty?)?)?)?)?)?)?"
)


def _cut_short(rest: str) -> bool:
    """Whether the JSON decoder failed because the text ended, not because it was wrong."""
    return _JSON_CUT_TAIL.fullmatch(rest.rstrip()) is not None


def _member(parent: Mapping[str, Any], key: str, kind: type, tool: str, where: str) -> Any:
    """`parent[key]`, which must be a `kind` (dict, list or str), else the error saying so."""
    if key not in parent:
        raise DiagnosticsParseError(f"{tool}: {where} is missing")
    value = parent[key]
    if not isinstance(value, kind):
        expected = {dict: "an object", list: "a list", str: "a string"}[kind]
        raise DiagnosticsParseError(f"{tool}: {where} is {_kind(value)}, not {expected}")
    return value


def _optional_member(
    parent: Mapping[str, Any], key: str, kind: type, default: Any, tool: str, where: str
) -> Any:
    return _member(parent, key, kind, tool, where) if key in parent else default


def _measurement(value: object, tool: str, where: str, ceiling: float) -> float:
    """A measured figure: a finite JSON number from 0 to `ceiling`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DiagnosticsParseError(f"{tool}: {where} is {_kind(value)}, not a number")
    if isinstance(value, float) and math.isnan(value):
        raise DiagnosticsParseError(f"{tool}: {where} is NaN, not a measurement")
    if value < 0:
        raise DiagnosticsParseError(f"{tool}: {where} is negative ({float(value):g})")
    if isinstance(value, float) and math.isinf(value):
        raise DiagnosticsParseError(f"{tool}: {where} is infinite, not a measurement")
    if value > ceiling:  # compared before float(): a huge integer would overflow it
        shown = f"{value:g}" if isinstance(value, float) else f"a {len(str(value))}-digit number"
        raise DiagnosticsParseError(
            f"{tool}: {where} is {shown}, beyond any real device (at most {ceiling:g})"
        )
    return float(value)


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


def _fio_error(code: object) -> str:
    """fio's job "error" is an errno: its number and, when known, its meaning."""
    if isinstance(code, int) and not isinstance(code, bool) and 0 < code < 4096:
        return f"{code} ({os.strerror(code)})"
    return json.dumps(code)[:40]  # as the JSON says it: "EIO", NaN, true, [1]


def parse_fio(text: object) -> DiskBench:
    """Parses `fio --output-format=json` of one job. A job that reports an error failed,
    whatever figures it holds."""
    document = _json_object(text, "fio")
    if "jobs" not in document:
        raise DiagnosticsParseError('fio: the JSON has no "jobs"; fio ran no job')
    jobs = _member(document, "jobs", list, "fio", '"jobs"')
    if not jobs:
        raise DiagnosticsParseError('fio: "jobs" is empty; fio ran no job')
    names = []
    for position, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise DiagnosticsParseError(f"fio: job #{position} is {_kind(job)}, not an object")
        jobname = job.get("jobname")
        name = _quote(jobname, 40) if isinstance(jobname, str) else f"#{position}"
        names.append(name)
        error = job.get("error", 0)
        if error not in (0, None):  # False == 0 too; NaN is not in (0, None)
            raise DiagnosticsParseError(f"fio: job {name} failed with error {_fio_error(error)}")
    job, name = jobs[0], names[0]
    iops = {}
    for direction in ("read", "write"):
        section = _member(job, direction, dict, "fio", f"job {name}: {direction}")
        if "iops" not in section:
            raise DiagnosticsParseError(f"fio: job {name}: {direction} has no iops")
        iops[direction] = _measurement(
            section["iops"], "fio", f"job {name}: {direction} iops", MAX_IOPS
        )
    options = _optional_member(job, "job options", dict, {}, "fio", f'job {name}: "job options"')
    return DiskBench(
        read_iops=iops["read"],
        write_iops=iops["write"],
        rw=_optional_member(options, "rw", str, "", "fio", f"job {name}: option rw"),
        block_size=_optional_member(options, "bs", str, "", "fio", f"job {name}: option bs"),
    )


# --- iperf3 -J ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkBench:
    gbps: float | None
    """Received throughput in Gbit/s; None when the test did not run."""
    protocol: str
    remote_host: str | None
    error: str | None = None
    """iperf3's own error ("unable to connect to server: Connection refused")."""


_IPERF3_PROTOCOLS = ("TCP", "UDP", "SCTP")


def parse_iperf3(text: object) -> NetworkBench:
    """Parses `iperf3 -J` client output. iperf3 3.12 exits 0 on a refused connection and
    reports it in an "error" key: that is a failed measurement, not a zero."""
    document = _json_object(text, "iperf3")
    start = _optional_member(document, "start", dict, {}, "iperf3", "start")
    connected = _optional_member(start, "connected", list, [], "iperf3", "start.connected")
    remote = None
    if connected:
        first = connected[0]
        if not isinstance(first, dict):
            raise DiagnosticsParseError(
                f"iperf3: start.connected[0] is {_kind(first)}, not an object"
            )
        remote = _optional_member(
            first, "remote_host", str, None, "iperf3", "start.connected[0].remote_host"
        )
    test_start = _optional_member(start, "test_start", dict, {}, "iperf3", "start.test_start")
    protocol = _optional_member(
        test_start, "protocol", str, "TCP", "iperf3", "start.test_start.protocol"
    )
    if protocol not in _IPERF3_PROTOCOLS:
        raise DiagnosticsParseError(
            f"iperf3: start.test_start.protocol is {_quote(protocol, 20)}, "
            f"not one of {', '.join(_IPERF3_PROTOCOLS)}"
        )
    error = document.get("error")
    if error:
        reason = error if isinstance(error, str) else json.dumps(error)[:300]
        reason = " ".join(reason.split())
        return NetworkBench(None, protocol, remote, reason[:300])
    summary_key = "sum" if protocol == "UDP" else "sum_received"
    where = f"end.{summary_key}"
    end = _optional_member(document, "end", dict, {}, "iperf3", "end")
    if summary_key not in end:
        raise DiagnosticsParseError(
            f"iperf3: no end summary ({where}) with bits_per_second; the test did not finish"
        )
    summary = _member(end, summary_key, dict, "iperf3", where)
    if "bits_per_second" not in summary:
        raise DiagnosticsParseError(f"iperf3: {where} has no bits_per_second")
    bits = _measurement(
        summary["bits_per_second"], "iperf3", f"{where}.bits_per_second", MAX_BITS_PER_SECOND
    )
    return NetworkBench(bits / 1e9, protocol, remote)


# --- lspci -nn -d 10de: -------------------------------------------------------------------

# One device as `lspci -nn` prints it: slot (domain optional), class name and code, vendor and
# device names, then [vendor:device] IDs, the revision and (rarely) the programming interface.
_LSPCI_LINE = re.compile(
    r"(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] "
    r"(?P<class_name>[^\[\]\n]+?) \[(?P<class_code>[0-9a-f]{4})\]: "
    r"(?P<description>.+?) \[(?P<vendor>[0-9a-f]{4}):(?P<device>[0-9a-f]{4})\]"
    r"(?: \(rev [0-9a-f]{2}\))?(?: \(prog-if [0-9a-f]{2}(?: \[[^\]]*\])?\))?"
)
# PCI classes of GPUs: VGA compatible controller [0300], 3D controller [0302]. NVSwitches
# and bridges (class [0680], [0604]) are NVIDIA devices too and must not be counted.
_GPU_CLASSES = ("0300", "0302")
_NVIDIA = "10de"


def parse_pci_gpus(text: object) -> int:
    """Counts the NVIDIA GPUs in `lspci -nn -d 10de:` output (works before any driver). An
    empty listing is a host without NVIDIA devices."""
    text = _tool_text(text, "lspci", empty_allowed=True)
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        device = _LSPCI_LINE.fullmatch(line.rstrip())
        if device is None:
            raise DiagnosticsParseError(
                f"lspci: line {number} is not an `lspci -nn` line: {_quote(line)}"
            )
        if device["vendor"] == _NVIDIA and device["class_code"] in _GPU_CLASSES:
            count += 1
    return count


# --- nvidia-smi: the lines it prints instead of a report -----------------------------------

# nvidia-smi prints these (on stdout) when it cannot report: no driver, a version mismatch, a
# GPU fallen off the bus. Quoted as they are: they say what is wrong better than we could.
_NVIDIA_SMI_FAILURE = re.compile(
    r"NVIDIA-SMI has failed|No devices were found|Failed to initialize NVML|"
    r"Driver/library version mismatch|Unable to determine the device handle|"
    r"couldn't communicate with the NVIDIA driver|GPU is lost|Unknown Error",
    re.IGNORECASE,
)


def _nvidia_smi_failure(lines: str, tool: str, instead_of: str) -> None:
    """Raises, quoting nvidia-smi's own complaint, when `lines` hold one."""
    for line in lines.splitlines():
        if _NVIDIA_SMI_FAILURE.search(line):
            raise DiagnosticsParseError(
                f"{tool}: printed an error instead of {instead_of}: {_quote(line.strip(), 200)}"
            )


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
    compute_capability: str | None
    """"9.0"; None when nvidia-smi does not say ([N/A], or the XML report)."""
    pci_bus_id: str | None = None
    power_limit_w: float | None = None
    power_draw_w: float | None = None
    utilization_percent: float | None = None
    temperature_c: float | None = None
    """Readings: None when nvidia-smi reports them as [N/A] or [Not Supported]."""


# nvidia-smi prints a value it cannot read as "[N/A]", "[Not Supported]", "[Unknown Error]",
# "[GPU is lost]", "[Insufficient Permissions]"... (brackets included) or, in older drivers,
# a bare "N/A".
_UNAVAILABLE = re.compile(r"\[[^\[\]]*\]|N/A")
# Columns every GPU row must carry readably: without them the GPU cannot be identified or
# judged. The others are readings, kept as None when unavailable.
_CSV_REQUIRED = ("index", "name", "uuid", "memory.total", "driver_version")
_CSV_READINGS = {
    # column: (attribute, unit nvidia-smi appends, largest plausible value)
    "power.limit": ("power_limit_w", "W", 100_000.0),
    "power.draw": ("power_draw_w", "W", 100_000.0),
    "utilization.gpu": ("utilization_percent", "%", 100.0),
    "temperature.gpu": ("temperature_c", "", 1_000.0),
}
_CSV_HEADER_CELL = re.compile(r"(?P<field>[a-z_][a-z0-9_.]*)(?:\s*\[(?P<unit>[^\]]*)\])?")
_CSV_MEMORY = re.compile(r"(?P<mib>\d{1,9})(?:\s*MiB)?")
_CSV_READING = re.compile(r"(?P<value>\d{1,9}(?:\.\d{1,6})?)\s*(?P<unit>W|%|C)?")
_CSV_COMPUTE_CAP = re.compile(r"\d{1,2}\.\d{1,2}")
_CSV_BUS_ID = re.compile(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]")


def _csv_header(line: str) -> list[str]:
    """The field names of nvidia-smi's CSV header, units dropped ("memory.total [MiB]")."""
    fields = []
    for cell in line.split(","):
        named = _CSV_HEADER_CELL.fullmatch(cell.strip())
        fields.append(named["field"] if named else cell.strip())
    return fields


def parse_gpu_inventory(text: object) -> list[GpuDevice]:
    """Parses `nvidia-smi --query-gpu=<fields> --format=csv` (header included, columns in
    any order, `nounits` or not). A GPU whose index, name, uuid, memory or driver nvidia-smi
    cannot read is an error naming it; unreadable readings (power, utilization, temperature,
    compute capability, bus id) are kept as None."""
    text = _tool_text(text, "nvidia-smi")
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines:
        raise DiagnosticsParseError("nvidia-smi: the output is empty")
    header_line = lines[0][1]
    header = _csv_header(header_line)
    if "index" not in header:
        _nvidia_smi_failure(text, "nvidia-smi", "the GPU list")
        raise DiagnosticsParseError(
            "nvidia-smi: expected the `--query-gpu --format=csv` header (index, name, ...) on "
            f"the first line, found {_quote(header_line)}"
        )
    missing = [name for name in _CSV_REQUIRED if name not in header]
    if missing:
        raise DiagnosticsParseError(
            f"nvidia-smi: the CSV header lacks columns {missing}: {_quote(header_line)}"
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DiagnosticsParseError(f"nvidia-smi: the CSV header repeats columns {repeated}")
    if len(lines) == 1:
        raise DiagnosticsParseError(
            "nvidia-smi: the CSV has its header but no GPU rows; was the output cut short?"
        )
    devices: list[GpuDevice] = []
    seen: dict[int, int] = {}
    for number, line in lines[1:]:
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(header):
            _nvidia_smi_failure(line, "nvidia-smi", f"the GPU row on line {number}")
            raise DiagnosticsParseError(
                f"nvidia-smi: line {number} has {len(cells)} fields, the header has "
                f"{len(header)}: {_quote(line, 200)}"
            )
        row = dict(zip(header, cells, strict=True))
        index_text = row["index"]
        if not index_text.isascii() or not index_text.isdigit() or len(index_text) > 4:
            raise DiagnosticsParseError(
                f"nvidia-smi: the GPU on line {number} has index {_quote(index_text, 40)}, "
                "not a GPU number"
            )
        index = int(index_text)
        gpu = f"GPU {index} (line {number})"
        if index in seen:
            raise DiagnosticsParseError(
                f"nvidia-smi: {gpu} repeats the index of line {seen[index]}"
            )
        seen[index] = number
        for name in _CSV_REQUIRED[1:]:
            if not row[name] or _UNAVAILABLE.fullmatch(row[name]):
                raise DiagnosticsParseError(
                    f"nvidia-smi: {gpu}: {name} is {_quote(row[name] or '(empty)', 40)}; "
                    "without it the GPU cannot be checked"
                )
        memory = _CSV_MEMORY.fullmatch(row["memory.total"])
        if memory is None:
            raise DiagnosticsParseError(
                f"nvidia-smi: {gpu}: memory.total is {_quote(row['memory.total'], 40)}, "
                "not a size in MiB"
            )
        readings: dict[str, float | None] = {}
        for column, (attribute, unit, ceiling) in _CSV_READINGS.items():
            readings[attribute] = _csv_reading(row.get(column), unit, ceiling, gpu, column)
        devices.append(
            GpuDevice(
                index=index,
                name=row["name"],
                uuid=row["uuid"],
                memory_mib=int(memory["mib"]),
                driver_version=row["driver_version"],
                compute_capability=_csv_optional(
                    row.get("compute_cap"), _CSV_COMPUTE_CAP, gpu, "compute_cap"
                ),
                pci_bus_id=_csv_optional(row.get("pci.bus_id"), _CSV_BUS_ID, gpu, "pci.bus_id"),
                **readings,
            )
        )
    return devices


def _csv_optional(value: str | None, pattern: re.Pattern[str], gpu: str, column: str) -> str | None:
    if value is None or not value or _UNAVAILABLE.fullmatch(value):
        return None
    if not pattern.fullmatch(value):
        raise DiagnosticsParseError(
            f"nvidia-smi: {gpu}: {column} is {_quote(value, 40)}, not what nvidia-smi prints"
        )
    return value


def _csv_reading(
    value: str | None, unit: str, ceiling: float, gpu: str, column: str
) -> float | None:
    if value is None or not value or _UNAVAILABLE.fullmatch(value):
        return None
    reading = _CSV_READING.fullmatch(value)
    if reading is None or (reading["unit"] or unit) != unit:
        wanted = f"a number in {unit}" if unit else "a number"
        raise DiagnosticsParseError(
            f"nvidia-smi: {gpu}: {column} is {_quote(value, 40)}, not {wanted}"
        )
    number = float(reading["value"])
    if number > ceiling:
        raise DiagnosticsParseError(
            f"nvidia-smi: {gpu}: {column} is {value}, beyond any GPU (at most {ceiling:g})"
        )
    return number


def parse_gpu_inventory_xml(text: object) -> list[GpuDevice]:
    """Parses `nvidia-smi -q -x` (the full XML report) into the same devices as the CSV."""
    text = _tool_text(text, "nvidia-smi")
    if "<!ENTITY" in text:
        # nvidia-smi never declares entities; refusing them rules out expansion bombs.
        raise DiagnosticsParseError("nvidia-smi: the XML report declares entities; not parsed")
    try:
        root = ElementTree.fromstring(text.encode("utf-8", errors="replace"))
    except ElementTree.ParseError as error:
        _nvidia_smi_failure(text, "nvidia-smi", "the XML report")
        raise DiagnosticsParseError(
            f"nvidia-smi: not a complete `nvidia-smi -q -x` report: {error}"
        ) from None
    if root.tag != "nvidia_smi_log":
        raise DiagnosticsParseError(
            f"nvidia-smi: not `nvidia-smi -q -x` output: the root element is "
            f"{_quote(root.tag, 40)}, not 'nvidia_smi_log'"
        )
    driver = (root.findtext("driver_version") or "").strip()
    gpus = root.findall("gpu")
    if not gpus:
        raise DiagnosticsParseError("nvidia-smi: the XML report lists no <gpu>")
    if not driver or _UNAVAILABLE.fullmatch(driver):
        raise DiagnosticsParseError(
            f"nvidia-smi: the XML report's driver_version is {_quote(driver or '(missing)', 40)}"
        )
    devices = []
    seen: set[int] = set()
    for position, gpu in enumerate(gpus):
        label = f"GPU {_quote(str(gpu.get('id', f'#{position}')), 40)}"
        index = (gpu.findtext("minor_number") or "").strip()
        if not (index.isascii() and index.isdigit() and len(index) <= 4):
            raise DiagnosticsParseError(
                f"nvidia-smi: {label}: minor_number is {_quote(index or '(missing)', 40)}, "
                "not a GPU number"
            )
        memory_text = (gpu.findtext("fb_memory_usage/total") or "").strip()
        memory = re.fullmatch(r"(\d{1,9})\s*MiB", memory_text)
        if memory is None:
            raise DiagnosticsParseError(
                f"nvidia-smi: {label}: fb_memory_usage/total is "
                f"{_quote(memory_text or '(missing)', 40)}, not a size in MiB"
            )
        name = (gpu.findtext("product_name") or "").strip()
        uuid = (gpu.findtext("uuid") or "").strip()
        for what, value in (("product_name", name), ("uuid", uuid)):
            if not value or _UNAVAILABLE.fullmatch(value):
                raise DiagnosticsParseError(
                    f"nvidia-smi: {label}: {what} is {_quote(value or '(missing)', 40)}"
                )
        if int(index) in seen:
            raise DiagnosticsParseError(f"nvidia-smi: {label}: minor_number {index} repeats")
        seen.add(int(index))
        devices.append(
            GpuDevice(
                index=int(index),
                name=name,
                uuid=uuid,
                memory_mib=int(memory.group(1)),
                driver_version=driver,
                compute_capability=None,
                pci_bus_id=gpu.get("id"),
            )
        )
    return devices


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


# The link codes nvidia-smi's legend explains (SOC is the name older drivers gave SYS); a
# code the printed legend explains is accepted too, so a newer driver's codes read.
_TOPO_LINKS = ("X", "SYS", "SOC", "NODE", "PHB", "PXB", "PIX", "NV#")
_TOPO_LEGEND_CODE = re.compile(r"\s*([A-Z][A-Z0-9]{0,7}#?)\s+=")


def _topology_link_pattern(legend: list[str]) -> re.Pattern[str]:
    codes = set(_TOPO_LINKS)
    codes.update(m.group(1) for line in legend if (m := _TOPO_LEGEND_CODE.match(line)))
    alternatives = sorted(
        (re.escape(code.removesuffix("#")) + r"\d{1,3}" if code.endswith("#") else re.escape(code))
        for code in codes
    )
    return re.compile("|".join(alternatives))


def parse_gpu_topology(text: object) -> GpuTopology:
    """Parses `nvidia-smi topo -m` as printed (tabs, the underline escapes of the header).
    A matrix cut short (a row missing, or a row ending before its last column) is an error."""
    tool = "nvidia-smi topo"
    text = _tool_text(text, tool)
    lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    # The header is the first line naming GPU0; the GPU0 row comes after it.
    header_at = next((i for i, line in enumerate(lines) if re.search(r"\bGPU0\b", line)), None)
    _nvidia_smi_failure("\n".join(lines[:header_at]), tool, "the topology matrix")
    if header_at is None:
        raise DiagnosticsParseError(
            f"{tool}: no header row naming GPU0, GPU1, ...; the output begins "
            f"{_quote(_first_line(text))}"
        )
    header = lines[header_at]
    columns = re.findall(r"\bGPU(\d{1,4})\b", header)
    gpu_count = len(columns)
    if [int(c) for c in columns] != list(range(gpu_count)):
        raise DiagnosticsParseError(
            f"{tool}: GPU columns out of order in the header: {_quote(header.strip())}"
        )
    # Every GPU row also carries one cell per NIC column and, when the header names it, the
    # CPU affinity: a row shorter than that was cut.
    row_cells = gpu_count + len(re.findall(r"\bNIC\d{1,4}\b", header))
    row_cells += 1 if "CPU Affinity" in header else 0
    rows: dict[int, tuple[str, ...]] = {}
    legend = next(
        (i for i in range(header_at + 1, len(lines)) if lines[i].strip().startswith("Legend")),
        len(lines),
    )
    links = _topology_link_pattern(lines[legend:])
    for line in lines[header_at + 1 : legend]:
        row = re.match(r"\s*GPU(\d{1,4})(?:\s+(.*))?$", line)
        if not row:
            continue
        gpu = int(row.group(1))
        cells = (row.group(2) or "").split()
        if gpu >= gpu_count:
            raise DiagnosticsParseError(
                f"{tool}: a row for GPU{gpu}, but the header names GPU0..GPU{gpu_count - 1}"
            )
        if gpu in rows:
            raise DiagnosticsParseError(f"{tool}: the row of GPU{gpu} appears twice")
        if len(cells) < row_cells:
            raise DiagnosticsParseError(
                f"{tool}: row GPU{gpu} has {len(cells)} cells, expected {row_cells}; "
                "was the output cut short?"
            )
        rows[gpu] = tuple(cells[:gpu_count])
    if sorted(rows) != list(range(gpu_count)):
        absent = [f"GPU{i}" for i in range(gpu_count) if i not in rows]
        raise DiagnosticsParseError(
            f"{tool}: expected rows GPU0..GPU{gpu_count - 1}, rows "
            f"{', '.join(absent[:8])}{', …' if len(absent) > 8 else ''} "
            "are missing; was the output cut short?"
        )
    matrix = tuple(rows[i] for i in range(gpu_count))
    for a in range(gpu_count):
        for b in range(gpu_count):
            code = matrix[a][b]
            if not links.fullmatch(code):
                raise DiagnosticsParseError(
                    f"{tool}: GPU{a} to GPU{b} is {_quote(code, 20)}, not a link type "
                    f"({', '.join(_TOPO_LINKS)} or one the legend explains)"
                )
            if (code == "X") != (a == b):
                raise DiagnosticsParseError(
                    f"{tool}: GPU{a} to GPU{b} is {code}; only a GPU to itself is X"
                )
            if matrix[b][a] != code:
                raise DiagnosticsParseError(
                    f"{tool}: GPU{a} to GPU{b} is {code} but GPU{b} to GPU{a} is "
                    f"{_quote(matrix[b][a], 20)}; the matrix is not symmetric"
                )
    return GpuTopology(gpu_count, matrix)


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
            raise DiagnosticsParseError("lspci: no listing for this GPU host")
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
    if "fio" not in outputs:
        raise DiagnosticsParseError("fio: the step reported no output of it")
    if expect.gpu_count and "lspci" not in outputs:
        raise DiagnosticsParseError("lspci: the step reported no listing for this GPU host")
    network = outputs.get("iperf3", json.dumps({"error": "no peer host to measure"}))
    return check_hardware(expect, outputs["fio"], network, outputs.get("lspci"))


def check_gpu_check_output(
    expect: PreflightExpectations, outputs: Mapping[str, Any]
) -> PreflightReport:
    """`check_gpus` on the tool outputs of the gpu-check step's result line."""
    for field_name, tool in (
        ("nvidia-smi-query", "nvidia-smi"),
        ("nvidia-smi-topo", "nvidia-smi topo"),
    ):
        if field_name not in outputs:
            raise DiagnosticsParseError(f"{tool}: the step reported no output of it")
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
