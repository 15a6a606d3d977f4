"""The serving layer in the recorded graphs: one Triton deployment per model per site, with
its Service, disruption budget, autoscaler and network policy."""

from collections import Counter

import pytest

from components.serving.triton import config_pbtxt


def _named(graph, type_, name):
    return [r for r in graph.by_type(type_) if r.inputs["metadata"]["name"] == name]


def _site(graph, resource):
    sites = {r.urn: r.name for r in graph.by_type("deepseek:site:Site")}
    return next(sites[a] for a in graph.ancestors(resource.urn) if a in sites)


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_one_deployment_per_model_per_site(stack, stack_graph, stack_config):
    graph = stack_graph(stack)
    config = stack_config(stack)
    deployments = graph.by_type("kubernetes:apps/v1:Deployment")
    serving = [d for d in deployments if d.inputs["metadata"]["namespace"] == "inference"]
    stable = Counter(
        (_site(graph, d), d.inputs["metadata"]["name"])
        for d in serving
        if d.inputs["metadata"]["labels"]["deepseek.bank/track"] == "stable"
    )
    assert stable == Counter(
        {(f"deepseek-{s.name}", m.name): 1 for s in config.sites for m in config.models}
    )


def test_prod_canary_runs_beside_stable_at_both_sites(prod_graph):
    canaries = _named(prod_graph, "kubernetes:apps/v1:Deployment", "r1-qwen-32b-canary")
    assert len(canaries) == 2
    labels = canaries[0].inputs["spec"]["template"]["metadata"]["labels"]
    assert labels["deepseek.bank/revision"] == "2025-05-28"
    routes = prod_graph.outputs["serving"]["dc-a"]["r1-qwen-32b"]["routes"]
    assert [(r["service"], r["weight"]) for r in routes] == [
        ("r1-qwen-32b", 90),
        ("r1-qwen-32b-canary", 10),
    ]


def test_each_deployment_has_service_pdb_and_the_stable_one_an_autoscaler(prod_graph):
    for deployment in prod_graph.by_type("kubernetes:apps/v1:Deployment"):
        metadata = deployment.inputs["metadata"]
        if metadata["namespace"] != "inference":
            continue
        name, site = metadata["name"], _site(prod_graph, deployment)
        (service,) = [
            s
            for s in _named(prod_graph, "kubernetes:core/v1:Service", name)
            if _site(prod_graph, s) == site
        ]
        assert service.inputs["spec"]["type"] == "ClusterIP"
        assert (
            service.inputs["spec"]["selector"]
            == deployment.inputs["spec"]["selector"]["matchLabels"]
        )
        (pdb,) = [
            p
            for p in _named(prod_graph, "kubernetes:policy/v1:PodDisruptionBudget", name)
            if _site(prod_graph, p) == site
        ]
        assert pdb.inputs["spec"]["selector"] == deployment.inputs["spec"]["selector"]
        if not name.endswith("-canary"):
            (hpa,) = [
                h
                for h in _named(
                    prod_graph, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", name
                )
                if _site(prod_graph, h) == site
            ]
            assert hpa.inputs["spec"]["scaleTargetRef"]["name"] == name
            assert hpa.urn not in deployment.dependencies
            assert deployment.urn in hpa.dependencies
            # The autoscaler owns replicas once it runs: a re-deploy must not reset them.
            assert deployment.ignore_changes == ("spec.replicas",)


def test_model_repository_config_map_holds_the_generated_files(prod_graph, prod_config):
    (config_map, *_) = _named(
        prod_graph, "kubernetes:core/v1:ConfigMap", "r1-qwen-32b-model-repository"
    )
    assert config_map.inputs["data"]["config.pbtxt"] == config_pbtxt(prod_config.models[0])
    assert '"tensor_parallel_size": 2' in config_map.inputs["data"]["model.json"]


def test_triton_holds_no_store_credentials(prod_graph):
    """The model store's keys went to the cache's fill Jobs (test_model_cache_graph.py):
    no serving pod mounts a Secret or names the store."""
    for deployment in prod_graph.by_type("kubernetes:apps/v1:Deployment"):
        if deployment.inputs["metadata"]["namespace"] != "inference":
            continue
        pod = deployment.inputs["spec"]["template"]["spec"]
        assert not [v for v in pod["volumes"] if "secret" in v], deployment.name
        assert "8080" not in str(pod) and "s3" not in str(pod).lower(), deployment.name


def test_triton_waits_for_namespace_priority_classes_and_its_cache(prod_graph):
    (deployment, *_) = _named(prod_graph, "kubernetes:apps/v1:Deployment", "r1-llama-8b")
    by_urn = prod_graph.by_urn()
    kinds = {by_urn[u].type for u in deployment.dependencies}
    assert {
        "kubernetes:core/v1:Namespace",
        "kubernetes:batch/v1:Job",
        "kubernetes:scheduling.k8s.io/v1:PriorityClass",
        "kubernetes:core/v1:ConfigMap",
    } <= kinds


def test_dr_warns_what_share_of_the_load_it_carries(dr_graph):
    assert any(
        severity == "warning" and "DR site dr-ber" in message
        for severity, message in dr_graph.diagnostics
    )
