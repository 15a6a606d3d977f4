"""Fuzzing the preflight parsers from the real tool outputs: each fixture truncated at many
offsets, with characters flipped, dropped or doubled, with values replaced by what broken
hosts print ([N/A], NaN, inf, huge numbers, wrong types) and lines inserted or dropped. Every
parser, and the check built on it, must return well-formed values or raise a
DiagnosticsParseError starting with the tool's name; nothing else, and never slowly.

Deterministic (seeded), pure Python, a few seconds in all.
"""

import math
import random
import re
import time
from collections.abc import Callable, Iterator

import pytest

from components.metal.diagnostics import (
    MAX_BITS_PER_SECOND,
    MAX_IOPS,
    MAX_TOOL_OUTPUT_CHARS,
    DiagnosticsParseError,
    DiskBench,
    GpuDevice,
    GpuTopology,
    NetworkBench,
    PreflightExpectations,
    PreflightReport,
    check_gpus,
    check_hardware,
    parse_fio,
    parse_gpu_inventory,
    parse_gpu_inventory_xml,
    parse_gpu_topology,
    parse_iperf3,
    parse_pci_gpus,
)
from tests.paths import LOCAL_FIXTURES, SHARED_FIXTURES

SHARED = SHARED_FIXTURES / "diagnostics"
LOCAL = LOCAL_FIXTURES


def shared(name: str) -> str:
    return (SHARED / name).read_text()


def local(name: str) -> str:
    return (LOCAL / name).read_text()


# --- what a well-formed result is -------------------------------------------------------


def _finite(value: object, low: float, high: float) -> bool:
    return isinstance(value, float) and math.isfinite(value) and low <= value <= high


def _disk_is_well_formed(bench: object) -> None:
    assert isinstance(bench, DiskBench)
    assert _finite(bench.read_iops, 0, MAX_IOPS) and _finite(bench.write_iops, 0, MAX_IOPS)
    assert isinstance(bench.rw, str) and isinstance(bench.block_size, str)


def _network_is_well_formed(bench: object) -> None:
    assert isinstance(bench, NetworkBench)
    assert bench.protocol in ("TCP", "UDP", "SCTP")
    assert bench.remote_host is None or isinstance(bench.remote_host, str)
    if bench.error is None:
        assert _finite(bench.gbps, 0, MAX_BITS_PER_SECOND / 1e9)
    else:
        assert bench.gbps is None and isinstance(bench.error, str) and bench.error


def _gpus_are_well_formed(devices: object) -> None:
    assert isinstance(devices, list) and devices
    assert all(isinstance(d, GpuDevice) for d in devices)
    indexes = [d.index for d in devices]
    assert len(set(indexes)) == len(indexes)
    for d in devices:
        assert isinstance(d.index, int) and d.index >= 0
        assert isinstance(d.memory_mib, int) and d.memory_mib >= 0
        for text in (d.name, d.uuid, d.driver_version):
            assert isinstance(text, str) and text and not re.fullmatch(r"\[.*\]|N/A", text)
        for reading in (d.power_limit_w, d.power_draw_w, d.utilization_percent, d.temperature_c):
            assert reading is None or _finite(reading, 0, 1e5)
        assert d.compute_capability is None or re.fullmatch(r"\d+\.\d+", d.compute_capability)


def _topology_is_well_formed(topology: object) -> None:
    assert isinstance(topology, GpuTopology)
    n = topology.gpu_count
    assert n >= 1 and len(topology.matrix) == n
    assert all(len(row) == n for row in topology.matrix)
    for a in range(n):
        for b in range(n):
            assert (topology.link(a, b) == "X") == (a == b)
            assert topology.link(a, b) == topology.link(b, a)
    topology.pairs_without_nvlink()


def _count_is_well_formed(count: object) -> None:
    assert isinstance(count, int) and not isinstance(count, bool) and count >= 0


# --- the parsers under test, each with its real outputs and the check that uses it ------

A100_HOST = PreflightExpectations("dca-gpu-a100-1", "A100-80GB", 8, 20000, 20)
FIO = shared("fio_randrw_direct_libaio.json")
IPERF3 = shared("iperf3_client_tcp_loopback.json")
LSPCI = local("lspci-8xa100.txt")
SMI_CSV = shared("nvidia-smi-query-gpu-h200.csv")
TOPO = local("nvidia-smi-topo-8xa100.txt")


def _eight_gpu_csv() -> str:
    """The H200 capture as an 8-GPU server prints it (the same row, indexes 0..7)."""
    header, row = SMI_CSV.splitlines()[:2]
    rows = [f"{i}," + row.split(",", 1)[1].replace("-b8b7-", f"-b8b{i}-") for i in range(8)]
    return "\n".join([header, *rows]) + "\n"


Target = tuple[
    str,  # the tool name every message must start with
    Callable[[str], object],  # the parser
    Callable[[object], None],  # asserts a returned value is well-formed
    Callable[[str], object] | None,  # the check fed with this tool's output (or None)
    list[str],  # real outputs to mutate
]

TARGETS: dict[str, Target] = {
    "fio": (
        "fio",
        parse_fio,
        _disk_is_well_formed,
        lambda text: check_hardware(A100_HOST, text, IPERF3, LSPCI),
        [shared("fio_randread_4k.json"), FIO],
    ),
    "iperf3": (
        "iperf3",
        parse_iperf3,
        _network_is_well_formed,
        lambda text: check_hardware(A100_HOST, FIO, text, LSPCI),
        [
            IPERF3,
            shared("iperf3_client_udp_loopback.json"),
            shared("iperf3_server_loopback.json"),
            shared("iperf3_client_error_refused.json"),
        ],
    ),
    "lspci": (
        "lspci",
        parse_pci_gpus,
        _count_is_well_formed,
        lambda text: check_hardware(A100_HOST, FIO, IPERF3, text),
        [LSPCI],
    ),
    "nvidia-smi-query": (
        "nvidia-smi",
        parse_gpu_inventory,
        _gpus_are_well_formed,
        lambda text: check_gpus(A100_HOST, text, TOPO),
        [SMI_CSV, _eight_gpu_csv()],
    ),
    "nvidia-smi-xml": (
        "nvidia-smi",
        parse_gpu_inventory_xml,
        _gpus_are_well_formed,
        None,
        [shared("nvidia-smi-q-h200.xml")],
    ),
    "nvidia-smi-topo": (
        "nvidia-smi topo",
        parse_gpu_topology,
        _topology_is_well_formed,
        lambda text: check_gpus(A100_HOST, _eight_gpu_csv(), text),
        [TOPO, local("nvidia-smi-topo-8xa100-degraded.txt")],
    ),
}


# --- the mutations ------------------------------------------------------------------------

# What broken hosts and cut connections put where a value should be.
NASTY_VALUES = [
    "[N/A]",
    "[Not Supported]",
    "[Unknown Error]",
    "[GPU is lost]",
    "N/A",
    "NaN",
    "-NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "-inf",
    ".inf",
    "1e999",
    "-1e999",
    "-1",
    "-0",
    "0",
    "1e308",
    "1.7976931348623157e308",
    "9" * 5000,
    "9" * 400,
    "-" + "9" * 400,
    "0x10",
    '"12"',
    '"inf"',
    "null",
    "true",
    "[]",
    "{}",
    "",
    " ",
    ",",
    "\n",
    "\x00",
    "\u202e",
    "\udcff",
    "GPU0",
    " X ",
    "NV",
    "SYS",
]
# Lines that turn up in the middle of an output.
INTRUDING_LINES = [
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
    "that the latest NVIDIA driver is installed and running.",
    "Unable to determine the device handle for GPU0000:17:00.0: Unknown Error",
    "No devices were found",
    "fio: this platform does not support process shared mutexes",
    "iperf3: error - the server is busy running a test. try again later",
    "pcilib: Cannot open /proc/bus/pci",
    "Legend:",
    "GPU0\t X \tNV12",
    "\tGPU0\tGPU1",
    "index, name, uuid, memory.total [MiB], driver_version",
    "{",
    "}",
    "[",
    '"error": "control socket has closed unexpectedly",',
    "17:00.0 3D controller [0302]: NVIDIA Corporation Device [10de:20b2] (rev a1)",
    "\x1b[4m",
    "",
]
ALPHABET = '{}[]",:.-+eE0123456789 \t\nXNVSY[]/%MiBW\x00\x1b\\é'
# A value-like token: a number, a JSON string, or a cell between separators.
TOKEN = re.compile(r'-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"[^"\n]*"|[^\s,\t]+')


def mutations(text: str, rng: random.Random) -> Iterator[tuple[str, str]]:
    """(what was done, the mutated text): many per fixture, the same on every run."""
    n = len(text)
    step = max(1, n // 400)
    for end in [*range(0, n, step), *(rng.randrange(n) for _ in range(100))]:
        yield f"cut at {end}", text[:end]
    for _ in range(300):
        at = rng.randrange(n)
        char = rng.choice(ALPHABET)
        yield f"char {at} -> {char!r}", text[:at] + char + text[at + 1 :]
    for _ in range(100):
        at, length = rng.randrange(n), rng.randint(1, 40)
        yield f"drop {at}+{length}", text[:at] + text[at + length :]
        yield f"double {at}+{length}", text[: at + length] + text[at:]
    tokens = list(TOKEN.finditer(text))
    for _ in range(500):
        token = rng.choice(tokens)
        value = rng.choice(NASTY_VALUES)
        yield (
            f"token {token.group()[:20]!r}@{token.start()} -> {value[:20]!r}",
            text[: token.start()] + value + text[token.end() :],
        )
    lines = text.splitlines(keepends=True)
    for _ in range(60):
        at = rng.randrange(len(lines) + 1)
        intruder = rng.choice(INTRUDING_LINES)
        yield (
            f"line {intruder[:30]!r} at {at}",
            "".join(lines[:at] + [intruder + "\n"] + lines[at:]),
        )
        gone = rng.randrange(len(lines))
        yield f"line {gone} dropped", "".join(lines[:gone] + lines[gone + 1 :])
    yield "CRLF line ends", text.replace("\n", "\r\n")
    yield "twice", text + text
    yield "surrogate", text + "\udcff"


PATHOLOGICAL = [
    ("empty", ""),
    ("blank", " \n\t\n"),
    ("vertical tab", "\x0b\x0c\x1c"),
    ("NUL", "\x00" * 100),
    ("deep objects", '{"a":' * 100_000),
    ("deep lists", "[" * 500_000),
    ("deep XML", "<a>" * 200_000 + "</a>" * 200_000),
    ("huge integer", "9" * 5000),
    ("huge integer in JSON", '{"jobs": [{"read": {"iops": ' + "9" * 5000 + "}}]}"),
    ("number", "42"),
    ("list", "[1, 2, 3]"),
    ("string", '"fio"'),
    ("header with 5000-digit GPU", "\tGPU0\tGPU" + "9" * 5000 + "\nGPU0\t X \n"),
    ("one long line", "17:00.0 3D controller [0302]: " + "NVIDIA [" * 200_000),
    ("long CSV header", "index, " + "name, " * 300_000),
    ("many commas", "index, name, uuid, memory.total, driver_version\n" + "," * 1_000_000),
    ("long topology header", "\t" + "\t".join(f"GPU{i}" for i in range(9999)) + "\n"),
]


def _assert_contract(tool: str, call: Callable[[str], object], text: str) -> object | None:
    """The call returns (the value, for the caller to check) or raises the tool's error."""
    try:
        return call(text)
    except DiagnosticsParseError as error:
        assert str(error).startswith(f"{tool}: "), str(error)
        assert len(str(error)) < 1000, str(error)[:200]
        return None


def _fuzz(name: str) -> tuple[list[str], dict[str, int]]:
    tool, parse, well_formed, check, fixtures = TARGETS[name]
    failures: list[str] = []
    rng = random.Random(f"diagnostics-fuzz-{name}")
    cases = [
        *(mutated for fixture in fixtures for mutated in mutations(fixture, rng)),
        *PATHOLOGICAL,
    ]
    slowest = (0.0, "")
    outcomes = {"parsed": 0, "refused": 0}
    for what, text in cases:
        started = time.perf_counter()
        try:
            value = _assert_contract(tool, parse, text)
            outcomes["refused" if value is None else "parsed"] += 1
            if value is not None:
                well_formed(value)
            if check is not None:
                report = _assert_contract(tool, check, text)
                assert report is None or isinstance(report, PreflightReport)
        except Exception as error:  # noqa: BLE001 collected, to show every broken case at once
            failures.append(f"{what}: {type(error).__name__}: {str(error)[:200]}")
        slowest = max(slowest, (time.perf_counter() - started, what))
    # A linear parser reads any accepted input in milliseconds; seconds would mean a
    # backtracking pattern or a quadratic loop that a host could trigger.
    assert slowest[0] < 2.0, f"{name}: {slowest[1]} took {slowest[0]:.1f} s"
    return failures, outcomes


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_mutation_of_a_real_output_parses_or_is_the_tools_error(name):
    failures, outcomes = _fuzz(name)
    assert not failures, f"{len(failures)} cases broke the contract:\n" + "\n".join(failures[:15])
    # The mutations matter: many still parse (values to check) and many are refused (messages
    # to check); a mutator that broke nothing, or everything, would prove little.
    assert outcomes["parsed"] > 20 and outcomes["refused"] > 100, outcomes


@pytest.mark.parametrize("name", list(TARGETS))
def test_an_output_larger_than_any_tool_prints_is_refused_unread(name):
    tool, parse, _, _, fixtures = TARGETS[name]
    oversized = fixtures[0] * (MAX_TOOL_OUTPUT_CHARS // len(fixtures[0]) + 1)
    started = time.perf_counter()
    with pytest.raises(DiagnosticsParseError) as raised:
        parse(oversized)
    assert time.perf_counter() - started < 0.5
    assert str(raised.value) == (
        f"{tool}: the output is {len(oversized):,} characters, more than the "
        f"{MAX_TOOL_OUTPUT_CHARS:,} the tool ever prints; not parsed"
    )


@pytest.mark.parametrize("name", list(TARGETS))
def test_a_value_that_is_not_text_is_the_tools_error(name):
    tool, parse, _, _, _ = TARGETS[name]
    for value in (None, b"bytes", 42):
        with pytest.raises(DiagnosticsParseError, match=f"^{tool}: expected the tool's printed"):
            parse(value)
