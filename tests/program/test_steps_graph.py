"""Remote steps in the recorded graph: every Command runs a registered step with only the
inputs it declares, the mocks find steps through the registry, and an iperf3 client never
meets an expired server after hosts are added, removed or replaced."""

import base64
import copy
import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from pulumi.runtime import mocks

from components.remote.steps import (
    STEPS,
    parse_result,
    parse_shell_command,
    script_digest,
    step_by_digest,
)
from offline.evaluate import record
from offline.recorder import PlatformMocks
from tests.paths import PROJECT_DIR

COMMAND = "command:remote:Command"


def _step_of(command) -> str:
    return step_by_digest()[command.inputs["triggers"][0]].name


def test_every_command_runs_a_registered_step_with_its_declared_inputs(prod_graph, dr_graph):
    for graph in (prod_graph, dr_graph):
        for command in graph.by_type(COMMAND):
            step = step_by_digest()[command.inputs["triggers"][0]]
            # A rollout's step has only `update`, a removal's only `delete`.
            (line,) = [
                command.inputs[k] for k in ("create", "update", "delete") if k in command.inputs
            ]
            environment = parse_shell_command(line)
            assert set(environment) <= set(step.inputs), command.name
            # The name says the same as the digest (the digest is what the mocks trust).
            assert command.name.endswith(f"-{step.name}"), command.name


def test_every_registered_script_exists_and_is_distinct():
    digests = {script_digest(step.script) for step in STEPS.values()}
    assert len(digests) == len(STEPS)
    for step in STEPS.values():
        assert step.script.is_file(), step.script
        assert "result_emit " + step.name in step.script.read_text(), step.name


def test_the_mocks_refuse_a_command_that_runs_no_registered_step():
    args = mocks.MockResourceArgs(
        typ=COMMAND,
        name="rogue",
        inputs={"triggers": ["0" * 64], "create": "sudo env bash -s", "connection": {}},
        provider=None,
        resource_id=None,
        custom=True,
    )
    with pytest.raises(RuntimeError, match="runs no registered step"):
        PlatformMocks().new_resource(args)


def test_simulated_outputs_keep_the_output_contract(prod_graph):
    for command in prod_graph.by_type(COMMAND):
        step = _step_of(command)
        if "create" not in command.inputs:
            continue  # a rollout's update-only step: it prints nothing when created
        outputs = PlatformMocks().new_resource(
            mocks.MockResourceArgs(
                typ=COMMAND,
                name=command.name,
                inputs={**command.inputs, "connection": {"host": "10.10.0.11"}},
                provider=None,
                resource_id=None,
                custom=True,
            )
        )[1]
        fields = parse_result(step, outputs["stdout"])
        assert set(STEPS[step].result) <= set(fields), step


# --- the iperf3 peer -------------------------------------------------------------------


def _host_key(seed: str) -> str:
    """A well-formed ssh-ed25519 public key line (the wire format, a 32-byte key)."""
    key = hashlib.sha256(seed.encode()).digest()
    blob = b"".join(len(part).to_bytes(4, "big") + part for part in (b"ssh-ed25519", key))
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


def _variant(tmp_path: Path, change) -> Path:
    stack_file = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    change(stack_file["config"]["deepseek-onprem:sites"][0]["hosts"])
    for entry in ("Pulumi.yaml", "__main__.py", "components"):
        (tmp_path / entry).symlink_to(PROJECT_DIR / entry)
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack_file))
    shutil.copytree(PROJECT_DIR / "policies", tmp_path / "policies", dirs_exist_ok=True)
    return tmp_path


def _steps_by_host(graph, step: str) -> dict[str, dict[str, str]]:
    """host name -> that step's environment, for the hosts of dc-a."""
    found = {}
    for command in graph.by_type(COMMAND):
        if _step_of(command) == step and command.name.startswith("deepseek-dc-a-"):
            host = command.name.removeprefix("deepseek-dc-a-").removesuffix(f"-{step}")
            found[host] = parse_shell_command(command.inputs["create"])
    return found


def _assert_servers_follow_their_clients(before, after, hosts: list[dict]) -> set[str]:
    """Whenever a host's preflight runs again (or for the first time), its peer's iperf3
    server step runs again too: the client always finds a fresh server."""
    old_pre, new_pre = _steps_by_host(before, "preflight"), _steps_by_host(after, "preflight")
    old_srv, new_srv = _steps_by_host(before, "net-server"), _steps_by_host(after, "net-server")
    by_address = {host["address"]: host["name"] for host in hosts}
    rerun = {host for host, env in new_pre.items() if old_pre.get(host) != env}
    for host in rerun:
        peer = by_address[new_pre[host]["PEER_ADDRESS"]]
        assert old_srv.get(peer) != new_srv[peer], f"{host} would measure {peer}'s stale server"
    return rerun


def _add(hosts: list[dict]) -> None:
    new = copy.deepcopy(next(h for h in hosts if "storage" in h["roles"]))
    new.update(name="dca-storage-9", address="10.10.2.99", hostKey=_host_key("new"))
    new.pop("bmc", None)
    hosts.append(new)


def _remove(hosts: list[dict]) -> None:
    # A V100 worker: the site keeps its control planes, storage and capacity.
    hosts[:] = [h for h in hosts if h["name"] != "dca-gpu-v100-3"]


def _replace(hosts: list[dict]) -> None:
    # The same name on a rebuilt machine: new address, new host key.
    hosts[3].update(address="10.10.1.99", hostKey=_host_key("replaced"))


@pytest.mark.parametrize("change", [_add, _remove, _replace], ids=["add", "remove", "replace"])
def test_adding_removing_or_replacing_a_host_restarts_the_servers_its_clients_use(
    tmp_path, prod_graph, change
):
    edited: list[dict] = []

    def apply(hosts: list[dict]) -> None:
        change(hosts)
        edited.extend(hosts)

    after, error = record("prod", project_dir=_variant(tmp_path, apply))
    assert error is None, error
    rerun = _assert_servers_follow_their_clients(prod_graph, after, edited)
    assert rerun, "the change re-ran no preflight: the test proves nothing"
    # Only the neighbours of the change run again: no needless re-runs elsewhere.
    assert len(rerun) <= 2, rerun
