"""Models placed per site (`models[].placements`): a `prod` whose dc-b has H100s where dc-a
has V100s serves the same model on each site's own GPUs, sized, deployed and costed per site."""

import functools

from tests.bad_stacks import evaluate_changed

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
H100_PRICE = 30000
V100_HOSTS = ("dcb-gpu-v100-1", "dcb-gpu-v100-2", "dcb-gpu-v100-3")


def h100_at_dc_b(config: dict) -> None:
    """dc-b's three 4-GPU V100 servers replaced by 4-GPU H100 servers; r1-llama-8b keeps its
    V100 defaults (FP16, Triton 24.12, Volta's last) and gets FP8 on Triton 25.10 at dc-b."""
    dc_b = next(site for site in config["sites"] if site["name"] == "dc-b")
    for host in dc_b["hosts"]:
        if host["name"] in V100_HOSTS:
            host["gpu"]["model"] = "H100-80GB"
    config["kubernetes"]["gpuSharing"]["H100-80GB"] = {"mode": "exclusive"}
    config["cost"]["gpuPrices"]["H100-80GB"] = H100_PRICE
    llama = next(m for m in config["models"] if m["name"] == "r1-llama-8b")
    llama["placements"] = [
        {
            "site": "dc-b",
            "gpuModel": "H100-80GB",
            "precision": "fp8",
            "tensorParallelSize": 1,
            "tritonRelease": "25.10",
        }
    ]


@functools.cache
def _graphs():
    return evaluate_changed(lambda config: None), evaluate_changed(h100_at_dc_b)


def _pod(graph, site: str, model: str) -> dict:
    [deployment] = [
        r for r in graph.by_type(DEPLOYMENT) if r.name == f"deepseek-{site}-serving-{model}"
    ]
    return deployment.inputs["spec"]["template"]["spec"]


def _repository(graph, site: str, model: str) -> dict:
    [config_map] = [
        r
        for r in graph.by_type(CONFIG_MAP)
        if r.name == f"deepseek-{site}-serving-{model}-repository"
    ]
    return config_map.inputs["data"]


def test_each_site_deploys_its_own_placement():
    _, h100 = _graphs()
    for site, gpu, products, release, weights in (
        ("dc-a", "V100-32GB", "Tesla-V100-SXM2-32GB", "24.12", "Llama-8B-fp16"),
        ("dc-b", "H100-80GB", "NVIDIA-H100-80GB-HBM3", "25.10", "Llama-8B-fp8"),
    ):
        pod = _pod(h100, site, "r1-llama-8b")
        assert pod["nodeSelector"]["deepseek.bank/gpu-model"] == gpu
        [term] = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        assert products in term["matchExpressions"][0]["values"]
        [triton] = pod["containers"]
        assert triton["image"].endswith(f"tritonserver:{release}-vllm-python-py3")
        assert triton["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert weights in _repository(h100, site, "r1-llama-8b")["model.json"]
    assert '"quantization": "fp8"' in _repository(h100, "dc-b", "r1-llama-8b")["model.json"]
    assert '"dtype": "float16"' in _repository(h100, "dc-a", "r1-llama-8b")["model.json"]


SITES = ("dc-a", "dc-b")


def test_capacity_output_shows_each_sites_placement():
    prod, h100 = _graphs()
    before, after = prod.outputs["serving"], h100.outputs["serving"]
    # The same where nothing is placed, but for the hosts `load` names (each site's own).
    same = []
    for site in SITES:
        entry = before[site]["r1-llama-8b"]
        inputs = {k: v for k, v in entry["load"]["inputs"].items() if k != "gpuHosts"}
        same.append({**entry, "load": {**entry["load"], "inputs": inputs}})
    assert same[0] == same[1]
    dc_a, dc_b = after["dc-a"]["r1-llama-8b"], after["dc-b"]["r1-llama-8b"]
    assert dc_a == before["dc-a"]["r1-llama-8b"]
    assert (dc_a["gpuModel"], dc_a["precision"]) == ("V100-32GB", "fp16")
    assert (dc_b["gpuModel"], dc_b["precision"]) == ("H100-80GB", "fp8")
    # H100 bandwidth and FP8: more per replica, fewer replicas at rest for dc-b's share.
    per = "estimatedRequestsPerSecondPerReplica"
    assert dc_b[per] > 3 * dc_a[per]
    assert dc_b["replicas"] < dc_a["replicas"]
    assert dc_b["estimatedRequestsPerSecondAtCeiling"] >= 6  # the whole load alone
    # The model on A100s is untouched at both sites.
    assert after["dc-b"]["r1-qwen-32b"] == before["dc-b"]["r1-qwen-32b"]


def test_cost_output_shows_the_h100s():
    prod, h100 = _graphs()
    before, after = prod.outputs["cost"]["sites"], h100.outputs["cost"]["sites"]
    assert after["dc-a"] == before["dc-a"]
    # Twelve GPUs at 700 W instead of 300 W, and at the H100's price instead of the V100's.
    assert after["dc-b"]["facilityKilowatts"] > before["dc-b"]["facilityKilowatts"]
    assert after["dc-b"]["energyPerMonth"] > before["dc-b"]["energyPerMonth"]
    assert after["dc-b"]["hardwarePerMonth"] - before["dc-b"]["hardwarePerMonth"] == round(
        12 * (H100_PRICE - 4000) / (4 * 12)
    )
    per_million = "perMillionTokensAtFullLoad"
    assert after["dc-b"][per_million] < before["dc-b"][per_million]
    assert after["dc-b"]["idleGpus"] == {} == after["dc-a"]["idleGpus"]


def test_the_variant_previews_without_idle_gpus():
    _, h100 = _graphs()
    messages = [message for _, message in h100.diagnostics]
    assert not [m for m in messages if "serve no model" in m]
    assert not [severity for severity, _ in h100.diagnostics if severity == "error"]


def test_gpus_no_model_uses_are_warned_with_their_cost():
    """dc-b with H100s where no placement uses them: r1-llama-8b moved to dc-b's A100s."""

    def h100_unused(config: dict) -> None:
        h100_at_dc_b(config)
        llama = next(m for m in config["models"] if m["name"] == "r1-llama-8b")
        llama["placements"] = [{"site": "dc-b", "gpuModel": "A100-80GB"}]
        llama["replicas"] = 2
        # Room on one A100 host for both models at rest, so one can be drained for a change.
        qwen = next(m for m in config["models"] if m["name"] == "r1-qwen-32b")
        del qwen["canary"]
        qwen["replicas"] = 2

    graph = evaluate_changed(h100_unused)
    [warning] = [m for _, m in graph.diagnostics if "serve no model" in m]
    idle = graph.outputs["cost"]["sites"]["dc-b"]["idleGpus"]
    assert set(idle) == {"H100-80GB"} and idle["H100-80GB"]["gpus"] == 12
    assert f"{idle['H100-80GB']['perMonth']:,.0f} EUR a month" in warning
    assert warning.startswith("site dc-b: 12 H100-80GB GPUs serve no model")
