"""The day-2 steps of a site's rollout (node-drain, kubeadm-upgrade, node-uncordon) and of a
host's removal (kubeadm-reset, node-delete), run for real in the sandboxed hosts of
test_host_scripts: what each must get right beyond converging, running twice and recovering
(which test_host_scripts proves for every step). A drain never forces and gives up within its
timeout; a node returns to work only Ready with its GPUs; kubeadm upgrades in its documented
order and one minor version at a time; a removed host keeps nothing of Kubernetes and its node
alone leaves the cluster; a host never runs kubeadm init after joining, nor joins after init.
"""

import time

import pytest

from tests.external.sandbox import Sandbox
from tests.external.test_host_scripts import (
    BY_ID,
    GPU_WORKER,
    OTHER_WORKER,
    SERVING_POD,
    Case,
    Harness,
    cluster_field,
    cluster_object,
    harness,  # noqa: F401 the module's own sandboxes, as test_host_scripts makes them
    installed,
)

pytestmark = pytest.mark.usefixtures("harness")


def started(harness: Harness, case_id: str) -> tuple[Case, Sandbox]:  # noqa: F811
    case = BY_ID[case_id]
    return case, harness.clone(harness.prepared(case), case)


# --- node-drain -------------------------------------------------------------------------------
def test_a_drain_evicts_through_the_eviction_api_and_never_forces(harness):  # noqa: F811
    case, sandbox = started(harness, "node-drain")
    run = harness.run(sandbox, case)
    assert (run.result["drained"], run.result["changed"]) == ("true", True)
    assert cluster_field(sandbox, f"nodes/{GPU_WORKER}", "unschedulable") == "true"
    assert cluster_field(sandbox, SERVING_POD, "node") is None  # evicted
    # The DaemonSet's pod stays; the replica on the other node too.
    assert cluster_field(sandbox, "pods/gpu-operator/nvidia-device-plugin-daemonset-4xk2n", "node")
    assert cluster_field(sandbox, "pods/serving/deepseek-r1-7d9f8c-p8m2z", "node")
    (drain,) = [c for c in run.calls if "drain" in c.argv]
    assert drain.argv == (
        "--kubeconfig", "/etc/kubernetes/admin.conf", "drain", GPU_WORKER,
        "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=900s",
    )  # fmt: skip
    verbs = [next(a for a in c.argv[2:] if not a.startswith("-")) for c in run.calls]
    assert verbs.index("cordon") < verbs.index("drain")
    harness.stop(sandbox)


def test_a_drain_blocked_by_a_disruption_budget_fails_in_time_and_uncordons(harness):  # noqa: F811
    case, sandbox = started(harness, "node-drain")
    cluster_object(sandbox, "pdbs/serving/deepseek-r1", {"disruptionsAllowed": "0"})
    environment = {**case.environment(harness.graph), "DRAIN_TIMEOUT_SECONDS": "2"}
    began = time.monotonic()
    run = sandbox.run(case.step, environment)
    elapsed = time.monotonic() - began
    assert not run.ok, run.explain()
    assert 2 <= elapsed < 10, elapsed
    assert GPU_WORKER in run.stderr and "PodDisruptionBudget" in run.stderr, run.stderr
    assert "within 2s" in run.stderr, run.stderr
    # Back to work as it was (its host has not changed), the protected replica still there.
    assert cluster_field(sandbox, f"nodes/{GPU_WORKER}", "unschedulable") == ""
    assert cluster_field(sandbox, SERVING_POD, "node") == GPU_WORKER
    assert not [c for c in run.calls if {"--force", "--disable-eviction"} & set(c.argv)]
    # Once the budget allows it, the next run drains.
    cluster_object(sandbox, "pdbs/serving/deepseek-r1", {"disruptionsAllowed": "1"})
    assert harness.run(sandbox, case).result["drained"] == "true"
    harness.stop(sandbox)


def test_a_drain_of_a_node_already_cordoned_by_someone_keeps_it_cordoned(harness):  # noqa: F811
    case, sandbox = started(harness, "node-drain")
    cluster_object(
        sandbox,
        f"nodes/{GPU_WORKER}",
        {"allocatable.nvidia.com/gpu": "8", "unschedulable": "true"},
    )
    cluster_object(sandbox, "pdbs/serving/deepseek-r1", {"disruptionsAllowed": "0"})
    run = sandbox.run(case.step, {**case.environment(harness.graph), "DRAIN_TIMEOUT_SECONDS": "1"})
    assert not run.ok
    assert "still cordoned" in run.stderr, run.stderr
    assert cluster_field(sandbox, f"nodes/{GPU_WORKER}", "unschedulable") == "true"
    assert not [c for c in run.calls if "uncordon" in c.argv]
    harness.stop(sandbox)


@pytest.mark.parametrize(
    ("case_id", "field"),
    [("node-drain", "drained"), ("node-uncordon", "uncordoned"), ("node-delete", "deleted")],
)
def test_a_node_that_is_not_registered_is_left_alone(harness, case_id, field):  # noqa: F811
    case, sandbox = started(harness, case_id)
    environment = {**case.environment(harness.graph), "NODE": "dca-gpu-v100-9"}
    run = sandbox.run(case.step, environment)
    assert run.ok, run.explain()
    assert (run.result[field], run.result["changed"], run.host_changed) == ("absent", False, False)
    harness.stop(sandbox)


@pytest.mark.parametrize(
    ("case_id", "variable", "values"),
    [
        ("node-drain", "NODE", ["DCA-GPU", "dca gpu", "-dca", "a" * 64, "dca.gpu", "$(id)"]),
        ("node-drain", "DRAIN_TIMEOUT_SECONDS", ["0", "-1", "15m", "", "1e3"]),
        ("node-uncordon", "READY_TIMEOUT_SECONDS", ["0", "soon"]),
        ("node-uncordon", "VERIFIED", ["", "not-run", "Passed", "passed "]),
        ("node-uncordon", "GPU_RESOURCE", ["nvidia.com/gpu*", "gpu"]),
        ("node-uncordon", "GPU_ALLOCATABLE", ["eight", "-1"]),
        ("node-delete", "NODE", ["DCA-GPU", "dca gpu", "-dca", "dca.gpu", "$(id)", "a" * 64]),
        ("node-delete", "DELETE_TIMEOUT_SECONDS", ["0", "15m", "-1"]),
        ("kubeadm-upgrade-first", "KUBERNETES_VERSION", ["v1.31.4", "1.31", "1.31.4-1.1"]),
        ("kubeadm-upgrade-first", "UPGRADE_ROLE", ["primary", ""]),
    ],
)
def test_bad_inputs_are_refused_before_anything(harness, case_id, variable, values):  # noqa: F811
    case, sandbox = started(harness, case_id)
    for value in values:
        run = sandbox.run(case.step, {**case.environment(harness.graph), variable: value})
        assert not run.ok, f"{variable}={value!r} was accepted:\n{run.explain()}"
        assert variable in run.stderr, run.stderr
        assert "refused" in run.stderr or f"{variable} is required" in run.stderr, run.stderr
        assert not run.host_changed and not run.calls, run.explain()
    harness.stop(sandbox)


# --- node-uncordon ----------------------------------------------------------------------------
def test_uncordon_waits_for_ready_and_the_gpus_then_uncordons(harness):  # noqa: F811
    case, sandbox = started(harness, "node-uncordon")
    now = int(time.time())
    cluster_object(
        sandbox,
        f"nodes/{GPU_WORKER}",
        {
            "allocatable.nvidia.com/gpu": "8",
            "unschedulable": "true",
            "readyAt": str(now + 2),  # the kubelet back after its restart
            "allocatableAt": str(now + 4),  # the device plugin registering the GPUs
        },
    )
    began = time.monotonic()
    run = sandbox.run(case.step, case.environment(harness.graph), tuning={"GPU_POLL_SECONDS": "1"})
    assert run.ok, run.explain()
    assert time.monotonic() - began >= 3
    assert (run.result["uncordoned"], run.result["changed"]) == ("true", True)
    assert cluster_field(sandbox, f"nodes/{GPU_WORKER}", "unschedulable") == ""
    (allocatable, *_) = [c for c in run.calls if any("allocatable" in a for a in c.argv)]
    assert "jsonpath={.status.allocatable.nvidia\\.com/gpu}" in allocatable.argv
    verbs = [next(a for a in c.argv[2:] if not a.startswith("-")) for c in run.calls]
    assert verbs.index("wait") < verbs.index("uncordon")
    harness.stop(sandbox)


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"readyAt": "4102444800"}, "was not Ready within 2s"),
        ({"allocatable.nvidia.com/gpu": "7"}, "has 7 nvidia.com/gpu allocatable, not the 8"),
        ({"allocatableAt": "4102444800", "allocatable.nvidia.com/gpu": "8"}, "has 0 nvidia"),
    ],
)
def test_uncordon_fails_and_leaves_the_node_cordoned_when_they_never_come(
    harness,  # noqa: F811
    fields,
    missing,
):
    case, sandbox = started(harness, "node-uncordon")
    cluster_object(sandbox, f"nodes/{GPU_WORKER}", {"unschedulable": "true", **fields})
    environment = {**case.environment(harness.graph), "READY_TIMEOUT_SECONDS": "2"}
    began = time.monotonic()
    run = sandbox.run(case.step, environment, tuning={"GPU_POLL_SECONDS": "1"})
    assert not run.ok
    assert time.monotonic() - began < 10
    assert missing in run.stderr and GPU_WORKER in run.stderr, run.stderr
    assert "stays cordoned" in run.stderr
    assert cluster_field(sandbox, f"nodes/{GPU_WORKER}", "unschedulable") == "true"
    assert not [c for c in run.calls if "uncordon" in c.argv]
    harness.stop(sandbox)


# --- kubeadm-upgrade --------------------------------------------------------------------------
def order(run) -> list[str]:
    """The calls that change the host, as `tool word word`, in the order they ran."""
    calls = []
    for call in run.calls:
        words = [a for a in call.argv if not a.startswith("-")]
        if call.tool == "apt-get" and words[:1] == ["install"]:
            calls += [f"install {w.split('=')[0]}" for w in words[1:] if "=" in w]
        elif call.tool == "kubeadm":
            calls.append(" ".join(["kubeadm", *words[:2]]))
        elif call.tool == "systemctl" and words[:1] in (["restart"], ["daemon-reload"]):
            calls.append(" ".join(["systemctl", *words]))
    return calls


@pytest.mark.parametrize(
    ("case_id", "upgrade"),
    [
        ("kubeadm-upgrade-first", ["kubeadm upgrade plan", "kubeadm upgrade apply"]),
        ("kubeadm-upgrade-control-plane", ["kubeadm upgrade node"]),
        ("kubeadm-upgrade-worker", ["kubeadm upgrade node"]),
    ],
)
def test_kubeadm_upgrade_runs_in_the_documented_order(harness, case_id, upgrade):  # noqa: F811
    case = BY_ID[case_id]
    run, _ = harness.clean(case)
    version = case.environment(harness.graph)["KUBERNETES_VERSION"]
    assert (run.result["from"], run.result["to"], run.result["changed"]) == (
        case.earlier_kubernetes,
        version,
        True,
    )
    assert order(run) == [
        "install kubeadm",
        *upgrade,
        "install kubelet",
        "install kubectl",
        "systemctl daemon-reload",
        "systemctl restart kubelet",
    ], run.explain()
    if "kubeadm upgrade apply" in upgrade:
        (apply,) = [c for c in run.calls if c.argv[:2] == ("upgrade", "apply")]
        assert apply.argv[2:] == ("-y", f"v{version}")
    sandbox = harness.clone(harness.prepared(case), case)
    harness.run(sandbox, case)
    for package in ("kubeadm", "kubelet", "kubectl"):
        assert installed(sandbox, package) == (f"{version}-1.1", "hold")
    assert (
        f"/v{'.'.join(version.split('.')[:2])}/"
        in sandbox.path("/etc/apt/sources.list.d/deepseek-kubernetes.list").read_text()
    )
    again = harness.run(sandbox, case)
    assert (again.result["from"], again.result["to"], again.result["changed"]) == (
        version,
        version,
        False,
    )
    assert order(again) == []
    harness.stop(sandbox)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("1.30.2", "kubeadm does not downgrade"),
        ("1.29.9", "kubeadm does not downgrade"),
        ("1.32.1", "upgrade to 1.31.x first"),
        ("2.0.0", "does not upgrade from Kubernetes 1.x"),
    ],
)
def test_a_downgrade_or_a_skipped_minor_is_refused_before_any_change(
    harness,  # noqa: F811
    target,
    message,
):
    case, sandbox = started(harness, "kubeadm-upgrade-first")  # at 1.30.8
    environment = {**case.environment(harness.graph), "KUBERNETES_VERSION": target}
    run = sandbox.run(case.step, environment)
    assert not run.ok
    assert message in run.stderr and "refused" in run.stderr, run.stderr
    assert "nothing was changed" in run.stderr
    assert not run.host_changed, run.explain()
    assert {c.tool for c in run.calls} <= {"dpkg-query"}, run.explain()
    harness.stop(sandbox)


def bare(harness: Harness, case_id: str) -> tuple[Case, Sandbox]:  # noqa: F811
    """The case's step on its host when that host only ran os-prep (no kubeadm step)."""
    case = BY_ID[case_id]
    prepared_only = Case(f"{case_id}-bare", case.step, case.host, case.hardware, ("os-prep",))
    return prepared_only, harness.clone(harness.prepared(prepared_only), prepared_only)


def test_a_host_that_never_joined_is_refused(harness):  # noqa: F811
    case, sandbox = bare(harness, "kubeadm-upgrade-worker")
    run = sandbox.run(case.step, case.environment(harness.graph))
    assert not run.ok
    assert "nothing to upgrade" in run.stderr and not run.host_changed, run.explain()
    assert not run.calls
    harness.stop(sandbox)


def test_a_second_control_plane_upgrades_its_own_static_pods_with_upgrade_node(harness):  # noqa: F811
    """`upgrade apply` is for the first control plane alone; another one (UPGRADE_ROLE
    control-plane) runs `upgrade node`, which brings its own static pods to the version."""
    case, sandbox = started(harness, "kubeadm-upgrade-control-plane")
    environment = case.environment(harness.graph)
    assert environment["UPGRADE_ROLE"] == "control-plane"
    manifest = sandbox.path("/etc/kubernetes/manifests/kube-apiserver.yaml")
    assert manifest.read_text().rstrip().endswith("/kube-apiserver")  # as joined: no version
    run = harness.run(sandbox, case)
    kubeadm = [c.argv for c in run.calls if c.tool == "kubeadm"]
    assert kubeadm == [("upgrade", "node")], run.explain()
    version = environment["KUBERNETES_VERSION"]
    for name in ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"):
        text = sandbox.path(f"/etc/kubernetes/manifests/{name}.yaml").read_text()
        assert text.rstrip().endswith(f"/{name}:v{version}"), text
    harness.stop(sandbox)


# --- kubeadm-reset ----------------------------------------------------------------------------
KUBERNETES_STATE = ("/etc/kubernetes", "/var/lib/etcd", "/etc/cni/net.d")


@pytest.mark.parametrize("case_id", ["kubeadm-reset-worker", "kubeadm-reset-control-plane"])
def test_a_reset_host_keeps_nothing_of_kubernetes(harness, case_id):  # noqa: F811
    case, sandbox = started(harness, case_id)
    assert all(sandbox.path(path).exists() for path in ("/etc/kubernetes", "/etc/cni/net.d"))
    enabled = sandbox.path("/var/lib/standin/systemd/enabled/kubelet")
    assert enabled.exists()
    run = harness.run(sandbox, case)
    assert (run.result["node"], run.result["reset"], run.result["changed"]) == (
        case.host,
        "true",
        True,
    )
    assert [path for path in KUBERNETES_STATE if sandbox.path(path).exists()] == []
    assert not enabled.exists()  # and not running either
    assert not sandbox.path("/run/standin-systemd/kubelet.active").exists()
    assert [c.argv for c in run.calls if c.tool == "kubeadm"] == [("reset", "--force")]
    # Nothing is left to reset: the next run says so, and calls no kubeadm.
    again = harness.run(sandbox, case)
    assert (again.result["reset"], again.result["changed"]) == ("absent", False)
    assert not [c for c in again.calls if c.tool == "kubeadm"]
    harness.stop(sandbox)


def test_a_host_that_never_joined_has_nothing_to_reset(harness):  # noqa: F811
    case, sandbox = bare(harness, "kubeadm-reset-worker")
    run = sandbox.run(case.step, case.environment(harness.graph))
    assert run.ok, run.explain()
    assert (run.result["node"], run.result["reset"], run.result["changed"]) == (
        case.host,
        "absent",
        False,
    )
    assert not run.host_changed and not [c for c in run.calls if c.tool == "kubeadm"]
    harness.stop(sandbox)


# --- node-delete ------------------------------------------------------------------------------
def test_node_delete_deletes_the_named_node_only(harness):  # noqa: F811
    case, sandbox = started(harness, "node-delete")
    run = harness.run(sandbox, case)
    assert (run.result["node"], run.result["deleted"], run.result["changed"]) == (
        GPU_WORKER,
        "true",
        True,
    )
    (delete,) = [c for c in run.calls if "delete" in c.argv]
    assert delete.argv == (
        "--kubeconfig", "/etc/kubernetes/admin.conf", "delete", "node", GPU_WORKER,
        "--wait=true", "--timeout=900s",
    )  # fmt: skip
    gone = sandbox.exec("sudo", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf",
                        "get", "node", GPU_WORKER)  # fmt: skip
    assert gone.returncode != 0 and "NotFound" in gone.stderr, gone
    for other in (OTHER_WORKER, "dca-cp-1"):
        assert cluster_field(sandbox, f"nodes/{other}", "unschedulable") is not None, other
    again = harness.run(sandbox, case)
    assert (again.result["deleted"], again.result["changed"]) == ("absent", False)
    assert not [c for c in again.calls if "delete" in c.argv]
    harness.stop(sandbox)


# --- a host keeps the kubeadm role it was brought up with -------------------------------------
@pytest.mark.parametrize(
    ("case_id", "step_case_id", "message"),
    [
        # Config's first control plane is now a host that joined (the one that ran init was
        # removed or moved down the list).
        ("kubeadm-join-control-plane", "kubeadm-init", "joined its site's cluster as a node"),
        # The host that ran init is listed as a further control plane.
        ("kubeadm-init", "kubeadm-join-control-plane", "ran kubeadm init for its site"),
    ],
)
def test_a_host_never_runs_init_after_joining_nor_joins_after_init(
    harness,  # noqa: F811
    case_id,
    step_case_id,
    message,
):
    case, sandbox = started(harness, case_id)
    harness.run(sandbox, case)  # the host as its own kubeadm step left it
    other = BY_ID[step_case_id]
    run = sandbox.run(other.step, other.environment(harness.graph), other.secret_values())
    assert run.returncode == 1, run.explain()
    assert message in run.stderr and "nothing was changed" in run.stderr, run.stderr
    if other.step == "kubeadm-init":
        assert "put it back first" in run.stderr, run.stderr
    assert not run.host_changed and not run.calls, run.explain()
    harness.stop(sandbox)
