"""GPU sharing in the recorded graph: for every mode config allows (exclusive, time-slicing,
MIG), what a serving pod requests is what its nodes are configured to offer: the node's
device-plugin label, the plugin's config entry for the GPU model, and for MIG the
`nvidia.com/mig.config` label the GPU Operator's MIG manager partitions the GPUs by."""

import functools
import re

import pytest
import yaml

from components.kubernetes.gpu_operator import MIG_CONFIG_LABEL

# prod's graph with a change to its config, evaluated from a copy of the project.
from tests.bad_stacks import PROJECT, evaluate_changed
from tests.paths import PROJECT_DIR

GPU_MODEL_LABEL = "deepseek.bank/gpu-model"
# prod's models, moved to sizes that fit a 3g.40gb MIG instance and a half V100.
SHARED = {
    "A100-80GB": {"mode": "mig", "migProfile": "all-3g.40gb"},
    "V100-32GB": {"mode": "time-slicing", "replicas": 2},
}


def _share(config: dict) -> None:
    config["kubernetes"]["gpuSharing"] = SHARED
    config["models"][0].update(model="DeepSeek-R1-Distill-Qwen-7B", tensorParallelSize=1)
    config["models"][1].update(model="DeepSeek-R1-Distill-Qwen-1.5B")


@functools.cache
def _shared_graph():
    """prod with its A100s partitioned by MIG and its V100s time-sliced."""
    return evaluate_changed(_share)


def _graph(which, prod_graph):
    return prod_graph if which == "exclusive" else _shared_graph()


def _sharing_config(which) -> dict:
    if which == "exclusive":
        raw = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
        return raw["config"][f"{PROJECT}:kubernetes"]["gpuSharing"]
    return SHARED


def _gpu_request(deployment) -> tuple[str, str]:
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    limits = container["resources"]["limits"]
    assert container["resources"]["requests"] == limits
    (resource,) = [k for k in limits if k.startswith("nvidia.com/")]
    return resource, limits[resource]


def _serving_deployments(graph):
    return [
        d
        for d in graph.by_type("kubernetes:apps/v1:Deployment")
        if GPU_MODEL_LABEL in d.inputs["spec"]["template"]["spec"].get("nodeSelector", {})
    ]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _host_models(graph) -> dict[str, str]:
    """Node name → the device-plugin config its kubelet registers it with (its GPU model),
    from each host's kubeadm configuration."""
    hosts = {}
    for step in graph.by_type("command:remote:Command"):
        if step.name.endswith(("-kubeadm-join", "-kubeadm-init")):
            text = "\n".join(_strings(step.inputs))
            node = re.search(r"nodeRegistration:\s+name: ([\w.-]+)", text)
            plugin = re.search(r"nvidia\.com/device-plugin\.config=([\w.-]+)", text)
            if node and plugin:
                hosts[node.group(1)] = plugin.group(1)
    return hosts


@pytest.mark.parametrize("which", ["exclusive", "shared"])
def test_each_pod_requests_what_its_nodes_are_labelled_and_configured_to_offer(prod_graph, which):
    graph = _graph(which, prod_graph)
    sharing = _sharing_config(which)
    mig_labels = {
        p.inputs["metadata"]["name"]: p.inputs["metadata"]["labels"][MIG_CONFIG_LABEL]
        for p in graph.by_type("kubernetes:core/v1:NodePatch")
        if MIG_CONFIG_LABEL in p.inputs["metadata"].get("labels", {})
    }
    plugin_config = {
        model: yaml.safe_load(entry)
        for cm in graph.by_type("kubernetes:core/v1:ConfigMap")
        if cm.name.endswith("-gpu-operator-sharing")
        for model, entry in cm.inputs["data"].items()
    }
    host_models = _host_models(graph)
    assert set(host_models.values()) == set(sharing)
    modes_seen = set()
    deployments = _serving_deployments(graph)
    assert deployments
    for deployment in deployments:
        model = deployment.inputs["spec"]["template"]["spec"]["nodeSelector"][GPU_MODEL_LABEL]
        profile = sharing[model]
        modes_seen.add(profile["mode"])
        resource, _ = _gpu_request(deployment)
        hosts = [h for h, m in host_models.items() if m == model]
        assert hosts, f"no host labelled for {model}"
        plugin = plugin_config[model]
        if profile["mode"] == "mig":
            # The label names the mig-parted profile; the pod asks for one of its instances.
            assert resource == "nvidia.com/mig-" + profile["migProfile"].removeprefix("all-")
            assert all(mig_labels.get(h) == profile["migProfile"] for h in hosts), mig_labels
            assert plugin["flags"]["migStrategy"] == "mixed"
        else:
            assert resource == "nvidia.com/gpu"
            assert not any(h in mig_labels for h in hosts), mig_labels
            slicing = plugin.get("sharing", {}).get("timeSlicing")
            if profile["mode"] == "time-slicing":
                assert slicing["resources"] == [
                    {"name": "nvidia.com/gpu", "replicas": profile["replicas"]}
                ]
            else:
                assert slicing is None
    expected = {"exclusive"} if which == "exclusive" else {"mig", "time-slicing"}
    assert modes_seen == expected


def test_the_mig_manager_runs_after_the_nodes_are_labelled():
    graph = _shared_graph()
    patches = {p.urn: p for p in graph.by_type("kubernetes:core/v1:NodePatch")}
    releases = [
        r
        for r in graph.by_type("kubernetes:helm.sh/v3:Release")
        if r.name.endswith("-gpu-operator")
    ]
    assert len(releases) == 2
    for release in releases:
        assert release.inputs["values"]["migManager"]["enabled"] is True
        site = release.name.removesuffix("-gpu-operator-gpu-operator")
        own = {u for u, p in patches.items() if p.name.startswith(site + "-")}
        assert len(own) == 2  # the site's two A100 hosts
        assert own <= set(release.dependencies)
    # The operator may have set its default label first: the config's profile wins.
    assert all(
        p.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
        for p in patches.values()
    )


def test_exclusive_gpus_get_no_mig_label(prod_graph):
    assert not prod_graph.by_type("kubernetes:core/v1:NodePatch")
