"""Preflight parsers on real tool output (../shared/fixtures) and the checks built on them."""

from pathlib import Path

import pytest

from components.metal.diagnostics import (
    DiagnosticsParseError,
    PreflightExpectations,
    check_gpu_check_output,
    check_gpus,
    check_hardware,
    check_preflight_output,
    parse_fio,
    parse_gpu_inventory,
    parse_gpu_inventory_xml,
    parse_gpu_topology,
    parse_iperf3,
    parse_pci_gpus,
)
from components.metal.steps import format_result, parse_result

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "diagnostics"
LOCAL = Path(__file__).resolve().parents[1] / "fixtures"


def shared(name: str) -> str:
    return (SHARED / name).read_text()


def local(name: str) -> str:
    return (LOCAL / name).read_text()


def test_the_shared_fixtures_are_there():
    assert SHARED.is_dir(), f"expected the shared fixtures at {SHARED}"


# --- fio ---


def test_fio_random_read():
    bench = parse_fio(shared("fio_randread_4k.json"))
    assert (bench.rw, bench.block_size) == ("randread", "4k")
    assert bench.read_iops == pytest.approx(26728.454309)
    assert bench.write_iops == 0
    assert bench.total_iops == pytest.approx(26728.454309)


def test_fio_random_read_write_direct():
    bench = parse_fio(shared("fio_randrw_direct_libaio.json"))
    assert bench.rw == "randrw"
    assert bench.read_iops == pytest.approx(52070.985803)
    assert bench.write_iops == pytest.approx(22357.928414)


def test_fio_with_a_warning_before_its_json():
    text = "fio: this platform does not support process shared mutexes\n" + shared(
        "fio_randread_4k.json"
    )
    assert parse_fio(text).read_iops == pytest.approx(26728.454309)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no JSON document"),
        ("fio: pid=0, err=2/file:filesetup.c:148, error=No such file", "no JSON document"),
        ('{"jobs": []}', "no jobs"),
        ('{"jobs": [{"jobname": "t", "error": 5}]}', "failed with error 5"),
        ('{"jobs": [{"jobname": "t", "error": 0, "read": {}}]}', "lacks read/write iops"),
        ('{"jobs": [', "not valid JSON"),
    ],
)
def test_fio_malformed_output_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError, match=message):
        parse_fio(text)


# --- iperf3 ---


def test_iperf3_tcp_client():
    bench = parse_iperf3(shared("iperf3_client_tcp_loopback.json"))
    assert bench.error is None
    assert bench.protocol == "TCP"
    assert bench.remote_host == "127.0.0.1"
    assert bench.gbps == pytest.approx(32.527232686, rel=1e-6)


def test_iperf3_udp_client_uses_the_udp_summary():
    bench = parse_iperf3(shared("iperf3_client_udp_loopback.json"))
    assert bench.protocol == "UDP"
    assert bench.gbps == pytest.approx(0.999484608, rel=1e-6)


def test_iperf3_server_side_report():
    bench = parse_iperf3(shared("iperf3_server_loopback.json"))
    assert bench.gbps == pytest.approx(32.527232686, rel=1e-6)


def test_iperf3_refused_connection_is_an_error_not_a_zero():
    # iperf3 3.12 exits 0 here; only the "error" key tells.
    bench = parse_iperf3(shared("iperf3_client_error_refused.json"))
    assert bench.gbps is None
    assert bench.error == "unable to connect to server: Connection refused"


@pytest.mark.parametrize(
    "text, message",
    [
        ("iperf3: error - unable to connect", "no JSON document"),
        ('{"start": {}, "end": {}}', "no end summary"),
        ("[1, 2]", "no JSON document"),
    ],
)
def test_iperf3_malformed_output_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError, match=message):
        parse_iperf3(text)


# --- nvidia-smi ---


def test_nvidia_smi_csv_of_an_h200():
    (gpu,) = parse_gpu_inventory(shared("nvidia-smi-query-gpu-h200.csv"))
    assert (gpu.index, gpu.name) == (0, "NVIDIA H200")
    assert gpu.uuid == "GPU-71de8d1e-b8b7-f690-8b13-da867baa5cab"
    assert gpu.memory_mib == 143771
    assert (gpu.driver_version, gpu.compute_capability) == ("580.159.04", "9.0")


def test_nvidia_smi_xml_agrees_with_the_csv():
    (from_xml,) = parse_gpu_inventory_xml(shared("nvidia-smi-q-h200.xml"))
    (from_csv,) = parse_gpu_inventory(shared("nvidia-smi-query-gpu-h200.csv"))
    for field in ("index", "name", "uuid", "memory_mib", "driver_version"):
        assert getattr(from_xml, field) == getattr(from_csv, field), field


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "first line should be the header"),
        (
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
            "first line should be the header",
        ),
        ("index, name\n0, NVIDIA H200\n", "lacks columns"),
    ],
)
def test_nvidia_smi_csv_malformed_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError, match=message):
        parse_gpu_inventory(text)


def test_nvidia_smi_csv_truncated_row_is_a_clear_error():
    header, row = shared("nvidia-smi-query-gpu-h200.csv").splitlines()[:2]
    with pytest.raises(DiagnosticsParseError, match="line 2 has"):
        parse_gpu_inventory(header + "\n" + row.rsplit(",", 3)[0] + "\n")


def test_nvidia_smi_xml_malformed_is_a_clear_error():
    with pytest.raises(DiagnosticsParseError, match="not `nvidia-smi -q -x` output"):
        parse_gpu_inventory_xml(shared("nvidia-smi-q-h200.xml")[:500])


def test_topology_of_an_8_gpu_a100_server():
    topology = parse_gpu_topology(local("nvidia-smi-topo-8xa100.txt"))
    assert topology.gpu_count == 8
    assert topology.link(0, 0) == "X"
    assert topology.link(0, 7) == "NV12"
    assert topology.link(7, 0) == "NV12"
    assert topology.pairs_without_nvlink() == []


def test_topology_finds_the_pairs_that_lost_nvlink():
    topology = parse_gpu_topology(local("nvidia-smi-topo-8xa100-degraded.txt"))
    assert topology.link(2, 5) == "SYS"
    assert topology.pairs_without_nvlink() == [(2, 5), (3, 5)]


def test_topology_of_a_pcie_server_without_escapes_or_nics():
    text = (
        "\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\n"
        "GPU0\t X \tSYS\t0-23\t0\t\tN/A\n"
        "GPU1\tSYS\t X \t24-47\t1\t\tN/A\n\nLegend:\n\n  X    = Self\n"
    )
    topology = parse_gpu_topology(text)
    assert (topology.gpu_count, topology.link(0, 1)) == (2, "SYS")
    with pytest.raises(IndexError):
        topology.link(0, 2)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no header row"),
        ("No devices were found", "no header row"),
        ("\tGPU0\tGPU1\nGPU0\t X \tNV12\n", r"expected rows GPU0..GPU1"),
        ("\tGPU0\tGPU1\nGPU0\t X\nGPU1\tNV12\t X \n", "row GPU0 has 1 cells"),
        ("\tGPU0\tGPU1\nGPU0\tNV12\tNV12\nGPU1\tNV12\t X \n", "GPU0 to itself should be X"),
    ],
)
def test_topology_malformed_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError, match=message):
        parse_gpu_topology(text)


# --- lspci ---


def test_lspci_counts_gpus_not_nvswitches():
    assert parse_pci_gpus(local("lspci-8xa100.txt")) == 8
    assert parse_pci_gpus("") == 0


def test_lspci_malformed_is_a_clear_error():
    with pytest.raises(DiagnosticsParseError, match="not an `lspci -nn` line"):
        parse_pci_gpus("pcilib: Cannot open /proc/bus/pci\n")


# --- the checks ---

A100_HOST = PreflightExpectations("dca-gpu-a100-1", "A100-80GB", 8, 20000, 20)


def test_hardware_check_reports_expected_and_measured():
    report = check_hardware(
        A100_HOST,
        shared("fio_randread_4k.json"),  # 26.7k IOPS: passes 20k
        shared("iperf3_client_error_refused.json"),
        local("lspci-8xa100.txt"),
    )
    assert not report.passed
    (finding,) = report.findings
    assert finding.check == "iperf3 to peer"
    assert finding.render() == (
        "iperf3 to peer: expected >= 20 Gbit/s, measured no measurement "
        "(unable to connect to server: Connection refused)"
    )


def test_hardware_check_slow_disk_and_missing_gpu():
    storage = PreflightExpectations("dca-ceph-1", None, 0, 40000, 20)
    report = check_hardware(
        storage, shared("fio_randread_4k.json"), shared("iperf3_client_tcp_loopback.json")
    )
    assert [f.render() for f in report.findings] == [
        "4K random read/write IOPS: expected >= 40000, measured 26728"
    ]
    seven = "\n".join(local("lspci-8xa100.txt").splitlines()[1:])
    report = check_hardware(
        A100_HOST,
        shared("fio_randrw_direct_libaio.json"),
        shared("iperf3_client_tcp_loopback.json"),
        seven,
    )
    assert [f.render() for f in report.findings] == [
        "NVIDIA GPUs on the PCI bus: expected 8, measured 7"
    ]


def test_hardware_check_passes_on_good_measurements():
    report = check_hardware(
        A100_HOST,
        shared("fio_randrw_direct_libaio.json"),
        shared("iperf3_client_tcp_loopback.json"),
        local("lspci-8xa100.txt"),
    )
    assert report.passed
    assert report.measurements == {"diskIops": 74429, "networkGbps": 32.53, "pciGpus": 8}


def test_gpu_check_wrong_model_and_broken_nvlink():
    h200_csv = shared("nvidia-smi-query-gpu-h200.csv")
    report = check_gpus(
        PreflightExpectations("h", "A100-80GB", 8, 0, 0),
        h200_csv,
        local("nvidia-smi-topo-8xa100-degraded.txt"),
    )
    rendered = [f.render() for f in report.findings]
    assert rendered[0] == "GPU count: expected 8, measured 1"
    assert rendered[1].startswith("GPU model: expected A100-80GB (NVIDIA A100-SXM4-80GB")
    assert rendered[1].endswith("measured NVIDIA H200")
    assert rendered[2] == (
        "NVLink between every GPU pair: expected NV# on all 28 pairs, measured 2 pairs "
        "without NVLink (GPU2-GPU5=SYS, GPU3-GPU5=SYS)"
    )


def test_gpu_check_passes_for_a_matching_h200():
    text = "\tGPU0\tCPU Affinity\nGPU0\t X \t0-63\n"
    report = check_gpus(
        PreflightExpectations("h", "H200", 1, 0, 0), shared("nvidia-smi-query-gpu-h200.csv"), text
    )
    assert report.passed
    assert report.measurements["gpus"][0]["memoryMiB"] == 143771


# --- the steps' results ---


def _result(step: str, **outputs: str) -> dict:
    """The result fields of a step as the program reads them from its result line."""
    return parse_result(step, "changed: /etc/x\n" + format_result(step, outputs))


def test_a_result_line_keeps_each_tools_output_as_printed():
    fio = shared("fio_randrw_direct_libaio.json")
    iperf = shared("iperf3_client_tcp_loopback.json")
    fields = _result("preflight", fio=fio, iperf3=iperf)
    assert fields == {"changed": False, "fio": fio, "iperf3": iperf}


def test_preflight_output_of_a_gpu_host_is_checked_tool_by_tool():
    outputs = _result(
        "preflight",
        fio=shared("fio_randrw_direct_libaio.json"),
        iperf3=shared("iperf3_client_error_refused.json"),
        lspci=local("lspci-8xa100.txt"),
    )
    report = check_preflight_output(A100_HOST, outputs)
    assert [f.check for f in report.findings] == ["iperf3 to peer"]
    assert report.measurements["pciGpus"] == 8


def test_a_gpu_host_without_its_lspci_listing_is_a_clear_error():
    outputs = _result("preflight", fio=shared("fio_randrw_direct_libaio.json"))
    with pytest.raises(DiagnosticsParseError, match="lspci: .*no listing"):
        check_preflight_output(A100_HOST, outputs)


def test_gpu_check_output_is_checked_tool_by_tool():
    outputs = _result(
        "gpu-check",
        **{
            "nvidia-smi-query": shared("nvidia-smi-query-gpu-h200.csv"),
            "nvidia-smi-topo": "\tGPU0\tCPU Affinity\nGPU0\t X \t0-63\n",
        },
    )
    report = check_gpu_check_output(PreflightExpectations("h", "H200", 1, 0, 0), outputs)
    assert report.passed
