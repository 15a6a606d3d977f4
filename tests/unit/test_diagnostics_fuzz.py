"""Fuzzing the preflight parsers from the real tool outputs: each fixture truncated at many
offsets, with characters flipped, dropped or doubled, with values replaced by what broken
hosts print ([N/A], NaN, inf, huge numbers, wrong types) and lines inserted or dropped. Every
parser, and the check built on it, must return well-formed values or raise a
DiagnosticsParseError starting with the tool's name; nothing else. The corpus is in
tests/diagnostics_corpus.py; `make bench` times it (a backtracking pattern or a quadratic
loop shows there as seconds per case).

Deterministic (seeded), pure Python, a few seconds in all.
"""

import math
import re
import tracemalloc
from collections.abc import Callable

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
    PreflightReport,
)
from tests.diagnostics_corpus import PARSERS, cases, oversized

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


WELL_FORMED: dict[str, Callable[[object], None]] = {
    "fio": _disk_is_well_formed,
    "iperf3": _network_is_well_formed,
    "lspci": _count_is_well_formed,
    "nvidia-smi-query": _gpus_are_well_formed,
    "nvidia-smi-xml": _gpus_are_well_formed,
    "nvidia-smi-topo": _topology_is_well_formed,
}


def _assert_contract(tool: str, call: Callable[[str], object], text: str) -> object | None:
    """The call returns (the value, for the caller to check) or raises the tool's error."""
    try:
        return call(text)
    except DiagnosticsParseError as error:
        assert str(error).startswith(f"{tool}: "), str(error)
        assert len(str(error)) < 1000, str(error)[:200]
        return None


def _fuzz(name: str) -> tuple[list[str], dict[str, int]]:
    tool, parse, check, _ = PARSERS[name]
    well_formed = WELL_FORMED[name]
    failures: list[str] = []
    outcomes = {"parsed": 0, "refused": 0}
    for what, text in cases(name):
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
    return failures, outcomes


def test_every_parser_has_its_well_formed_check():
    assert set(WELL_FORMED) == set(PARSERS)


@pytest.mark.parametrize("name", list(PARSERS))
def test_every_mutation_of_a_real_output_parses_or_is_the_tools_error(name):
    failures, outcomes = _fuzz(name)
    assert not failures, f"{len(failures)} cases broke the contract:\n" + "\n".join(failures[:15])
    # The mutations matter: many still parse (values to check) and many are refused (messages
    # to check); a mutator that broke nothing, or everything, would prove little.
    assert outcomes["parsed"] > 20 and outcomes["refused"] > 100, outcomes


@pytest.mark.parametrize("name", list(PARSERS))
def test_an_output_larger_than_any_tool_prints_is_refused_unread(name):
    tool, parse, _, _ = PARSERS[name]
    text = oversized(name)
    # Unread, measured in memory rather than time: reading any of the text (a stripped copy,
    # its lines, a JSON or XML parse) allocates at least its size; refusing it, next to nothing.
    already_tracing = tracemalloc.is_tracing()
    if already_tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    try:
        with pytest.raises(DiagnosticsParseError) as raised:
            parse(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not already_tracing:
            tracemalloc.stop()
    assert peak < len(text) // 100, f"{peak:,} bytes allocated for {len(text):,} characters"
    assert str(raised.value) == (
        f"{tool}: the output is {len(text):,} characters, more than the "
        f"{MAX_TOOL_OUTPUT_CHARS:,} the tool ever prints; not parsed"
    )


@pytest.mark.parametrize("name", list(PARSERS))
def test_a_value_that_is_not_text_is_the_tools_error(name):
    tool, parse, _, _ = PARSERS[name]
    for value in (None, b"bytes", 42):
        with pytest.raises(DiagnosticsParseError, match=f"^{tool}: expected the tool's printed"):
            parse(value)
