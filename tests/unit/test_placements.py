"""Models placed per site (`models[].placements`): the deployment each site serves, its
capacity, the canary's cost to the stable version's ceiling, and GPUs no model uses."""

import pytest

from components.config import Kubernetes, ModelPlacement
from components.cost import gpus_per_month, idle_gpu_warnings, site_cost
from components.plan import make_plan
from components.serving.capacity import canary_ceiling_warning, gpu_share


def _h100_at_dc_b(config, placements):
    """prod with dc-b's V100 hosts switched to H100 and r1-llama-8b placed there as given."""
    dc_b = config.sites[1]
    hosts = [
        h.model_copy(update={"gpu": h.gpu.model_copy(update={"model": "H100-80GB"})})
        if h.gpu and h.gpu.model == "V100-32GB"
        else h
        for h in dc_b.hosts
    ]
    sites = [config.sites[0], dc_b.model_copy(update={"hosts": hosts})]
    llama = config.models[1].model_copy(update={"placements": placements})
    return config.model_copy(update={"sites": sites, "models": [config.models[0], llama]})


def test_a_placement_overrides_the_defaults_at_its_site_only(prod_config):
    placement = ModelPlacement(site="dc-b", gpu_model="H100-80GB", precision="fp8")
    llama = prod_config.models[1].model_copy(update={"placements": [placement]})
    at_b, at_a = llama.at_site("dc-b"), llama.at_site("dc-a")
    assert (at_b.gpu_model, at_b.precision, at_b.triton_release) == ("H100-80GB", "fp8", "24.12")
    assert (at_a.gpu_model, at_a.precision) == ("V100-32GB", "fp16")
    assert at_b.placements == [] and at_b.name == llama.name
    assert llama.placement_index("dc-b") == 0 and llama.placement_index("dc-a") is None


def test_capacity_is_planned_per_site_on_its_placement(prod_config):
    config = _h100_at_dc_b(
        prod_config, [ModelPlacement(site="dc-b", gpu_model="H100-80GB", precision="fp8")]
    )
    plan = make_plan(config)
    assert plan.capacity_problems == ()
    dc_a, dc_b = plan.sites["dc-a"].serving, plan.sites["dc-b"].serving
    assert dc_a["r1-llama-8b"].deployment.gpu_model == "V100-32GB"
    assert dc_b["r1-llama-8b"].deployment.gpu_model == "H100-80GB"
    # H100: 3350 GB/s against 900, FP8 credited 3x FP32 against FP16's 2x.
    ratio = (
        dc_b["r1-llama-8b"].estimate.tokens_per_second
        / dc_a["r1-llama-8b"].estimate.tokens_per_second
    )
    assert ratio == pytest.approx(3350 / 900 * 3 / 2)
    assert set(plan.gpu_shares) == {"A100-80GB", "V100-32GB", "H100-80GB"}
    assert plan.sites["dc-b"].idle_gpus == {}


def test_without_a_placement_the_h100s_have_no_model(prod_config):
    config = _h100_at_dc_b(prod_config, [])
    plan = make_plan(config)
    # dc-b cannot place r1-llama-8b on V100s (validation says so); its H100s serve nothing.
    assert "r1-llama-8b" not in plan.sites["dc-b"].serving
    assert plan.sites["dc-b"].idle_gpus == {"H100-80GB": 12}


def test_idle_gpus_are_costed_and_warned(dr_config):
    # dr-ber serves r1-llama-8b on its V100s only: its 8 A100s serve no model.
    plan = make_plan(dr_config)
    assert plan.sites["dr-ber"].idle_gpus == {"A100-80GB": 8}
    cost = site_cost(plan.sites["dr-ber"], dr_config.cost)
    per_month = gpus_per_month("A100-80GB", 8, dr_config.cost)
    c = dr_config.cost
    assert per_month == pytest.approx(
        8 * 400 * c.gpu_power_fraction / 1000 * c.pue * 730 * c.energy_price_per_kwh
        + 8 * c.gpu_prices["A100-80GB"] / (c.amortization_years * 12)
    )
    assert cost.to_output(c.currency)["idleGpus"] == {
        "A100-80GB": {"gpus": 8, "perMonth": round(per_month)}
    }
    [warning] = idle_gpu_warnings(plan, c)
    assert warning.startswith("site dr-ber: 8 A100-80GB GPUs serve no model")
    assert f"{per_month:,.0f} {c.currency} a month" in warning


def test_prod_uses_every_gpu(prod_config):
    assert idle_gpu_warnings(make_plan(prod_config), prod_config.cost) == []


def test_a_canary_that_lowers_the_stable_ceiling_says_so(prod_config):
    plan = make_plan(prod_config).sites["dc-a"]
    qwen = plan.serving["r1-qwen-32b"]
    # r1-qwen-32b alone on 16 A100s, 2 per pod, one pod's room kept for a rolling update:
    # 7 replicas and the surge pod, or 6, the canary's pod and the surge pod.
    assert (qwen.max_replicas, qwen.max_replicas_without_canary) == (6, 7)
    warning = canary_ceiling_warning("dc-a", qwen)
    assert warning == (
        "r1-qwen-32b's canary (1 replica) lowers the stable deployment's autoscaling ceiling "
        "at site dc-a from 7 to 6 replicas on A100-80GB: promote or remove the canary to give "
        "them back"
    )
    assert warning in plan.canary_warnings
    # Without a canary, nothing to say.
    assert canary_ceiling_warning("dc-a", plan.serving["r1-llama-8b"]) is None
    no_canary = prod_config.model_copy(
        update={"models": [prod_config.models[0].model_copy(update={"canary": None})]}
    )
    assert make_plan(no_canary).sites["dc-a"].canary_warnings == ()


def test_mig_instances_per_gpu_come_from_nvidias_table():
    """An A100-80GB holds 4 instances of 1g.20gb (memory runs out before the 7 slices), not
    7 // 1: capacity would count 8 × 7 = 56 pods' worth of GPUs on a host that offers 32."""
    for profile, per_gpu in (("all-1g.20gb", 4), ("all-1g.10gb", 7), ("all-3g.40gb", 2)):
        sharing = {"A100-80GB": {"mode": "mig", "migProfile": profile}}
        kubernetes = Kubernetes.model_validate({"gpuSharing": sharing})
        assert gpu_share(kubernetes, "A100-80GB").per_gpu == per_gpu, profile
