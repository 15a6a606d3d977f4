"""The blast radius of a driver change on prod (offline/blast_radius.py over the recorded
graphs): the GPU hosts are drained one at a time, dc-a before dc-b, each site keeping room for
its replicas at rest; a graph whose chains do not wait is refused; `preview --against`."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from components.stack_config import validate_config
from offline.blast_radius import blast_radius
from offline.changes import classify, renamed_from
from offline.evaluate import record
from tests.bad_stacks import PROJECT, project_with_stack_file
from tests.cli import run_offline
from tests.paths import PROJECT_DIR
from tests.stacks import raw_stack_config

ROLLOUT = "deepseek:kubernetes:Rollout"
DRIVER = "nvidia-driver-550"
GPU_HOSTS = {
    f"{prefix}-gpu-{gpu}-{n}"
    for prefix in ("dca", "dcb")
    for gpu, count in (("a100", 2), ("v100", 3))
    for n in range(1, count + 1)
}


@pytest.fixture(scope="module")
def before(prod_graph):
    if not prod_graph.by_type(ROLLOUT):
        pytest.skip(f"no {ROLLOUT} in the prod graph yet (components/kubernetes/rollout.py)")
    return prod_graph.snapshot()


@pytest.fixture(scope="module")
def driver_project(tmp_path_factory) -> Path:
    """The real program with prod's stack file, its driver package changed."""
    directory = tmp_path_factory.mktemp("driver-change")
    stack_file = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    stack_file["config"][f"{PROJECT}:nvidia"] = {"driverPackage": DRIVER}
    project_with_stack_file(directory, "prod", yaml.safe_dump(stack_file))
    return directory


@pytest.fixture(scope="module")
def driver_change(before, driver_project):
    graph, error = record("prod", project_dir=driver_project)
    assert error is None, error
    after = graph.snapshot()
    changes = classify(before, after, renamed_from(graph.former_urns()))
    raw = raw_stack_config("prod")
    raw["nvidia"] = {"driverPackage": DRIVER}
    return changes, after, validate_config(raw, "prod")


def test_a_driver_change_updates_only_the_gpu_hosts_rollout_steps(driver_change):
    changes, _, _ = driver_change
    changed = [c for c in changes if c.changed]
    assert changed, "the driver change changes nothing"
    assert {c.operation for c in changed} == {"update"}
    assert all(c.type == "command:remote:Command" and "-rollout-" in c.name for c in changed)
    assert {_host_of(c.urn) for c in changed} == GPU_HOSTS


def test_the_gpu_hosts_go_one_at_a_time_dc_a_first_and_each_site_keeps_its_load(driver_change):
    changes, after, config = driver_change
    radius = blast_radius(changes, after, config)
    assert [b.site for b in radius.sites] == ["dc-a", "dc-b"]
    for blast, prefix in zip(radius.sites, ("dca", "dcb"), strict=True):
        # The worker chain's order (rollout.maxUnavailable 1): config order of the workers.
        assert blast.hosts == tuple(
            f"{prefix}-gpu-{g}" for g in ("a100-1", "a100-2", "v100-1", "v100-2", "v100-3")
        )
        assert set(blast.out) == set(blast.hosts)
        for host in blast.hosts:
            steps = blast.steps[host]
            assert steps[0] == "node-drain" and steps[-1] == "node-uncordon", steps
            assert "nvidia-stack" in steps and "gpu-check" in steps
        assert blast.most_out == {"control-plane": 0, "storage": 0, "worker": 1}
        assert blast.allowed_out["worker"] == 1
        # Worst point: one 8-GPU A100 host of the site's 28 GPUs (2 × 8 A100 + 3 × 4 V100);
        # r1-qwen-32b's 3 replicas + 1 canary × 2 GPUs fill the other A100 host exactly.
        assert (blast.worst_point, blast.gpus_out, blast.gpus) == ((blast.hosts[0],), 8, 28)
        assert blast.problems == ()
    assert radius.overlapping == ()
    assert radius.refused == ""
    assert radius.notes == ()


def _drop_edges(snapshot: dict, keep) -> dict:
    """The snapshot with every dependency between two rollout steps dropped unless `keep`."""
    changed = copy.deepcopy(snapshot)
    rollout = {r["urn"] for r in changed["resources"] if "-rollout-" in r["name"]}
    for resource in changed["resources"]:
        if resource["urn"] in rollout:
            resource["dependencies"] = [
                d for d in resource["dependencies"] if d not in rollout or keep(resource["urn"], d)
            ]
    return changed


HOSTS = {h["name"] for site in raw_stack_config("prod")["sites"] for h in site["hosts"]}


def _host_of(urn: str) -> str:
    return next(h for h in HOSTS if f"-rollout-{h}-" in urn)


def test_sites_that_do_not_wait_for_each_other_overlap_but_each_keeps_its_load(driver_change):
    changes, after, config = driver_change
    # Keep every edge within a site; drop those from dc-b's chains to dc-a's.
    same_site = _drop_edges(after, lambda urn, dep: ("-dc-a-" in urn) == ("-dc-a-" in dep))
    radius = blast_radius(changes, same_site, config)
    assert radius.overlapping == (("dc-a", "dc-b"),)
    assert radius.refused == ""  # one host per site at a time still leaves each its load


def test_chains_that_wait_for_nothing_take_both_sites_below_their_load_and_are_refused(
    driver_change,
):
    changes, after, config = driver_change
    # Keep each host's own order (drain → change → uncordon), drop every edge between hosts.
    parallel = _drop_edges(after, lambda urn, dep: _host_of(urn) == _host_of(dep))
    radius = blast_radius(changes, parallel, config)
    for blast in radius.sites:
        assert blast.most_out["worker"] == 5
        assert blast.gpus_out == 28
        assert {p.model for p in blast.problems} == {"r1-qwen-32b", "r1-llama-8b"}
    assert "every active site below its load at rest" in radius.refused
    assert any("the edges let 5 worker hosts be out at once" in n for n in radius.notes)


def test_preview_against_a_snapshot_prints_the_changes_and_the_blast_radius(
    capsys, tmp_path, before, driver_project
):
    snapshot = tmp_path / "before.json"
    snapshot.write_text(json.dumps(before))
    args = ("preview", "prod", "--against", str(snapshot), "--no-policy", "-C")
    status, out, err = run_offline(capsys, *args, str(driver_project))
    assert status == 0, err
    report = out.split(f"Against {snapshot} (stack prod):")[1]
    assert "Changes: 0 to create, 40 to update, 0 to replace, 0 to delete" in report
    assert "deepseek-dc-a-rollout-dca-gpu-a100-1-nvidia-stack" in report
    assert "worst point: dca-gpu-a100-1 out, 8 of 28 GPUs (29%)" in report
    assert "each site's hosts wait for the previous site's" in report
    assert report.rstrip().endswith("Result: allowed")


def test_preview_against_exits_1_when_every_join_would_run_again(capsys, tmp_path, before):
    """Against a snapshot whose kubeadm joins had other triggers, every join is replaced at
    once on both sites (the Cluster's joins are not rolled): refused."""
    old = copy.deepcopy(before)
    for resource in old["resources"]:
        if resource["name"].endswith("-kubeadm-join"):
            resource["inputs"]["triggers"] = ["another-script-digest"]
    snapshot = tmp_path / "before.json"
    snapshot.write_text(json.dumps(old))
    status, out, err = run_offline(
        capsys, "preview", "prod", "--against", str(snapshot), "--no-policy"
    )
    assert status == 1, err
    assert "+- replace command:remote:Command  deepseek-dc-a-cluster-dca-cp-2-kubeadm-join" in out
    assert "REFUSED: at one point the change takes every active site below its load" in out


def test_preview_against_refuses_a_snapshot_of_another_stack(capsys, tmp_path, before):
    snapshot = tmp_path / "before.json"
    snapshot.write_text(json.dumps({**before, "stack": "dr"}))
    status, _, err = run_offline(capsys, "preview", "prod", "--against", str(snapshot))
    assert status == 1
    assert "is a snapshot of stack 'dr', which is not previewed here" in err


@pytest.mark.parametrize(
    ("deployed", "said"),
    [
        ("1.30.8", None),
        ("1.31.2", None),
        (
            "1.29.9",
            "skips a minor version from 1.29.9; kubeadm upgrades one minor at a time: "
            "upgrade to 1.30.x first, then 1.31",
        ),
        ("1.32.0", "is older than the 1.32.0 it runs; kubeadm does not downgrade"),
    ],
)
def test_preview_against_refuses_a_version_kubeadm_cannot_reach(
    capsys, tmp_path, before, deployed, said
):
    """prod's config says 1.31.4; the snapshot says what the sites run now."""
    old = copy.deepcopy(before)
    for resource in old["resources"]:
        if resource["name"].endswith("-kubeadm-upgrade"):
            line = resource["inputs"]["update"]
            assert "KUBERNETES_VERSION=1.31.4" in line
            resource["inputs"]["update"] = line.replace(
                "KUBERNETES_VERSION=1.31.4", f"KUBERNETES_VERSION={deployed}"
            )
    snapshot = tmp_path / "before.json"
    snapshot.write_text(json.dumps(old))
    status, out, err = run_offline(
        capsys, "preview", "prod", "--against", str(snapshot), "--no-policy"
    )
    if said is None:
        assert status == 0, err
        assert "REFUSED" not in out
    else:
        assert status == 1, err
        assert f"REFUSED: deepseek-dc-a: kubernetes.version 1.31.4 {said}" in out
        assert "deepseek-dc-b: kubernetes.version 1.31.4" in out


def _edited_project(directory: Path, edit) -> Path:
    """The real program with prod's stack file, `edit(sites)` applied to its sites."""
    stack_file = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    edit(stack_file["config"][f"{PROJECT}:sites"])
    project_with_stack_file(directory, "prod", yaml.safe_dump(stack_file))
    return directory


def _rename(old: str, new: str):
    def edit(sites):
        for site in sites:
            for host in site["hosts"]:
                if host["name"] == old:
                    host["name"] = new

    return edit


def _remove(name: str):
    def edit(sites):
        for site in sites:
            site["hosts"] = [h for h in site["hosts"] if h["name"] != name]

    return edit


def _swap_first_control_planes(sites):
    hosts = sites[0]["hosts"]
    hosts[0], hosts[1] = hosts[1], hosts[0]


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            _rename("dca-gpu-v100-1", "dca-gpu-v100-9"),
            "removed hosts whose machines config still holds under another name, whose "
            "removal would run kubeadm reset on them: deepseek-dc-a-dca-gpu-v100-1 "
            "(10.10.1.41, now deepseek-dc-a-dca-gpu-v100-9)",
        ),
        (
            _swap_first_control_planes,
            "deepseek-dc-a: the first control plane would change from dca-cp-1 to dca-cp-2",
        ),
        (_remove("dca-gpu-v100-3"), None),
    ],
    ids=["rename", "first-control-plane", "removal"],
)
def test_preview_against_refuses_a_change_of_what_a_host_name_stands_for(
    capsys, tmp_path, before, edit, said
):
    """A renamed host's removal resets the machine it is still in config as (after its join
    under the new name: creates run before deletes); a new first control plane would run
    kubeadm init on a host that joined. A plain removal is allowed."""
    snapshot = tmp_path / "before.json"
    snapshot.write_text(json.dumps(before))
    (tmp_path / "project").mkdir()
    project = _edited_project(tmp_path / "project", edit)
    args = ("preview", "prod", "--against", str(snapshot), "--no-policy", "-C", str(project))
    status, out, err = run_offline(capsys, *args)
    if said is None:
        assert status == 0, err
        assert "REFUSED" not in out
    else:
        assert status == 1, err
        assert f"REFUSED: {said}" in out
