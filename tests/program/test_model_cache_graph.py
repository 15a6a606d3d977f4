"""The node-local model cache in prod's recorded graph (components/storage/model_cache.py): one
`local` volume per site on the GPU hosts and its claim, a fill Job per (node, model, precision,
revision) pinned to its node, the Deployments waiting for the Jobs of their nodes, Triton
reading the cache read-only, the store's keys secret, the fill pods reaching the RGW only; and
an external store where config names one."""

import base64
from collections import defaultdict
from dataclasses import replace

import pytest

from components.kubernetes.scheduling import pods_per_node, site_nodes, why_not
from offline.graph import SECRET
from tests.bad_stacks import evaluate_changed

JOB = "kubernetes:batch/v1:Job"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _site_of(graph, resource) -> str:
    sites = {r.urn: r.name.removeprefix("deepseek-") for r in graph.by_type("deepseek:site:Site")}
    return next(sites[a] for a in graph.ancestors(resource.urn) if a in sites)


def _env(container) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _fill(job) -> tuple[str, str]:
    """(node, <model>/<precision>/<revision>) of a fill Job."""
    pod = job.inputs["spec"]["template"]["spec"]
    return pod["nodeSelector"]["kubernetes.io/hostname"], _env(pod["containers"][0])["PREFIX"]


def _serving_deployments(graph):
    return [
        d for d in graph.by_type(DEPLOYMENT) if d.inputs["metadata"]["namespace"] == "inference"
    ]


def _revision_path(deployment) -> str:
    (check,) = deployment.inputs["spec"]["template"]["spec"]["initContainers"]
    return _env(check)["WEIGHTS"].removeprefix("/model-cache/")


@pytest.fixture(scope="module")
def fills(prod_graph):
    """site → {(node, revision path): Job}."""
    by_site: dict[str, dict] = defaultdict(dict)
    for job in prod_graph.by_type(JOB):
        if job.inputs["metadata"]["labels"].get("app.kubernetes.io/name") == "model-cache-fill":
            key = _fill(job)
            assert key not in by_site[_site_of(prod_graph, job)], f"{key} filled twice"
            by_site[_site_of(prod_graph, job)][key] = job
    return by_site


def test_one_fill_job_per_node_and_revision_where_the_pods_may_run(prod_graph, prod_config, fills):
    """Each Deployment's revision is filled on exactly the hosts its recorded pod template
    may land on (the scheduler's filters, from config), once even when two share it."""
    for site in prod_config.sites:
        nodes = site_nodes(site, prod_config.kubernetes)
        expected = set()
        for deployment in _serving_deployments(prod_graph):
            if _site_of(prod_graph, deployment) != site.name:
                continue
            pod = deployment.inputs["spec"]["template"]["spec"]
            hosts = [node.name for node in nodes if pods_per_node(pod, node)]
            assert hosts, deployment.name
            expected |= {(host, _revision_path(deployment)) for host in hosts}
        assert set(fills[site.name]) == expected
    # dc-a: r1-llama-8b on its three V100 hosts; r1-qwen-32b and its canary (another
    # revision) on its two A100 hosts.
    assert sorted(fills["dc-a"]) == [
        ("dca-gpu-a100-1", "DeepSeek-R1-Distill-Qwen-32B/bf16/2025-01-20"),
        ("dca-gpu-a100-1", "DeepSeek-R1-Distill-Qwen-32B/bf16/2025-05-28"),
        ("dca-gpu-a100-2", "DeepSeek-R1-Distill-Qwen-32B/bf16/2025-01-20"),
        ("dca-gpu-a100-2", "DeepSeek-R1-Distill-Qwen-32B/bf16/2025-05-28"),
        ("dca-gpu-v100-1", "DeepSeek-R1-Distill-Llama-8B/fp16/2025-01-20"),
        ("dca-gpu-v100-2", "DeepSeek-R1-Distill-Llama-8B/fp16/2025-01-20"),
        ("dca-gpu-v100-3", "DeepSeek-R1-Distill-Llama-8B/fp16/2025-01-20"),
    ]


def test_a_fill_job_runs_on_its_node_and_nowhere_else(prod_config, fills):
    for site in prod_config.sites:
        # kubelet's own label, beside those kubeadm registers (the node's name, from config).
        nodes = [
            replace(node, labels={**node.labels, "kubernetes.io/hostname": node.name})
            for node in site_nodes(site, prod_config.kubernetes)
        ]
        for (node, _), job in fills[site.name].items():
            pod = job.inputs["spec"]["template"]["spec"]
            runs_on = [n.name for n in nodes if not why_not(pod, n)]
            assert runs_on == [node], job.name
            assert pod["nodeSelector"]["topology.kubernetes.io/region"] == site.region
            assert pod["restartPolicy"] == "Never"
            # A failed fill is replaced at the next `pulumi up`, which resumes it.
            assert job.inputs["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"
            assert "ttlSecondsAfterFinished" not in job.inputs["spec"]  # no drift after a run


def test_each_deployment_waits_for_the_fill_jobs_of_its_revision_on_every_node(prod_graph, fills):
    for deployment in _serving_deployments(prod_graph):
        site = _site_of(prod_graph, deployment)
        path = _revision_path(deployment)
        own = {job.urn for (_, p), job in fills[site].items() if p == path}
        others = {job.urn for (_, p), job in fills[site].items() if p != path}
        assert own, deployment.name
        assert own <= set(deployment.dependencies), deployment.name
        assert not others & set(deployment.dependencies), deployment.name
    # The canary waits for its own revision, not the stable one's.
    (canary, *_) = [d for d in _serving_deployments(prod_graph) if d.name.endswith("-canary")]
    assert _revision_path(canary).endswith("/2025-05-28")


def test_fill_jobs_wait_for_the_claim_the_credentials_and_the_rgw(prod_graph, fills):
    by_urn = prod_graph.by_urn()
    for job in fills["dc-a"].values():
        kinds = {by_urn[u].type for u in job.dependencies}
        assert {
            "kubernetes:core/v1:PersistentVolumeClaim",
            "kubernetes:core/v1:Secret",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        } <= kinds
        # The site's Ceph: its RGW and the user and bucket the store's keys belong to.
        ceph = [by_urn[u] for u in job.dependencies if "CephCluster" in u]
        assert ceph and all(_site_of(prod_graph, r) == "dc-a" for r in ceph)


def test_one_local_volume_per_site_on_its_gpu_hosts_bound_to_the_claim(
    prod_graph, prod_config, fills
):
    cache = prod_config.storage.model_cache
    volumes = prod_graph.by_type("kubernetes:core/v1:PersistentVolume")
    claims = {
        _site_of(prod_graph, c): c
        for c in prod_graph.by_type("kubernetes:core/v1:PersistentVolumeClaim")
        if c.inputs["metadata"]["name"] == "model-cache"
    }
    mine = [v for v in volumes if v.inputs["metadata"]["name"] == "deepseek-model-cache"]
    assert sorted(_site_of(prod_graph, v) for v in mine) == ["dc-a", "dc-b"]
    for volume in mine:
        site = _site_of(prod_graph, volume)
        spec = volume.inputs["spec"]
        # hostPath-free: a `local` volume of the class the policy pack allows, kept on delete.
        assert "hostPath" not in spec
        assert spec["local"] == {"path": cache.path} == {"path": "/var/lib/deepseek/model-cache"}
        assert spec["storageClassName"] == "local-path"
        assert spec["persistentVolumeReclaimPolicy"] == "Retain"
        assert spec["capacity"] == {"storage": f"{cache.size_gb}G"}
        (term,) = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
        (expression,) = term["matchExpressions"]
        assert expression["key"] == "kubernetes.io/hostname"
        gpu_hosts = sorted({node for node, _ in fills[site]})
        assert expression["values"] == gpu_hosts
        serving_hosts = [
            h.name
            for h in next(s for s in prod_config.sites if s.name == site).hosts
            if h.gpu and h.node_pool == "inference"
        ]
        assert gpu_hosts == sorted(serving_hosts)
        claim = claims[site]
        assert spec["claimRef"] == {"namespace": "inference", "name": "model-cache"}
        assert claim.inputs["spec"]["volumeName"] == "deepseek-model-cache"
        assert claim.inputs["spec"]["storageClassName"] == "local-path"
        assert volume.urn in claim.dependencies


def test_triton_reads_the_cache_read_only_and_fill_jobs_write_it(prod_graph, fills):
    for deployment in _serving_deployments(prod_graph):
        pod = deployment.inputs["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert volume["persistentVolumeClaim"] == {"claimName": "model-cache", "readOnly": True}
        for container in pod["containers"] + pod["initContainers"]:
            for mount in container["volumeMounts"]:
                if mount["name"] == volume["name"]:
                    assert mount["readOnly"] is True
        # Nothing in the pod downloads: no store address, no credentials.
        assert not [v for v in pod["volumes"] if "secret" in v]
    for job in fills["dc-a"].values():
        pod = job.inputs["spec"]["template"]["spec"]
        (claim,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert claim["persistentVolumeClaim"] == {"claimName": "model-cache"}


def test_the_store_keys_stay_secret_and_off_the_job_spec(prod_graph, fills):
    secrets = [
        s
        for s in prod_graph.by_type("kubernetes:core/v1:Secret")
        if s.inputs["metadata"]["name"] == "model-cache-fill-credentials"
    ]
    assert len(secrets) == 2
    for secret in secrets:
        assert secret.inputs["stringData"] == SECRET
        assert "stringData" in secret.additional_secret_outputs
    for site_fills in fills.values():
        for job in site_fills.values():
            (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
            env = _env(container)
            assert env["CURL_CONFIG"] == "/etc/model-cache-fill/curlrc"
            assert set(env) == {
                "ENDPOINT",
                "BUCKET",
                "PREFIX",
                "CACHE_DIR",
                "CURL_CONFIG",
                "WORK_DIR",
                "NODE_NAME",
                "HOME",
            }
            assert container["command"] == ["/bin/sh", "/opt/model-cache-fill/model-cache-fill.sh"]


def test_the_fill_reads_the_sites_own_rgw_and_may_reach_nothing_else(prod_graph, fills):
    rgw = {"dc-a": "10.10.2.10", "dc-b": "10.20.2.10"}
    for site, site_fills in fills.items():
        for job in site_fills.values():
            env = _env(job.inputs["spec"]["template"]["spec"]["containers"][0])
            assert env["ENDPOINT"] == f"http://{rgw[site]}:8080"
            assert env["BUCKET"] == "deepseek-models"
    policies = [
        p
        for p in prod_graph.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["name"] == "model-cache-fill"
    ]
    assert len(policies) == 2
    for policy in policies:
        spec = policy.inputs["spec"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "model-cache-fill"
        assert spec["egress"] == [
            {
                "to": [{"ipBlock": {"cidr": f"{rgw[_site_of(prod_graph, policy)]}/32"}}],
                "ports": [{"protocol": "TCP", "port": 8080}],
            }
        ]
        assert "ingress" not in spec and "Ingress" in spec["policyTypes"]


def test_preview_says_the_rgw_is_plain_http_and_what_that_means(prod_graph):
    warnings = [m for s, m in prod_graph.diagnostics if s == "warning" and "plain HTTP" in m]
    assert len(warnings) == 2
    assert "site dc-a: model weights travel from the site's Ceph RGW at 10.10.2.10:8080" in (
        warnings[0] + warnings[1]
    )
    assert all("the secret key never travels" in w and "bank-baseline" in w for w in warnings)


def test_the_serving_output_gives_each_models_load_times(prod_graph):
    for site in ("dc-a", "dc-b"):
        for model in ("r1-qwen-32b", "r1-llama-8b"):
            load = prod_graph.outputs["serving"][site][model]["load"]
            assert load["weightsGB"] > 0 and load["warmLoadSeconds"] > 0
            assert load["coldLoadSeconds"] > 0
            assert load["guide"]["nfsSeconds"] == 127
    qwen = prod_graph.outputs["serving"]["dc-a"]["r1-qwen-32b"]["load"]
    assert qwen["inputs"]["gpuHosts"] == ["dca-gpu-a100-1", "dca-gpu-a100-2"]
    assert qwen["inputs"]["storageNicGbps"] == 100


def _placeholder(key: str) -> dict:
    """An offline placeholder secret, as the committed stack files hold them."""
    message = base64.b64encode(f"run: pulumi config set --secret {key}".encode()).decode()
    return {"secure": f"v1:b2ZmbGluZS1wbGFjZWhvbGRlcg==:{message}"}


def test_an_external_model_store_replaces_the_rgw_at_its_site():
    def external_at_dc_b(config):
        config["sites"][1]["modelStore"] = {
            "endpoint": "https://s3.dc-b.bank.internal",
            "bucket": "bank-models",
            "networks": ["10.20.2.0/24"],
        }
        config["modelStoreAccessKeyId"] = _placeholder("modelStoreAccessKeyId")
        config["modelStoreSecretAccessKey"] = _placeholder("modelStoreSecretAccessKey")

    graph = evaluate_changed(external_at_dc_b)
    endpoints = defaultdict(set)
    for job in graph.by_type(JOB):
        env = _env(job.inputs["spec"]["template"]["spec"]["containers"][0])
        endpoints[_site_of(graph, job)].add((env["ENDPOINT"], env["BUCKET"]))
        if _site_of(graph, job) == "dc-b":
            assert not [u for u in job.dependencies if "CephCluster" in u]
    assert endpoints == {
        "dc-a": {("http://10.10.2.10:8080", "deepseek-models")},
        "dc-b": {("https://s3.dc-b.bank.internal", "bank-models")},
    }
    (policy,) = [
        p
        for p in graph.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["name"] == "model-cache-fill" and _site_of(graph, p) == "dc-b"
    ]
    assert policy.inputs["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.20.2.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    ]
    warnings = [m for s, m in graph.diagnostics if "plain HTTP" in m]
    assert [w.split(":")[0] for w in warnings] == ["site dc-a"]
    load = graph.outputs["serving"]["dc-b"]["r1-qwen-32b"]["load"]
    assert load["inputs"]["storageNicGbps"] is None
