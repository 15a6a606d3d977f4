"""The fuzz corpus of the preflight parsers: each parser with its real outputs (../shared
fixtures) and the check built on it, seeded mutations of those outputs, and inputs that are
pathological for a parser. tests/unit/test_diagnostics_fuzz.py holds every case to the
parsers' contract; `make bench` (offline/bench.py) times the same cases."""

import random
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from components.metal.diagnostics import (
    MAX_TOOL_OUTPUT_CHARS,
    PreflightExpectations,
    check_gpus,
    check_hardware,
    parse_fio,
    parse_gpu_inventory,
    parse_gpu_inventory_xml,
    parse_gpu_topology,
    parse_iperf3,
    parse_pci_gpus,
)
from tests.paths import local, shared

# --- the parsers, each with its real outputs and the check that uses it -----------------

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


class Parser(NamedTuple):
    tool: str
    """The tool name every message of the parser starts with."""
    parse: Callable[[str], object]
    check: Callable[[str], object] | None
    """The preflight check fed with this tool's output (None: no check reads it alone)."""
    fixtures: list[str]
    """Real outputs of the tool, to mutate."""


PARSERS: dict[str, Parser] = {
    "fio": Parser(
        "fio",
        parse_fio,
        lambda text: check_hardware(A100_HOST, text, IPERF3, LSPCI),
        [shared("fio_randread_4k.json"), FIO],
    ),
    "iperf3": Parser(
        "iperf3",
        parse_iperf3,
        lambda text: check_hardware(A100_HOST, FIO, text, LSPCI),
        [
            IPERF3,
            shared("iperf3_client_udp_loopback.json"),
            shared("iperf3_server_loopback.json"),
            shared("iperf3_client_error_refused.json"),
        ],
    ),
    "lspci": Parser(
        "lspci",
        parse_pci_gpus,
        lambda text: check_hardware(A100_HOST, FIO, IPERF3, text),
        [LSPCI],
    ),
    "nvidia-smi-query": Parser(
        "nvidia-smi",
        parse_gpu_inventory,
        lambda text: check_gpus(A100_HOST, text, TOPO),
        [SMI_CSV, _eight_gpu_csv()],
    ),
    "nvidia-smi-xml": Parser(
        "nvidia-smi",
        parse_gpu_inventory_xml,
        None,
        [shared("nvidia-smi-q-h200.xml")],
    ),
    "nvidia-smi-topo": Parser(
        "nvidia-smi topo",
        parse_gpu_topology,
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


def cases(name: str) -> list[tuple[str, str]]:
    """(what was done, the text) for the parser `name`: its fixtures' mutations, the same on
    every run, then the pathological inputs."""
    rng = random.Random(f"diagnostics-fuzz-{name}")
    return [
        *(mutated for fixture in PARSERS[name].fixtures for mutated in mutations(fixture, rng)),
        *PATHOLOGICAL,
    ]


def oversized(name: str) -> str:
    """The parser's first fixture repeated past the most any tool prints."""
    fixture = PARSERS[name].fixtures[0]
    return fixture * (MAX_TOOL_OUTPUT_CHARS // len(fixture) + 1)
