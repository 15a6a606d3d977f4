"""The host scripts: shellcheck on all of them, and the diagnostics run for real on this
machine exactly as the SSH step runs them (same command line, script on stdin), twice."""

import socket
import subprocess
import time
from pathlib import Path

import pytest

from components.metal.diagnostics import parse_fio, parse_iperf3, parse_pci_gpus, split_sections
from components.metal.steps import SCRIPTS_DIR, metal_script, script_text, shell_command
from tests.bad_stacks import PROJECT_DIR


def run_step(step: str, environment: dict[str, str], timeout: int = 120) -> str:
    result = subprocess.run(
        shell_command(environment),
        shell=True,
        input=script_text(metal_script(step)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{step} failed:\n{result.stderr}"
    return result.stdout


def test_shellcheck_passes_on_every_script():
    scripts = sorted(
        str(p.relative_to(PROJECT_DIR))
        for p in [*PROJECT_DIR.glob("components/**/*.sh"), *PROJECT_DIR.glob("tools/*.sh")]
    ) + [".ci/run"]
    assert {f"components/metal/scripts/{p.name}" for p in SCRIPTS_DIR.glob("*.sh")} <= set(scripts)
    result = subprocess.run(
        ["shellcheck", "--external-sources", *scripts],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_script_is_strict():
    for script in SCRIPTS_DIR.glob("*.sh"):
        if script.name != "lib.sh":
            assert "set -euo pipefail" in script.read_text(), script.name


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listeners(port: int) -> int:
    out = subprocess.run(
        ["ss", "-H", "-t", "-l", "-n", f"sport = :{port}"], capture_output=True, text=True
    ).stdout
    return len([line for line in out.splitlines() if line.strip()])


@pytest.fixture
def iperf_port():
    port = _free_port()
    yield port
    subprocess.run(["pkill", "-f", f"iperf3 --server --port {port}"], check=False)


def _preflight_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        "PREFLIGHT_DIR": str(tmp_path / "preflight"),
        "FIO_SIZE_MIB": "16",
        "FIO_RUNTIME_SECONDS": "1",
        "PEER_ADDRESS": "127.0.0.1",
        "IPERF_PORT": str(port),
        "IPERF_SECONDS": "1",
        "COUNT_PCI_GPUS": "true",
        **extra,
    }


def test_net_server_is_idempotent(iperf_port):
    environment = {"IPERF_PORT": str(iperf_port), "IPERF_SERVER_SECONDS": "60"}
    assert f"listening on port {iperf_port}" in run_step("net-server", environment)
    assert run_step("net-server", environment).startswith("iperf3 server already listening")
    assert _listeners(iperf_port) == 1


def test_preflight_runs_fio_iperf3_and_lspci_for_real_twice(tmp_path, iperf_port):
    run_step("net-server", {"IPERF_PORT": str(iperf_port), "IPERF_SERVER_SECONDS": "60"})
    environment = _preflight_env(tmp_path, iperf_port)
    for _ in range(2):
        sections = split_sections(run_step("preflight", environment), ("fio", "iperf3", "lspci"))
        disk = parse_fio(sections["fio"])
        assert (disk.rw, disk.block_size) == ("randrw", "4k")
        assert disk.read_iops > 0 and disk.write_iops > 0
        network = parse_iperf3(sections["iperf3"])
        assert network.error is None, network.error
        assert network.remote_host == "127.0.0.1" and network.gbps > 0.1
        assert parse_pci_gpus(sections["lspci"]) == 0  # no NVIDIA device on this machine
        # The fio file is gone: the second run finds the disk as the first did.
        assert list((tmp_path / "preflight").iterdir()) == []
        time.sleep(0.2)  # the iperf3 server takes one test at a time


def test_preflight_reports_a_refused_peer_in_iperf3s_own_words(tmp_path, iperf_port):
    environment = _preflight_env(tmp_path, iperf_port, IPERF_ATTEMPTS="1")
    sections = split_sections(run_step("preflight", environment), ("fio", "iperf3"))
    network = parse_iperf3(sections["iperf3"])
    assert network.gbps is None
    assert "Connection refused" in network.error
