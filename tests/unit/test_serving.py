"""The serving layer's pure logic: GPU shares, the throughput estimate, site capacity and the
pod, Service and autoscaler specs built from prod's config."""

import pytest

from components.config import GpuSharing, Kubernetes
from components.kubernetes.gpu_operator import device_plugin_config
from components.serving.autoscaling import QUEUE_TIME_METRIC, adapter_rule, hpa_spec
from components.serving.cached_weights import WeightsCache, served_revisions
from components.serving.capacity import (
    GUIDE_SPEEDUP_OVER_FP32,
    gpu_share,
    pack,
    plan_site,
    replica_estimate,
)
from components.serving.model_service import (
    deployment_manifest,
    network_policy_spec,
    routes,
    service_spec,
    startup_budget_seconds,
)


def cache_of(plans) -> WeightsCache:
    """The node-local cache as the data layer would give it: each served revision under
    `<model>/<precision>/<revision>` (fill Jobs and nodes are the graph tests' concern)."""
    keys = [
        (p.deployment.model, p.deployment.precision, revision)
        for p in plans.values()
        for revision in served_revisions(p.deployment)
    ]
    return WeightsCache("model-cache", ".complete", {k: "/".join(k) for k in keys}, {}, {})


@pytest.fixture(scope="module")
def dc_a_plans(prod_config):
    plans, problems = plan_site(prod_config.sites[0], prod_config.models, prod_config.kubernetes, 2)
    assert problems == []
    return plans


def test_gpu_shares_per_sharing_mode():
    exclusive = gpu_share(Kubernetes(), "A100-80GB")
    assert (exclusive.resource, exclusive.per_gpu, exclusive.memory_gib) == (
        "nvidia.com/gpu",
        1,
        80,
    )
    sliced = Kubernetes(gpu_sharing={"V100-32GB": GpuSharing(mode="time-slicing", replicas=4)})
    share = gpu_share(sliced, "V100-32GB")
    assert (share.per_gpu, share.memory_gib, share.bandwidth_gbs) == (4, 8, 225)
    assert "replicas: 4" in device_plugin_config(sliced.gpu_sharing["V100-32GB"])
    mig = Kubernetes(gpu_sharing={"A100-80GB": GpuSharing(mode="mig", mig_profile="all-3g.40gb")})
    share = gpu_share(mig, "A100-80GB")
    assert (share.resource, share.per_gpu, share.memory_gib) == ("nvidia.com/mig-3g.40gb", 2, 40)


def test_estimate_follows_bandwidth_and_the_guide_figures(prod_config):
    qwen = prod_config.models[0]
    estimate = replica_estimate(qwen, gpu_share(prod_config.kubernetes, "A100-80GB"))
    # 2 GPUs × 2039 GB/s × 0.5 / (32.8B × 4 bytes) × 2 (BF16 vs FP32) × 16 sequences
    assert estimate.tokens_per_second == pytest.approx(2 * 2039 * 0.5 / (32.8 * 4) * 2 * 16)
    assert estimate.requests_per_second == pytest.approx(estimate.tokens_per_second / 512)
    # The guide: FP16 about 2× FP32, INT8 3-5× faster (the low end is credited).
    assert GUIDE_SPEEDUP_OVER_FP32["fp16"] == 2 * GUIDE_SPEEDUP_OVER_FP32["fp32"]
    int8 = replica_estimate(
        qwen.model_copy(update={"precision": "int8"}), gpu_share(Kubernetes(), "A100-80GB")
    )
    assert int8.tokens_per_second / estimate.tokens_per_second == pytest.approx(3 / 2)


def test_pack_keeps_each_pod_on_one_host():
    assert pack([2, 2, 2, 2], [8])
    assert not pack([4, 4, 4], [8, 2, 2])  # 8 free GPUs in all, but only one 4-GPU hole
    assert pack([4, 2, 2], [4, 4])


def test_prod_replicas_at_rest_and_ceilings(prod_config, dc_a_plans):
    qwen, llama = dc_a_plans["r1-qwen-32b"], dc_a_plans["r1-llama-8b"]
    # Half of 4 requests/s at 0.97 per replica: 3 at rest. 16 A100s hold 8 two-GPU pods:
    # the ceiling is 8 minus the canary and one pod's room for a rolling update.
    assert (qwen.replicas, qwen.canary_replicas, qwen.max_replicas) == (3, 1, 6)
    assert (llama.replicas, llama.max_replicas) == (4, 11)
    # Active-active: each site alone carries the whole declared load at its ceiling.
    for plan in dc_a_plans.values():
        assert plan.capacity_rps >= plan.deployment.requests_per_second


def test_dr_site_idles_at_two_replicas(dr_config):
    plans, problems = plan_site(dr_config.sites[0], dr_config.models, dr_config.kubernetes, 0)
    assert problems == []
    assert plans["r1-llama-8b"].replicas == 2


def test_a_canary_that_does_not_fit_is_refused(prod_config):
    qwen = prod_config.models[0]
    crowded = [
        qwen.model_copy(
            update={"replicas": 7, "canary": qwen.canary.model_copy(update={"replicas": 2})}
        ),
        prod_config.models[1],
    ]
    _, problems = plan_site(prod_config.sites[0], crowded, prod_config.kubernetes, 2)
    assert [(p.field, p.value) for p in problems] == [("canary.replicas", 2)]
    assert "the canary does not fit beside the stable version" in problems[0].problem


def test_triton_pod_spec(prod_config, dc_a_plans):
    plan = dc_a_plans["r1-qwen-32b"]
    cache = cache_of(dc_a_plans)
    manifest = deployment_manifest(
        plan, "stable", prod_config.sites[0], prod_config.serving, prod_config.mirrors, cache
    )
    pod = manifest["spec"]["template"]["spec"]
    (triton,) = pod["containers"]
    assert triton["image"] == (
        "registry.bank.internal/deepseek/nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3"
    )
    assert [p["containerPort"] for p in triton["ports"]] == [8000, 8001, 8002]
    resources = triton["resources"]
    assert resources["requests"] == resources["limits"]
    assert resources["limits"]["nvidia.com/gpu"] == "2"
    assert triton["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert triton["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    # A 61 GiB model gets 600 s + 10 s per GiB to start.
    budget = startup_budget_seconds(plan)
    assert budget == 600 + 611
    assert (
        triton["startupProbe"]["periodSeconds"] * triton["startupProbe"]["failureThreshold"]
        >= budget
    )
    env = {e["name"]: e["value"] for e in triton["env"]}
    assert env["HF_HUB_OFFLINE"] == "1"
    shm = next(v for v in pod["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "4Gi"}
    assert pod["priorityClassName"] == "high-priority"
    assert pod["nodeSelector"]["topology.kubernetes.io/region"] == "de-fra"
    assert pod["nodeSelector"]["deepseek.bank/gpu-model"] == "A100-80GB"
    products = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]["matchExpressions"][0]
    assert products["key"] == "nvidia.com/gpu.product"
    assert "NVIDIA-A100-SXM4-80GB" in products["values"]
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod["containers"] + pod["initContainers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # Triton reads the node's cache, read-only, and never downloads: no credentials, no
    # store address, only the check that the revision is whole.
    (check,) = pod["initContainers"]
    assert check["image"] == triton["image"]
    check_env = {e["name"]: e.get("value") for e in check["env"]}
    assert check_env["WEIGHTS"] == "/model-cache/DeepSeek-R1-Distill-Qwen-32B/bf16/2025-01-20"
    assert check_env["MARKER"] == ".complete"
    assert check_env["LINK"] == "/weights/DeepSeek-R1-Distill-Qwen-32B-bf16"
    assert "holds no complete copy" in check["command"][-1]
    cache_volume = next(v for v in pod["volumes"] if v["name"] == "model-cache")
    assert cache_volume["persistentVolumeClaim"] == {"claimName": "model-cache", "readOnly": True}
    for container in (triton, check):
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "model-cache"]
        assert mount["readOnly"] is True
    assert not any("secret" in v for v in pod["volumes"])
    assert not any("s3" in str(e).lower() for e in triton["env"] + check["env"])
    canary = deployment_manifest(
        plan, "canary", prod_config.sites[0], prod_config.serving, prod_config.mirrors, cache
    )
    assert canary["metadata"]["name"] == "r1-qwen-32b-canary"
    assert canary["spec"]["replicas"] == 1
    (check,) = canary["spec"]["template"]["spec"]["initContainers"]
    assert {
        "name": "WEIGHTS",
        "value": "/model-cache/DeepSeek-R1-Distill-Qwen-32B/bf16/2025-05-28",
    } in (check["env"])


def test_volta_model_uses_its_own_triton_release(prod_config, dc_a_plans):
    plan = dc_a_plans["r1-llama-8b"]
    manifest = deployment_manifest(
        plan,
        "stable",
        prod_config.sites[0],
        prod_config.serving,
        prod_config.mirrors,
        cache_of(dc_a_plans),
    )
    image = manifest["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith("tritonserver:24.12-vllm-python-py3")


def test_time_sliced_pods_select_gfd_shared_products(prod_config):
    sliced = Kubernetes(gpu_sharing={"V100-32GB": GpuSharing(mode="time-slicing", replicas=2)})
    small = prod_config.models[1].model_copy(
        update={"model": "DeepSeek-R1-Distill-Qwen-1.5B", "max_model_len": 4096}
    )
    plans, problems = plan_site(prod_config.sites[0], [small], sliced, 2)
    assert problems == []
    pod = deployment_manifest(
        plans[small.name],
        "stable",
        prod_config.sites[0],
        prod_config.serving,
        prod_config.mirrors,
        cache_of(plans),
    )
    values = pod["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"]
    assert all(v.endswith("-SHARED") for v in values)


def test_service_is_cluster_ip_and_routes_carry_the_canary_weight(dc_a_plans):
    plan = dc_a_plans["r1-qwen-32b"]
    assert service_spec(plan, "stable")["type"] == "ClusterIP"
    assert routes(plan) == [
        {"service": "r1-qwen-32b", "weight": 90, "revision": "2025-01-20"},
        {"service": "r1-qwen-32b-canary", "weight": 10, "revision": "2025-05-28"},
    ]
    assert routes(dc_a_plans["r1-llama-8b"])[0]["weight"] == 100


def test_autoscaler_on_triton_queue_time(prod_config, dc_a_plans):
    plan = dc_a_plans["r1-qwen-32b"]
    spec = hpa_spec(plan, prod_config.serving, prod_config.monitoring, "r1-qwen-32b")
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 6)
    (metric,) = spec["metrics"]
    assert metric["pods"]["metric"]["name"] == QUEUE_TIME_METRIC
    assert metric["pods"]["target"]["averageValue"] == "50000"  # 50 ms in µs
    # The guide's idle rule: scale down after 30 idle minutes.
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 30 * 60
    rule = adapter_rule()
    assert "nv_inference_queue_duration_us" in rule["metricsQuery"]
    assert "nv_inference_request_success" in rule["metricsQuery"]


def test_triton_pods_reach_nothing_outside_the_cluster(dc_a_plans):
    """The weights are on the node (the cache's fill Jobs fetched them): Triton's pods may
    send nothing out (DNS is the namespace's own policy)."""
    spec = network_policy_spec(dc_a_plans["r1-qwen-32b"])
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["egress"] == []
