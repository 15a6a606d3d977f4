"""Malformed tool output through the whole program: a host whose fio, iperf3, lspci or
nvidia-smi printed something unreadable, or whose step was cut short, stops with a message
naming the host, where config declares it, the step, the tool and what was wrong; never a
traceback, and no other host is held back."""

import json
import re

import pulumi
import pytest

from components.remote.runner import StepFailed
from offline.evaluate import record
from offline.hardware import HardwareFaults, nvidia_smi_csv, topology_matrix
from tests.paths import shared

HOST = "deepseek:metal:Host"
COMMAND = "command:remote:Command"


def fio_job_failed_with_eio() -> str:
    """The real randrw capture as fio prints it when the job hit an I/O error."""
    document = json.loads(shared("fio_randrw_direct_libaio.json"))
    document["jobs"][0]["error"] = 5
    return json.dumps(document, indent=2)


def iperf3_cut_short() -> str:
    text = shared("iperf3_client_tcp_loopback.json")
    return text[: len(text) // 2]


def nvidia_smi_memory_not_available(gpu: int) -> str:
    """8 A100s as `nvidia-smi --query-gpu --format=csv` prints them, one reading [N/A] memory."""
    lines = nvidia_smi_csv("A100-80GB", 8).splitlines()
    cells = lines[1 + gpu].split(", ")
    cells[3] = "[N/A]"
    lines[1 + gpu] = ", ".join(cells)
    return "\n".join(lines) + "\n"


def topology_cut_before(gpu: int) -> str:
    text = topology_matrix("A100-80GB", 8, [])
    return text[: text.index(f"\nGPU{gpu}\t") + 1]


NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running."
)

CASES = [
    pytest.param(
        "dcb-ceph-2",
        "sites[1].hosts[10]",
        HardwareFaults(tool_outputs={"fio": fio_job_failed_with_eio()}),
        "preflight",
        re.escape("fio: job 't2' failed with error 5 (Input/output error)") + "$",
        id="fio-job-error",
    ),
    pytest.param(
        "dca-cp-2",
        "sites[0].hosts[1]",
        HardwareFaults(tool_outputs={"iperf3": iperf3_cut_short()}),
        "preflight",
        r"iperf3: the JSON output is cut short: it ends at line \d+ before the document does "
        r"\(.+\)$",
        id="iperf3-truncated-json",
    ),
    pytest.param(
        "dcb-gpu-a100-2",
        "sites[1].hosts[4]",
        HardwareFaults(tool_outputs={"nvidia-smi-query": nvidia_smi_memory_not_available(3)}),
        "gpu-check",
        re.escape(
            "nvidia-smi: GPU 3 (line 5): memory.total is '[N/A]'; without it the GPU cannot "
            "be checked"
        )
        + "$",
        id="nvidia-smi-memory-not-available",
    ),
    pytest.param(
        "dca-gpu-v100-1",
        "sites[0].hosts[5]",
        HardwareFaults(truncate_step="preflight"),
        "preflight",
        r"printed no result line .*cut short",
        id="preflight-cut-short",
    ),
    pytest.param(
        "dca-gpu-a100-1",
        "sites[0].hosts[3]",
        HardwareFaults(tool_outputs={"nvidia-smi-query": NO_DRIVER + "\n"}),
        "gpu-check",
        re.escape(f'nvidia-smi: printed an error instead of the GPU list: "{NO_DRIVER}"') + "$",
        id="nvidia-smi-without-its-driver",
    ),
    pytest.param(
        "dca-gpu-a100-2",
        "sites[0].hosts[4]",
        HardwareFaults(tool_outputs={"nvidia-smi-topo": topology_cut_before(5)}),
        "gpu-check",
        re.escape(
            "nvidia-smi topo: expected rows GPU0..GPU7, rows GPU5, GPU6, GPU7 are missing; "
            "was the output cut short?"
        )
        + "$",
        id="topology-cut-short",
    ),
    pytest.param(
        "dcb-gpu-v100-1",
        "sites[1].hosts[5]",
        HardwareFaults(tool_outputs={"lspci": "pcilib: Cannot open /proc/bus/pci\n"}),
        "preflight",
        re.escape("lspci: line 1 is not an `lspci -nn` line: 'pcilib: Cannot open /proc/bus/pci'")
        + "$",
        id="lspci-not-lspci",
    ),
]


# The steps that run only once the preflight passed.
AFTER_PREFLIGHT = ("os-prep", "container-runtime", "nvidia-stack", "gpu-check")


def _host_steps(graph) -> set[str]:
    """Every step command of every host, by name (`<host component>-<step>`)."""
    hosts = {h.urn for h in graph.by_type(HOST)}
    return {c.name for c in graph.by_type(COMMAND) if c.parent in hosts}


@pytest.mark.parametrize("host, config_path, fault, step, problem", CASES)
def test_malformed_output_stops_that_host_with_a_message_naming_it(
    prod_graph, host, config_path, fault, step, problem
):
    graph, error = record("prod", hardware_faults={host: fault})

    assert isinstance(error, StepFailed) and isinstance(error, pulumi.RunError), repr(error)
    message = str(error)
    prefix = f"host {host} ({config_path}): step {step}: "
    assert message.startswith(prefix), message
    assert re.match(problem, message[len(prefix) :]), message
    # What a person reads, not a Python failure.
    assert "\n" not in message
    assert "Traceback" not in message and 'File "' not in message
    assert not re.search(r"\w+(Error|Exception)\b", message), message
    assert "unreadable tool output" not in message

    # That host stops there; every other host goes on with all its steps as in the healthy
    # run (what follows a failure is not waited for, so readiness is not compared).
    component = next(h for h in prod_graph.by_type(HOST) if h.name.endswith(f"-{host}"))
    stopped = {f"{component.name}-{later}" for later in AFTER_PREFLIGHT}
    expected = _host_steps(prod_graph) - stopped if step == "preflight" else _host_steps(prod_graph)
    assert _host_steps(graph) == expected
    assert "ready" not in graph.component_outputs.get(component.urn, {})


def test_a_replaced_tool_output_reaches_the_parsers_as_printed():
    """The fault replaces exactly one tool's output on one host: a healthy capture in its
    place changes nothing but what is measured there."""
    capture = shared("fio_randrw_direct_libaio.json")  # 74,429 IOPS, above every minimum
    graph, error = record(
        "prod", hardware_faults={"dca-cp-2": HardwareFaults(tool_outputs={"fio": capture})}
    )
    assert error is None
    host = graph.named("deepseek-dc-a-dca-cp-2")
    report = json.loads(graph.component_outputs[host.urn]["preflightReport"])
    assert report["measurements"]["diskIops"] == 74429
    other = graph.named("deepseek-dc-a-dca-cp-3")
    assert (
        json.loads(graph.component_outputs[other.urn]["preflightReport"])["measurements"][
            "diskIops"
        ]
        == 90000
    )


def test_faults_name_only_tools_and_steps_that_exist():
    with pytest.raises(ValueError, match=r"tool_outputs: no step prints \['nvidia-smi'\]"):
        HardwareFaults(tool_outputs={"nvidia-smi": ""})
    with pytest.raises(ValueError, match="truncate_step: no step 'prefligth'"):
        HardwareFaults(truncate_step="prefligth")


def gpu_named(name: str) -> str:
    """8 A100s as nvidia-smi lists them, GPU 0 reporting `name`."""
    lines = nvidia_smi_csv("A100-80GB", 8).splitlines()
    cells = lines[1].split(", ")
    cells[1] = name
    lines[1] = ", ".join(cells)
    return "\n".join(lines) + "\n"


# ESC sequences that erase the line above and redraw it, a bell, a C1 CSI (a line separator
# too where the tool's output is not split into lines at it).
_TERMINAL = "\x1b[1A\x1b[2K\x07\x9b2J host dca-gpu-a100-1 passed"


@pytest.mark.parametrize(
    "host, fault, step",
    [
        pytest.param(
            "dca-gpu-a100-1",
            HardwareFaults(tool_outputs={"nvidia-smi-query": gpu_named("NVIDIA A100" + _TERMINAL)}),
            "gpu-check",
            id="gpu-name",
        ),
        pytest.param(
            "dca-cp-2",
            HardwareFaults(
                tool_outputs={"iperf3": json.dumps({"error": "refused\u2028" + _TERMINAL})}
            ),
            "preflight",
            id="iperf3-error",
        ),
        pytest.param(
            "dca-cp-2",
            HardwareFaults(tool_outputs={"lspci": "01:00.0 " + _TERMINAL}),
            "preflight",
            id="lspci-line",
        ),
    ],
)
def test_what_a_tool_printed_cannot_drive_the_terminal_that_shows_the_error(host, fault, step):
    """A failed host's message quotes what its tools printed (a GPU's name, iperf3's error):
    a control character there is shown escaped, never sent to the operator's terminal."""
    if "lspci" in fault.tool_outputs:
        host = "dca-gpu-a100-2"  # a GPU host, which lists its GPUs
    _, error = record("prod", hardware_faults={host: fault})
    assert isinstance(error, pulumi.RunError), repr(error)
    message = str(error)
    assert message.startswith(f"host {host} ("), message
    assert all(char.isprintable() or char == "\n" for char in message), repr(message)
    assert "\\x1b[1A" in message  # shown, escaped
