"""Preflight parsers on real tool output (../shared/fixtures) and the checks built on them."""

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
from components.remote.steps import format_result, parse_result
from tests.paths import DIAGNOSTICS_FIXTURES, local, shared


def test_the_shared_fixtures_are_there():
    assert DIAGNOSTICS_FIXTURES.is_dir(), f"expected the shared fixtures at {DIAGNOSTICS_FIXTURES}"


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


def _fio_job(**fields: str) -> str:
    """One fio job as JSON text, its members given as JSON text ("read": '{"iops": 5}')."""
    members = {"jobname": '"t"', "error": "0", "read": '{"iops": 10}', "write": '{"iops": 5}'}
    members.update(fields)
    job = ", ".join(f'"{key}": {value}' for key, value in members.items() if value)
    return '{"fio version": "fio-3.33", "jobs": [{' + job + "}]}"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "fio: the output is empty"),
        (
            "fio: pid=0, err=2/file:filesetup.c:148, error=No such file",
            "fio: no JSON document in the output, which begins "
            "'fio: pid=0, err=2/file:filesetup.c:148, error=No such file'",
        ),
        ("42", "fio: no JSON document in the output, which begins '42'"),
        ('[{"jobs": []}]', "fio: the JSON output is a list, not an object"),
        ('{"fio version": "fio-3.33"}', 'fio: the JSON has no "jobs"; fio ran no job'),
        ('{"jobs": {}}', 'fio: "jobs" is an object, not a list'),
        ('{"jobs": []}', 'fio: "jobs" is empty; fio ran no job'),
        ('{"jobs": [7]}', "fio: job #0 is the number 7, not an object"),
        (
            _fio_job(error="5", read="", write=""),
            "fio: job 't' failed with error 5 (Input/output error)",
        ),
        (_fio_job(error='"EIO"'), "fio: job 't' failed with error \"EIO\""),
        (_fio_job(error="NaN"), "fio: job 't' failed with error NaN"),
        (_fio_job(read=""), "fio: job 't': read is missing"),
        (_fio_job(read="[]"), "fio: job 't': read is a list, not an object"),
        (_fio_job(read="{}"), "fio: job 't': read has no iops"),
        (_fio_job(write='{"iops": -1}'), "fio: job 't': write iops is negative (-1)"),
        (_fio_job(read='{"iops": NaN}'), "fio: job 't': read iops is NaN, not a measurement"),
        (
            _fio_job(read='{"iops": Infinity}'),
            "fio: job 't': read iops is infinite, not a measurement",
        ),
        (
            _fio_job(read='{"iops": 1e999}'),
            "fio: job 't': read iops is infinite, not a measurement",
        ),
        (
            _fio_job(read='{"iops": "26728"}'),
            "fio: job 't': read iops is the string '26728', not a number",
        ),
        (_fio_job(read='{"iops": null}'), "fio: job 't': read iops is null, not a number"),
        (
            _fio_job(read='{"iops": true}'),
            "fio: job 't': read iops is the boolean true, not a number",
        ),
        (
            _fio_job(read='{"iops": 1e300}'),
            "fio: job 't': read iops is 1e+300, beyond any real device (at most 1e+09)",
        ),
        (
            _fio_job(read='{"iops": ' + "9" * 400 + "}"),
            "fio: job 't': read iops is a 400-digit number, beyond any real device (at most 1e+09)",
        ),
        (
            _fio_job(**{"job options": '"randrw"'}),
            "fio: job 't': \"job options\" is the string 'randrw', not an object",
        ),
        (
            '{"jobs": [',
            "fio: the JSON output is cut short: it ends at line 1 before the document does "
            "(Expecting value)",
        ),
        (
            '{"jobs": [}',
            "fio: the JSON output is malformed at line 1 column 11: Expecting value, at '}'",
        ),
        ("[" * 100_000, "fio: the JSON output is nested too deeply to be fio's"),
    ],
)
def test_fio_malformed_output_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError) as raised:
        parse_fio(text)
    assert str(raised.value) == message


def test_fio_json_truncated_anywhere_says_it_was_cut_short():
    text = shared("fio_randrw_direct_libaio.json")
    for end in range(1, len(text.rstrip()), 97):
        with pytest.raises(DiagnosticsParseError, match="^fio: the JSON output is cut short"):
            parse_fio(text[:end])


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


def _iperf3_end(bits_per_second: str) -> str:
    return '{"start": {}, "end": {"sum_received": {"bits_per_second": ' + bits_per_second + "}}}"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "iperf3: the output is empty"),
        (
            "iperf3: error - unable to connect",
            "iperf3: no JSON document in the output, which begins "
            "'iperf3: error - unable to connect'",
        ),
        ("[1, 2]", "iperf3: the JSON output is a list, not an object"),
        (
            '{"start": {}, "end": {}}',
            "iperf3: no end summary (end.sum_received) with bits_per_second; "
            "the test did not finish",
        ),
        ('{"start": [], "end": {}}', "iperf3: start is a list, not an object"),
        (
            '{"start": {"connected": [3]}}',
            "iperf3: start.connected[0] is the number 3, not an object",
        ),
        (
            '{"start": {"test_start": {"protocol": "QUIC"}}}',
            "iperf3: start.test_start.protocol is 'QUIC', not one of TCP, UDP, SCTP",
        ),
        ('{"end": {"sum_received": 1}}', "iperf3: end.sum_received is the number 1, not an object"),
        ('{"end": {"sum_received": {}}}', "iperf3: end.sum_received has no bits_per_second"),
        (_iperf3_end("-1"), "iperf3: end.sum_received.bits_per_second is negative (-1)"),
        (_iperf3_end("NaN"), "iperf3: end.sum_received.bits_per_second is NaN, not a measurement"),
        (
            _iperf3_end('"inf"'),
            "iperf3: end.sum_received.bits_per_second is the string 'inf', not a number",
        ),
        (
            _iperf3_end("Infinity"),
            "iperf3: end.sum_received.bits_per_second is infinite, not a measurement",
        ),
        (
            _iperf3_end("1e16"),
            "iperf3: end.sum_received.bits_per_second is 1e+16, beyond any real device "
            "(at most 1e+15)",
        ),
    ],
)
def test_iperf3_malformed_output_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError) as raised:
        parse_iperf3(text)
    assert str(raised.value) == message


def test_iperf3_json_truncated_anywhere_says_it_was_cut_short():
    text = shared("iperf3_client_tcp_loopback.json")
    for end in range(1, len(text.rstrip()), 89):
        with pytest.raises(DiagnosticsParseError, match="^iperf3: the JSON output is cut short"):
            parse_iperf3(text[:end])


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


H200_HEADER, H200_ROW = shared("nvidia-smi-query-gpu-h200.csv").splitlines()[:2]


def _h200_with(column: str, value: str) -> str:
    """The H200 CSV with one column's value replaced."""
    header = [cell.strip() for cell in H200_HEADER.split(",")]
    row = [cell.strip() for cell in H200_ROW.split(",")]
    row[header.index(column)] = value
    return H200_HEADER + "\n" + ", ".join(row) + "\n"


NVIDIA_SMI_NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running.\n"
)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "nvidia-smi: the output is empty"),
        (
            NVIDIA_SMI_NO_DRIVER,
            'nvidia-smi: printed an error instead of the GPU list: "NVIDIA-SMI has failed '
            "because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
            'NVIDIA driver is installed and running."',
        ),
        (
            "No devices were found\n",
            "nvidia-smi: printed an error instead of the GPU list: 'No devices were found'",
        ),
        (
            "0, NVIDIA H200, GPU-71de8d1e\n",
            "nvidia-smi: expected the `--query-gpu --format=csv` header (index, name, ...) on "
            "the first line, found '0, NVIDIA H200, GPU-71de8d1e'",
        ),
        (
            "index, name\n0, NVIDIA H200\n",
            "nvidia-smi: the CSV header lacks columns ['uuid', 'memory.total', 'driver_version']: "
            "'index, name'",
        ),
        (
            H200_HEADER + "\n",
            "nvidia-smi: the CSV has its header but no GPU rows; was the output cut short?",
        ),
        (
            H200_HEADER + "\n" + H200_ROW.rsplit(",", 3)[0] + "\n",
            "nvidia-smi: line 2 has 8 fields, the header has 11: "
            "'0, NVIDIA H200, GPU-71de8d1e-b8b7-f690-8b13-da867baa5cab, 143771 MiB, 580.159.04, "
            "00000000:00:06.0, 700.00 W, 79.08 W'",
        ),
        (
            H200_HEADER
            + "\nUnable to determine the device handle for GPU0000:17:00.0: Unknown Error\n",
            "nvidia-smi: printed an error instead of the GPU row on line 2: 'Unable to determine "
            "the device handle for GPU0000:17:00.0: Unknown Error'",
        ),
        (
            H200_HEADER + "\n" + H200_ROW + "\n" + H200_ROW + "\n",
            "nvidia-smi: GPU 0 (line 3) repeats the index of line 2",
        ),
        (
            _h200_with("index", "[N/A]"),
            "nvidia-smi: the GPU on line 2 has index '[N/A]', not a GPU number",
        ),
        (
            _h200_with("memory.total [MiB]", "[N/A]"),
            "nvidia-smi: GPU 0 (line 2): memory.total is '[N/A]'; without it the GPU cannot "
            "be checked",
        ),
        (
            _h200_with("memory.total [MiB]", "[Not Supported]"),
            "nvidia-smi: GPU 0 (line 2): memory.total is '[Not Supported]'; without it the GPU "
            "cannot be checked",
        ),
        (
            _h200_with("memory.total [MiB]", "140 GiB"),
            "nvidia-smi: GPU 0 (line 2): memory.total is '140 GiB', not a size in MiB",
        ),
        (
            _h200_with("uuid", "[Unknown Error]"),
            "nvidia-smi: GPU 0 (line 2): uuid is '[Unknown Error]'; without it the GPU cannot "
            "be checked",
        ),
        (
            _h200_with("power.draw [W]", "nan W"),
            "nvidia-smi: GPU 0 (line 2): power.draw is 'nan W', not a number in W",
        ),
        (
            _h200_with("utilization.gpu [%]", "1e999 %"),
            "nvidia-smi: GPU 0 (line 2): utilization.gpu is '1e999 %', not a number in %",
        ),
        (
            _h200_with("utilization.gpu [%]", "250 %"),
            "nvidia-smi: GPU 0 (line 2): utilization.gpu is 250 %, beyond any GPU (at most 100)",
        ),
        (
            _h200_with("compute_cap", "nine"),
            "nvidia-smi: GPU 0 (line 2): compute_cap is 'nine', not what nvidia-smi prints",
        ),
    ],
)
def test_nvidia_smi_csv_malformed_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError) as raised:
        parse_gpu_inventory(text)
    assert str(raised.value) == message


def test_nvidia_smi_csv_keeps_a_gpu_whose_readings_are_not_available():
    header = [cell.strip() for cell in H200_HEADER.split(",")]
    row = [cell.strip() for cell in H200_ROW.split(",")]
    for column in ("power.limit [W]", "power.draw [W]", "compute_cap", "pci.bus_id"):
        row[header.index(column)] = "[N/A]"
    for column in ("utilization.gpu [%]", "temperature.gpu"):
        row[header.index(column)] = "[Not Supported]"
    (gpu,) = parse_gpu_inventory(H200_HEADER + "\n" + ", ".join(row) + "\n")
    assert (gpu.index, gpu.name, gpu.memory_mib) == (0, "NVIDIA H200", 143771)
    assert gpu.power_limit_w is gpu.power_draw_w is gpu.utilization_percent is None
    assert gpu.temperature_c is gpu.compute_capability is gpu.pci_bus_id is None


def test_nvidia_smi_csv_in_another_column_order_with_extra_spaces_and_no_units():
    header = [cell.strip() for cell in H200_HEADER.split(",")]
    row = [cell.strip() for cell in H200_ROW.split(",")]
    order = list(reversed(range(len(header))))
    text = (
        "\n  "
        + " ,   ".join(header[i] for i in order)
        + "  \r\n"
        + ",".join("  " + row[i].removesuffix(" MiB").removesuffix(" W") + " " for i in order)
        + "\r\n\n"
    )
    (reordered,) = parse_gpu_inventory(text)
    (original,) = parse_gpu_inventory(shared("nvidia-smi-query-gpu-h200.csv"))
    assert reordered == original
    assert (original.power_limit_w, original.power_draw_w) == (700.0, 79.08)
    assert (original.utilization_percent, original.temperature_c) == (0.0, 37.0)
    assert original.pci_bus_id == "00000000:00:06.0"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            shared("nvidia-smi-q-h200.xml")[:500],
            "nvidia-smi: not a complete `nvidia-smi -q -x` report: no element found: "
            "line 13, column 0",
        ),
        (
            "<gpu/>",
            "nvidia-smi: not `nvidia-smi -q -x` output: the root element is 'gpu', "
            "not 'nvidia_smi_log'",
        ),
        ("<nvidia_smi_log></nvidia_smi_log>", "nvidia-smi: the XML report lists no <gpu>"),
        (
            shared("nvidia-smi-q-h200.xml").replace(
                "<total>143771 MiB</total>", "<total>N/A</total>"
            ),
            "nvidia-smi: GPU '00000000:00:06.0': fb_memory_usage/total is 'N/A', not a size in MiB",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><nvidia_smi_log>&b;</nvidia_smi_log>',
            "nvidia-smi: the XML report declares entities; not parsed",
        ),
        (
            NVIDIA_SMI_NO_DRIVER,
            'nvidia-smi: printed an error instead of the XML report: "NVIDIA-SMI has failed '
            "because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
            'NVIDIA driver is installed and running."',
        ),
    ],
)
def test_nvidia_smi_xml_malformed_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError) as raised:
        parse_gpu_inventory_xml(text)
    assert str(raised.value) == message


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


TOPO_8 = local("nvidia-smi-topo-8xa100.txt")


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "nvidia-smi topo: the output is empty"),
        (
            "No devices were found",
            "nvidia-smi topo: printed an error instead of the topology matrix: "
            "'No devices were found'",
        ),
        (
            "GPU X NV12",
            "nvidia-smi topo: no header row naming GPU0, GPU1, ...; the output begins 'GPU X NV12'",
        ),
        (
            "\tGPU0\tGPU1\nGPU0\t X \tNV12\n",
            "nvidia-smi topo: expected rows GPU0..GPU1, rows GPU1 are missing; was the output "
            "cut short?",
        ),
        (
            "\tGPU0\tGPU1\nGPU0\t X\nGPU1\tNV12\t X \n",
            "nvidia-smi topo: row GPU0 has 1 cells, expected 2; was the output cut short?",
        ),
        (
            "\tGPU0\tGPU1\nGPU0\tNV12\tNV12\nGPU1\tNV12\t X \n",
            "nvidia-smi topo: GPU0 to GPU0 is NV12; only a GPU to itself is X",
        ),
        (
            "\tGPU0\tGPU1\nGPU0\t X \tNV12\nGPU1\tNV4\t X \n",
            "nvidia-smi topo: GPU0 to GPU1 is NV12 but GPU1 to GPU0 is 'NV4'; the matrix is not "
            "symmetric",
        ),
        (
            "\tGPU0\tGPU1\nGPU0\t X \tN/A\nGPU1\tN/A\t X \n",
            "nvidia-smi topo: GPU0 to GPU1 is 'N/A', not a link type (X, SYS, SOC, NODE, PHB, "
            "PXB, PIX, NV# or one the legend explains)",
        ),
        (
            "\tGPU0\tGPU1\nGPU0\t X \tSYS\nGPU0\t X \tSYS\nGPU1\tSYS\t X \n",
            "nvidia-smi topo: the row of GPU0 appears twice",
        ),
        (
            "\tGPU0\tGPU1\nGPU0\t X \tSYS\nGPU7\tSYS\t X \n",
            "nvidia-smi topo: a row for GPU7, but the header names GPU0..GPU1",
        ),
        (
            "\tGPU1\tGPU0\nGPU0\t X \tSYS\n",
            "nvidia-smi topo: GPU columns out of order in the header: 'GPU1\\tGPU0'",
        ),
        (
            TOPO_8[: TOPO_8.index("\nGPU5")],
            "nvidia-smi topo: expected rows GPU0..GPU7, rows GPU5, GPU6, GPU7 are missing; was "
            "the output cut short?",
        ),
        (
            TOPO_8[: TOPO_8.index("\nGPU5") + 20],
            "nvidia-smi topo: row GPU5 has 3 cells, expected 11; was the output cut short?",
        ),
    ],
)
def test_topology_malformed_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError) as raised:
        parse_gpu_topology(text)
    assert str(raised.value) == message


def test_topology_accepts_a_link_code_its_legend_explains():
    text = (
        "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tNVB\t0-7\nGPU1\tNVB\t X \t0-7\n\nLegend:\n"
        "  X    = Self\n  NVB  = Connection traversing an NVLink bridge\n"
    )
    assert parse_gpu_topology(text).link(0, 1) == "NVB"


# --- lspci ---


def test_lspci_counts_gpus_not_nvswitches():
    assert parse_pci_gpus(local("lspci-8xa100.txt")) == 8
    assert parse_pci_gpus("") == 0


def test_lspci_reads_domains_other_vendors_and_unnamed_devices():
    text = (
        "0000:17:00.0 3D controller [0302]: NVIDIA Corporation Device [10de:2335] (rev a1)\n"
        "0000:18:00.0 VGA compatible controller [0300]: NVIDIA Corporation GA102GL [A40] "
        "[10de:2235] (rev a1)\n"
        "00:02.0 VGA compatible controller [0300]: Matrox Electronics Systems Ltd. "
        "Integrated Matrox G200eW3 Graphics Controller [102b:0536] (rev 04)\n"
    )
    assert parse_pci_gpus(text) == 2


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "pcilib: Cannot open /proc/bus/pci\n",
            "lspci: line 1 is not an `lspci -nn` line: 'pcilib: Cannot open /proc/bus/pci'",
        ),
        (
            local("lspci-8xa100.txt")[:150],
            "lspci: line 2 is not an `lspci -nn` line: '27:00.0 3D controller [0302]: NVIDIA "
            "Corporation GA100 [A'",
        ),
        (
            "17:00.0 3D controller: NVIDIA Corporation GA100 [A100 SXM4 80GB] (rev a1)\n",
            "lspci: line 1 is not an `lspci -nn` line: '17:00.0 3D controller: NVIDIA "
            "Corporation GA100 [A100 SXM4 80GB] (rev a1)'",
        ),
        (
            '{"fio version": "fio-3.33"}',
            'lspci: line 1 is not an `lspci -nn` line: \'{"fio version": "fio-3.33"}\'',
        ),
        (
            "x" * (3 * 1024 * 1024),
            "lspci: the output is 3,145,728 characters, more than the 2,097,152 the tool "
            "ever prints; not parsed",
        ),
    ],
)
def test_lspci_malformed_is_a_clear_error(text, message):
    with pytest.raises(DiagnosticsParseError) as raised:
        parse_pci_gpus(text)
    assert str(raised.value) == message


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
