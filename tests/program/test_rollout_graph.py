"""Day-2 changes in the recorded graph (components/kubernetes/rollout.py): the first install
stays parallel, and a change of a live platform runs only in the rollout's update-only steps,
host after host, drained first and uncordoned last, one site after the other."""

import copy
import functools

import pytest
from google.protobuf import json_format
from pulumi.runtime import rpc

from components.plan import make_plan
from components.remote.steps import format_result, parse_shell_command, step_by_digest
from components.serving.headroom import headroom_problems
from components.stack_config import validate_config
from offline.evaluate import record
from offline.recorder import PlatformMocks
from tests.bad_stacks import evaluate_changed
from tests.stacks import raw_stack_config

COMMAND = "command:remote:Command"
ROLLOUT = "deepseek:kubernetes:Rollout"


@functools.cache
def _changed(what: str):
    changes = {
        "driver": lambda c: c.setdefault("nvidia", {}).update(driverPackage="nvidia-driver-550"),
        "version": lambda c: c["kubernetes"].update(version="1.31.5"),
        "minimum": lambda c: c.setdefault("preflight", {}).update(
            minDiskIops={"control-plane": 4000, "worker": 15000, "storage": 30000}
        ),
        "fio": lambda c: c.setdefault("preflight", {}).update(fioRuntimeSeconds=45),
        "remeasure": lambda c: c["sites"][0]["hosts"][3].update(remeasure="2026-11-29"),
        "ntp": lambda c: c["sites"][1]["network"].update(ntpServers=["10.200.0.125"]),
        "ssh": lambda c: c["ssh"].update(port=2222),
        "host-key": lambda c: c["sites"][0]["hosts"][3].update(
            hostKey="ssh-ed25519 "
            "AAAAC3NzaC1lZDI1NTE5AAAAIHynL62+9GlyGEoqET5cLz6eif7V+rTcgelMsxuo3xl1"
        ),
    }
    return evaluate_changed(changes[what])


def _unwrapped(value):
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return _unwrapped(value.get("value"))
    if isinstance(value, dict):
        return {key: _unwrapped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrapped(item) for item in value]
    return value


def _engine_inputs(resource) -> dict:
    """The inputs as the engine compares them, secrets unwrapped: the recorded inputs mask
    `connection` (a secret as a whole), so a changed port or host key shows there as none."""
    return _unwrapped(json_format.MessageToDict(resource.engine_properties))


def _ignored(resource, unmasked: bool = False) -> dict:
    """The inputs the engine compares: those under ignoreChanges left out."""
    inputs = copy.deepcopy(_engine_inputs(resource) if unmasked else resource.inputs)
    for path in resource.ignore_changes:
        if path.endswith("]"):
            key, index = path[:-1].split("[")
            if key in inputs and int(index) < len(inputs[key]):
                inputs[key][int(index)] = None
        else:
            inputs.pop(path, None)
    return inputs


def _runs(before, after, unmasked: bool = False) -> dict[str, str]:
    """What the engine would do with each Command of `after` against `before`, by the
    pulumi-command provider's rules: a changed `triggers` replaces (and runs `create`), any
    other changed input updates (runs `update`, or `create` when the Command has no
    `update`); a new Command is created (runs `create`, if it has one)."""
    old = {r.name: r for r in before.by_type(COMMAND)}
    now = {r.name for r in after.by_type(COMMAND)}
    out = {name: "delete" for name in old if name not in now}
    for command in after.by_type(COMMAND):
        if command.name not in old:
            out[command.name] = "create"
            continue
        was = _ignored(old[command.name], unmasked)
        now = _ignored(command, unmasked)
        if was == now:
            continue
        out[command.name] = "replace" if was.get("triggers") != now.get("triggers") else "update"
    return out


def _rollout_commands(graph):
    """The chained update-only steps (the removal's delete-only steps hang there too)."""
    rollouts = {r.urn for r in graph.by_type(ROLLOUT)}
    return [c for c in graph.by_type(COMMAND) if c.parent in rollouts and "-rollout-" in c.name]


def _reaches(graph, start: str, goal: str) -> bool:
    """Whether `start` waits (through dependencies) on `goal`."""
    index = graph.by_urn()
    seen, pending = set(), [start]
    while pending:
        urn = pending.pop()
        if urn == goal:
            return True
        if urn not in seen:
            seen.add(urn)
            pending.extend(index[urn].dependencies if urn in index else ())
    return False


def test_rollout_steps_run_nothing_on_first_install(prod_graph):
    commands = _rollout_commands(prod_graph)
    assert commands
    for command in commands:
        assert "create" not in command.inputs, command.name
        assert "update" in command.inputs, command.name
        # A trigger change would replace it, and a replaced update-only step runs nothing.
        assert command.ignore_changes == ("triggers",), command.name


def test_first_install_does_not_wait_on_any_rollout_step(prod_graph):
    """The rollout's chains are long (every host of a site, in order): nothing that works
    on first install may wait on them, or the install would be serialized."""
    rollout = {c.urn for c in _rollout_commands(prod_graph)}
    rollout |= {r.urn for r in prod_graph.by_type(ROLLOUT)}
    for resource in prod_graph.resources:
        if resource.urn in rollout:
            continue
        assert not set(resource.dependencies) & rollout, resource.name


def test_install_steps_ignore_a_change_of_their_inputs(prod_graph):
    installs = [
        c
        for c in prod_graph.by_type(COMMAND)
        if "create" in c.inputs
        and c.name.endswith(
            (
                "-preflight",
                "-os-prep",
                "-container-runtime",
                "-nvidia-stack",
                "-gpu-check",
                "-kubeadm-init",
                "-kubeadm-join",
            )
        )
    ]
    assert len(installs) > 100
    for command in installs:
        assert set(command.ignore_changes) == {
            "create",
            "stdin",
            "triggers[0]",
            "triggers[1]",
            "connection",
        }


CEPH_DECLARATIVE = (
    "-ceph-host-add",
    "-ceph-osds",
    "-ceph-pools",
    "-ceph-rgw",
    "-ceph-rgw-user",
    "-ceph-client-key",
)


@pytest.mark.parametrize("what", ["ssh", "host-key"])
def test_a_new_connection_runs_no_install_step_again(prod_graph, what):
    """pulumi-command updates a Command on any changed input but `triggers`, and an update
    without `update` runs `create` (the one in state). A new ssh.port, user or host key (or a
    rotated deploy key) must not run the install steps of every host at once: only the
    rollout's chains, host after host, and steps that change nothing a workload sees."""
    runs = _runs(prod_graph, _changed(what), unmasked=True)
    assert runs, "the change runs nothing: the test proves nothing"
    for name, operation in runs.items():
        if "-rollout-" in name or "-removal-" in name:
            assert operation == "update", (name, operation)
            continue
        # And Ceph's declarative steps on the first storage host (each site's once): they
        # converge to what they already are (components/storage/scripts); so does each
        # control plane's etcd snapshot timer.
        assert name.endswith(
            ("-net-server", "-admin-kubeconfig", "-api-ready", "-etcd-snapshot", *CEPH_DECLARATIVE)
        ), (name, operation)


def test_a_driver_change_runs_only_in_the_gpu_hosts_rollout(prod_graph):
    runs = _runs(prod_graph, _changed("driver"))
    gpu_hosts = {
        h["name"] for site in raw_stack_config("prod")["sites"] for h in site["hosts"] if "gpu" in h
    }
    assert runs, "the change runs nothing"
    for name, operation in runs.items():
        assert operation == "update", (name, operation)
        assert "-rollout-" in name, f"{name} is not a rollout step: it would run out of order"
    touched = {name.split("-rollout-")[1] for name in runs}
    # Every step of a GPU host's sequence runs: drain, the driver, the GPU check, uncordon.
    expected = {
        f"{host}-{step}"
        for host in gpu_hosts
        for step in ("node-drain", "nvidia-stack", "gpu-check", "node-uncordon")
    }
    assert touched == expected
    commands = {c.name: c for c in _changed("driver").by_type(COMMAND)}
    for name in runs:
        if name.endswith("-nvidia-stack"):
            environment = parse_shell_command(commands[name].inputs["update"])
            assert environment["DRIVER_PACKAGE"] == "nvidia-driver-550"


def test_each_host_drains_changes_verifies_and_uncordons_in_that_order(prod_graph):
    graph = _changed("driver")
    by_name = {c.name: c for c in graph.by_type(COMMAND)}
    for name in by_name:
        if not name.endswith("-rollout-dca-gpu-a100-1-node-uncordon"):
            continue
        prefix = name.removesuffix("node-uncordon")
        sequence = [
            "node-drain",
            "os-prep",
            "container-runtime",
            "nvidia-stack",
            "gpu-check",
            "kubeadm-upgrade",
            "node-uncordon",
        ]
        for earlier, later in zip(sequence, sequence[1:], strict=False):
            assert by_name[prefix + earlier].urn in by_name[prefix + later].dependencies
        uncordon = parse_shell_command(by_name[name].inputs["update"])
        assert uncordon["GPU_RESOURCE"].startswith("nvidia.com/")
        assert int(uncordon["GPU_ALLOCATABLE"]) >= 8
        break
    else:
        pytest.fail("no rollout for dca-gpu-a100-1")


def test_dc_b_begins_after_dc_a_ends(prod_graph):
    graph = _changed("driver")
    by_name = {c.name: c for c in graph.by_type(COMMAND)}
    for a_host in ("dca-gpu-a100-1", "dca-gpu-v100-3", "dca-ceph-3", "dca-cp-3"):
        for b_host in ("dcb-cp-1", "dcb-gpu-a100-1"):
            a_last = by_name[f"deepseek-dc-a-rollout-{a_host}-" + _last(a_host)]
            b_first = by_name[f"deepseek-dc-b-rollout-{b_host}-" + _first(b_host)]
            assert _reaches(graph, b_first.urn, a_last.urn), (b_host, a_host)
            assert not _reaches(graph, a_last.urn, b_first.urn)


def _first(host: str) -> str:
    return "os-prep" if "-ceph-" in host else "node-drain"


def _last(host: str) -> str:
    return "container-runtime" if "-ceph-" in host else "node-uncordon"


def test_one_worker_of_a_site_at_a_time_by_default(prod_graph):
    """maxUnavailable 1: every worker's drain waits for the previous worker's uncordon."""
    graph = prod_graph
    workers = [
        h["name"]
        for h in raw_stack_config("prod")["sites"][0]["hosts"]
        if "worker" in h["roles"] and "control-plane" not in h["roles"]
    ]
    by_name = {c.name: c for c in graph.by_type(COMMAND)}
    for earlier, later in zip(workers, workers[1:], strict=False):
        drain = by_name[f"deepseek-dc-a-rollout-{later}-node-drain"]
        uncordon = by_name[f"deepseek-dc-a-rollout-{earlier}-node-uncordon"]
        assert uncordon.urn in drain.dependencies


def test_max_unavailable_two_makes_two_worker_chains():
    def two_at_once(config):
        # Light enough a load that each site can spare two inference hosts at once.
        config["rollout"] = {"maxUnavailable": 2}
        config["models"] = [m for m in config["models"] if m["gpuModel"] == "V100-32GB"]
        for model in config["models"]:
            model["requestsPerSecond"] = 1

    graph = evaluate_changed(two_at_once)
    (rollout, *_) = [r for r in graph.by_type(ROLLOUT) if r.name == "deepseek-dc-a-rollout"]
    order = graph.component_outputs[rollout.urn]["order"]
    cps, storage, *workers = order
    assert cps == ["dca-cp-1", "dca-cp-2", "dca-cp-3"]
    assert storage == ["dca-ceph-1", "dca-ceph-2", "dca-ceph-3"]
    assert len(workers) == 2
    assert sorted(sum(workers, [])) == sorted(
        h["name"] for h in raw_stack_config("prod")["sites"][0]["hosts"] if "worker" in h["roles"]
    )


def test_a_version_bump_upgrades_the_kubeadm_way(prod_graph):
    graph = _changed("version")
    runs = _runs(prod_graph, graph)
    assert runs and all("-rollout-" in name for name in runs), sorted(runs)
    upgrades = {n: c for n, c in ((c.name, c) for c in graph.by_type(COMMAND)) if n in runs}
    roles = {
        name.split("-rollout-")[1].removesuffix("-kubeadm-upgrade"): parse_shell_command(
            command.inputs["update"]
        )["UPGRADE_ROLE"]
        for name, command in upgrades.items()
        if name.endswith("-kubeadm-upgrade")
    }
    assert roles["dca-cp-1"] == roles["dcb-cp-1"] == "first"
    assert roles["dca-cp-2"] == roles["dca-cp-3"] == "control-plane"
    assert roles["dca-gpu-a100-1"] == "worker"
    assert not any("ceph" in host for host in roles), "storage hosts are no nodes"
    by_name = {c.name: c for c in graph.by_type(COMMAND)}
    first = by_name["deepseek-dc-a-rollout-dca-cp-1-kubeadm-upgrade"]
    second = by_name["deepseek-dc-a-rollout-dca-cp-2-kubeadm-upgrade"]
    worker = by_name["deepseek-dc-a-rollout-dca-gpu-a100-1-kubeadm-upgrade"]
    assert _reaches(graph, second.urn, first.urn)
    assert _reaches(graph, worker.urn, by_name["deepseek-dc-a-rollout-dca-cp-3-node-uncordon"].urn)
    # kubeadm init and join, which ran once, run nothing again.
    assert not any(name.endswith(("-kubeadm-init", "-kubeadm-join")) for name in runs)


@pytest.mark.parametrize("what", ["minimum", "fio"])
def test_a_preflight_setting_measures_nothing_again_on_live_hosts(prod_graph, what):
    runs = _runs(prod_graph, _changed(what))
    measuring = [n for n in runs if n.endswith("-preflight")]
    assert measuring == []
    # A changed minimum is judged against what the hosts printed then: nothing runs at all.
    if what == "minimum":
        assert runs == {}


def test_remeasure_runs_that_hosts_preflight_again(prod_graph):
    """And restarts the iperf3 server it measures against: the one started at install time
    listened for half an hour, so the preflight would find the port closed and fail."""
    graph = _changed("remeasure")
    runs = _runs(prod_graph, graph)
    host = raw_stack_config("prod")["sites"][0]["hosts"][3]["name"]
    peer = make_plan(validate_config(raw_stack_config("prod"), "prod")).sites["dc-a"]
    server = f"deepseek-dc-a-{peer.iperf_peers[host]}-net-server"
    # And the host's rollout sequence, GPU check included (after a repair of a host whose GPU
    # check failed in a rollout, this is how it is checked again: drained, checked, returned).
    rechecked = {
        f"deepseek-dc-a-rollout-{host}-{step}": "update"
        for step in ("node-drain", "gpu-check", "node-uncordon")
    }
    assert runs == {f"deepseek-dc-a-{host}-preflight": "replace", server: "replace", **rechecked}
    by_name = {c.name: c for c in graph.by_type(COMMAND)}
    assert by_name[server].urn in by_name[f"deepseek-dc-a-{host}-preflight"].dependencies


def test_a_change_at_one_site_runs_only_there(prod_graph):
    runs = _runs(prod_graph, _changed("ntp"))
    assert runs
    assert all(name.startswith("deepseek-dc-b-rollout-") for name in runs), sorted(runs)


def test_every_node_has_its_removal_and_it_runs_nothing_until_then(prod_graph):
    by_name = {c.name: c for c in prod_graph.by_type(COMMAND)}
    nodes = [
        h["name"]
        for site in raw_stack_config("prod")["sites"]
        for h in site["hosts"]
        if {"control-plane", "worker"} & set(h["roles"])
    ]
    for host in nodes:
        site = "deepseek-dc-a" if host.startswith("dca-") else "deepseek-dc-b"
        drain, reset, delete = (
            by_name[f"{site}-removal-{host}-{step}"]
            for step in ("node-drain", "kubeadm-reset", "node-delete")
        )
        for command in (drain, reset, delete):
            assert set(command.inputs) & {"create", "update", "delete"} == {"delete"}
            assert not command.retain_on_delete
        # The engine deletes dependents first: drain, then reset, then the node's deletion.
        assert reset.urn in drain.dependencies
        assert delete.urn in reset.dependencies
        assert parse_shell_command(drain.inputs["delete"])["NODE"] == host
    storage = [n for n in by_name if "-removal-" in n and "-ceph-" in n]
    assert storage == [], "a storage host is no node: nothing of Kubernetes to remove"


def test_removing_a_host_runs_its_removal_and_nothing_elsewhere(prod_graph):
    host = "dca-gpu-v100-3"
    graph = evaluate_changed(
        lambda c: c["sites"][0].update(
            hosts=[h for h in c["sites"][0]["hosts"] if h["name"] != host]
        )
    )
    runs = _runs(prod_graph, graph)
    deleted = {name for name, op in runs.items() if op == "delete"}
    assert {
        f"deepseek-dc-a-removal-{host}-{s}" for s in ("node-drain", "kubeadm-reset", "node-delete")
    } <= deleted
    assert all(host in name for name in deleted), sorted(deleted)
    # Its ring neighbours measure against each other now: their iperf3 server restarts; no
    # other step of a live host runs.
    others = {name: op for name, op in runs.items() if host not in name}
    assert all(name.endswith("-net-server") for name in others), others


def test_a_host_marked_unreachable_is_removed_from_the_control_plane_only(prod_graph):
    host = "dca-gpu-v100-3"

    def mark(config):
        for h in config["sites"][0]["hosts"]:
            if h["name"] == host:
                h["reachable"] = False

    graph = evaluate_changed(mark)
    by_name = {c.name: c for c in graph.by_type(COMMAND)}
    assert by_name[f"deepseek-dc-a-removal-{host}-kubeadm-reset"].retain_on_delete
    assert by_name[f"deepseek-dc-a-removal-{host}-node-drain"].retain_on_delete
    assert not by_name[f"deepseek-dc-a-removal-{host}-node-delete"].retain_on_delete
    # No change reaches it any more.
    assert not [n for n in by_name if n.startswith(f"deepseek-dc-a-rollout-{host}-")]
    runs = _runs(prod_graph, graph)
    assert all(op == "delete" for name, op in runs.items() if "-rollout-" in name)


def _waits_for(graph, site_prefix: str) -> dict[str, set[str]]:
    """Host → the hosts of the same site whose uncordon its drain waits for (through any
    chain of dependencies): the hosts it can never be out together with."""
    by_name = {c.name: c for c in graph.by_type(COMMAND)}
    hosts = sorted(
        n.removeprefix(f"{site_prefix}-rollout-").removesuffix("-node-drain")
        for n in by_name
        if n.startswith(f"{site_prefix}-rollout-") and n.endswith("-node-drain")
    )
    return {
        host: {
            other
            for other in hosts
            if other != host
            and _reaches(
                graph,
                by_name[f"{site_prefix}-rollout-{host}-node-drain"].urn,
                by_name[f"{site_prefix}-rollout-{other}-node-uncordon"].urn,
            )
        }
        for host in hosts
    }


def test_every_point_of_a_driver_rollout_keeps_each_site_carrying_its_load(prod_graph):
    """Walks the order a driver change takes through prod: every set of hosts that the graph
    lets be drained at the same time (no one of them waits for another's uncordon), at each
    site, still places every model's replicas at rest; and while one site rolls, the other
    site is whole (its first drain waits for every uncordon of the first site)."""
    graph = _changed("driver")
    touched = {
        n.split("-rollout-")[1].rsplit("-node-", 1)[0]
        for n in _runs(prod_graph, graph)
        if n.endswith("-node-drain")
    }
    config = validate_config(
        {**raw_stack_config("prod"), "nvidia": {"driverPackage": "nvidia-driver-550"}}, "prod"
    )
    plan = make_plan(config)
    points = 0
    for site_name, site_plan in plan.sites.items():
        prefix = f"deepseek-{site_name}"
        waits = _waits_for(graph, prefix)
        site_hosts = [h for h in waits if h in touched]
        # Every pair that may be out together, and every host alone (maxUnavailable 1).
        together = [
            {a, b}
            for i, a in enumerate(site_hosts)
            for b in site_hosts[i + 1 :]
            if b not in waits[a] and a not in waits[b]
        ]
        assert together == [], f"{site_name}: hosts out together: {together}"
        for host in site_hosts:
            points += 1
            problems = headroom_problems(site_plan.spec, site_plan.serving, {host})
            assert problems == [], (site_name, host, problems)
    assert points == len(touched) == 10
    # The second site waits for the whole first one.
    by_name = {c.name: c for c in graph.by_type(COMMAND)}
    for a_host in (h for h in touched if h.startswith("dca-")):
        for b_host in (h for h in touched if h.startswith("dcb-")):
            assert _reaches(
                graph,
                by_name[f"deepseek-dc-b-rollout-{b_host}-node-drain"].urn,
                by_name[f"deepseek-dc-a-rollout-{a_host}-node-uncordon"].urn,
            )


def test_a_drain_that_ran_brings_its_uncordon_after_it(monkeypatch):
    """A failure half-way through a host, then the change reverted: the drain runs again (its
    CHANGE differs from its state) but the uncordon's CHANGE would match its state, and the
    node would stay cordoned after a successful `pulumi up`. The uncordon takes the time its
    drain ran (the drain's result), so it runs whenever its drain did."""
    plain = PlatformMocks._remote_command

    def drained(self, args):
        step = step_by_digest().get((args.inputs.get("triggers") or [None])[0])
        if step is not None and step.name == "node-drain" and "update" in args.inputs:
            fields = {"node": "n", "drained": "true", "drainedAt": "2026-11-29T15:00:00Z"}
            return {"stdout": format_result("node-drain", fields, changed=True), "stderr": ""}
        return plain(self, args)

    monkeypatch.setattr(PlatformMocks, "_remote_command", drained)
    graph, error = record("prod")
    assert error is None, error
    uncordons = [
        c for c in graph.by_type(COMMAND) if c.name.endswith("-rollout-dca-cp-2-node-uncordon")
    ]
    (uncordon,) = uncordons
    assert parse_shell_command(uncordon.inputs["update"])["DRAINED_AT"] == "2026-11-29T15:00:00Z"
