"""Bare-metal bring-up in the recorded graph: step order per host, host independence,
secrets, and the preflight gate stopping a faulty host (and only that host)."""

import json

import pytest

from components.metal.host import PreflightFailed
from components.metal.peers import peer_ring
from components.remote.steps import script_digest, step_script
from offline.evaluate import record
from offline.hardware import HardwareFaults

COMMAND = "command:remote:Command"
HOST = "deepseek:metal:Host"
STEPS = ("net-server", "preflight", "os-prep", "container-runtime", "nvidia-stack", "gpu-check")


def step_of(resource, host) -> str:
    return resource.name.removeprefix(host.name + "-")


def host_commands(graph):
    hosts = {h.urn for h in graph.by_type(HOST)}
    return [c for c in graph.by_type(COMMAND) if c.parent in hosts]


def steps_by_host(graph):
    hosts = {h.urn: h for h in graph.by_type(HOST)}
    steps = {urn: {} for urn in hosts}
    for command in host_commands(graph):
        host = hosts[command.parent]
        steps[host.urn][step_of(command, host)] = command
    return hosts, steps


def test_every_configured_host_has_a_component_under_its_site(prod_graph):
    sites = {s.urn: s for s in prod_graph.by_type("deepseek:site:Site")}
    hosts = prod_graph.by_type(HOST)
    assert len(hosts) == 24
    assert all(h.parent in sites for h in hosts)
    assert {h.name for h in hosts} >= {"deepseek-dc-a-dca-gpu-a100-1", "deepseek-dc-b-dcb-ceph-3"}


def test_each_host_runs_its_steps_in_order(prod_graph):
    hosts, steps = steps_by_host(prod_graph)
    for urn, host in hosts.items():
        s = steps[urn]
        gpu = "-gpu-" in host.name
        expected = {"net-server", "preflight", "os-prep", "container-runtime"}
        if gpu:
            expected |= {"nvidia-stack", "gpu-check"}
        assert set(s) == expected, host.name
        assert s["preflight"].urn in s["os-prep"].dependencies, host.name
        assert s["os-prep"].urn in s["container-runtime"].dependencies
        if gpu:
            assert s["container-runtime"].urn in s["nvidia-stack"].dependencies
            assert s["nvidia-stack"].urn in s["gpu-check"].dependencies
        # The OS step only runs with the preflight's verdict in hand.
        assert "PREFLIGHT_VERDICT=passed" in s["os-prep"].inputs["create"]
        assert ("COUNT_PCI_GPUS=true" in s["preflight"].inputs["create"]) == gpu


def test_hosts_depend_on_each_other_only_through_declared_iperf3_peers(prod_graph):
    hosts, steps = steps_by_host(prod_graph)
    owner = {c.urn: c.parent for c in host_commands(prod_graph)}
    name_of = {urn: h.name for urn, h in hosts.items()}
    for urn, host in hosts.items():
        for step, command in steps[urn].items():
            foreign = [d for d in command.dependencies if d in owner and owner[d] != urn]
            if step != "preflight":
                assert foreign == [], f"{command.name} depends on another host: {foreign}"
                continue
            (peer_server,) = foreign
            assert peer_server.endswith("-net-server")
            peer_host = prod_graph.by_urn()[owner[peer_server]]
            peer_address = peer_host.inputs["address"]
            assert f"PEER_ADDRESS={peer_address} " in command.inputs["create"]
            site = prod_graph.by_urn()[host.parent]
            members = [h.name for h in hosts.values() if h.parent == site.urn]
            assert peer_ring(members)[host.name] == name_of[peer_host.urn]


def test_the_deploy_key_never_reaches_the_snapshot(prod_graph):
    snapshot = prod_graph.snapshot_json()
    assert "offline-placeholder-secret" not in snapshot
    assert "PRIVATE KEY" not in snapshot
    for command in prod_graph.by_type(COMMAND):
        assert command.inputs["connection"] == "[secret]"


def test_steps_use_the_site_provider_and_rerun_on_script_changes(prod_graph):
    providers = {p.urn for p in prod_graph.by_type("pulumi:providers:command")}
    assert len(providers) == 2
    for command in host_commands(prod_graph):
        assert command.provider in providers
        step = next(s for s in STEPS if command.name.endswith(s))
        assert command.inputs["triggers"][0] == script_digest(step_script(step))
        assert command.inputs["stdin"].startswith("#!/usr/bin/env bash")


def test_host_outputs_carry_the_parsed_report_and_readiness(prod_graph):
    host = prod_graph.named("deepseek-dc-a-dca-gpu-a100-1")
    outputs = prod_graph.component_outputs[host.urn]
    report = json.loads(outputs["preflightReport"])
    assert report["passed"] is True
    assert report["measurements"]["pciGpus"] == 8
    assert report["measurements"]["pairsWithoutNvlink"] == 0
    assert len(outputs["gpuInventory"]) == 8
    assert outputs["gpuInventory"][0]["name"] == "NVIDIA A100-SXM4-80GB"
    assert json.loads(outputs["ready"])["ready"] is True


def _os_prep_hosts(graph) -> set[str]:
    return {
        c.name.removesuffix("-os-prep")
        for c in graph.by_type(COMMAND)
        if c.name.endswith("-os-prep") and "create" in c.inputs
    }


@pytest.mark.parametrize(
    "host, fault, phase, finding",
    [
        (
            "dca-gpu-a100-1",
            HardwareFaults(gpus_missing=1),
            "preflight",
            "NVIDIA GPUs on the PCI bus: expected 8, measured 7",
        ),
        (
            "dcb-ceph-2",
            HardwareFaults(disk_iops=9000),
            "preflight",
            "4K random read/write IOPS: expected >= 40000, measured 9000",
        ),
        (
            "dca-cp-2",
            HardwareFaults(peer_refused=True),
            "preflight",
            "iperf3 to peer: expected >= 5 Gbit/s, measured no measurement "
            "(unable to connect to server: Connection refused)",
        ),
        (
            "dca-gpu-v100-1",
            HardwareFaults(network_gbps=9.4),
            "preflight",
            "iperf3 to peer: expected >= 20 Gbit/s, measured 9.40 Gbit/s",
        ),
    ],
)
def test_a_failed_preflight_stops_that_host_only(prod_graph, host, fault, phase, finding):
    graph, error = record("prod", hardware_faults={host: fault})
    assert isinstance(error, PreflightFailed)
    assert str(error).startswith(f"host {host} (sites[")
    assert f"failed {phase}; no later step runs on it" in str(error)
    assert finding in str(error)
    stopped = {name for name in _os_prep_hosts(prod_graph) if name.endswith(f"-{host}")}
    assert len(stopped) == 1
    assert _os_prep_hosts(graph) == _os_prep_hosts(prod_graph) - stopped
    # Its rollout stops at it too: a change never reaches a host that fails its minimums.
    assert not [c for c in graph.by_type(COMMAND) if c.name.endswith(f"rollout-{host}-os-prep")]


def test_broken_nvlink_fails_the_gpu_check_after_the_driver():
    graph, error = record(
        "prod", hardware_faults={"dcb-gpu-a100-2": HardwareFaults(pairs_without_nvlink=[(0, 7)])}
    )
    assert isinstance(error, PreflightFailed)
    assert "host dcb-gpu-a100-2 (sites[1].hosts[4]) failed the GPU check" in str(error)
    assert "1 pairs without NVLink (GPU0-GPU7=SYS)" in str(error)
    host = graph.named("deepseek-dc-b-dcb-gpu-a100-2")
    assert "ready" not in graph.component_outputs.get(host.urn, {})


def test_a_host_that_fails_to_build_ends_the_program(monkeypatch):
    """Its peer waits on its iperf3 server: without care the program would hang for ever."""
    import signal

    import components.site as site_module

    real_host = site_module.Host

    def failing_host(name, args, opts=None):
        if args.spec.name == "dca-cp-2":
            raise RuntimeError("cannot build dca-cp-2")
        return real_host(name, args, opts)

    def hung(signum, frame):
        raise TimeoutError("the program hung after a host failed to build")

    monkeypatch.setattr(site_module, "Host", failing_host)
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        _, error = record("prod")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert isinstance(error, RuntimeError)
    assert "cannot build dca-cp-2" in str(error)
