"""Kubernetes per site in the recorded graph: init, control-plane joins, worker joins, the
provider, then add-ons that depend on the provider and not on hosts; secrets stay masked."""

import re

import pytest

CLUSTER = "deepseek:kubernetes:Cluster"
COMMAND = "command:remote:Command"


def site_cluster(graph, site_name):
    (cluster,) = [c for c in graph.by_type(CLUSTER) if c.name == f"deepseek-{site_name}-cluster"]
    steps = {c.name.removeprefix(cluster.name + "-"): c for c in graph.children(cluster.urn)}
    return cluster, steps


@pytest.mark.parametrize("site", ["dc-a", "dc-b"])
def test_bootstrap_runs_init_then_control_planes_then_workers_then_provider(prod_graph, site):
    cluster, steps = site_cluster(prod_graph, site)
    prefix = site.replace("dc-", "dc")
    init = steps[f"{prefix}-cp-1-kubeadm-init"]
    cp2, cp3 = steps[f"{prefix}-cp-2-kubeadm-join"], steps[f"{prefix}-cp-3-kubeadm-join"]
    assert init.urn in cp2.dependencies
    assert cp2.urn in cp3.dependencies  # one etcd member at a time
    workers = [s for n, s in steps.items() if n.endswith("-kubeadm-join") and "-cp-" not in n]
    assert len(workers) == 6
    for worker in workers:
        assert cp3.urn in worker.dependencies
        assert "CONTROL_PLANE=false" in worker.inputs["create"]
    api_ready = steps["api-ready"]
    assert {cp3.urn, *(w.urn for w in workers)} <= set(api_ready.dependencies)
    provider = steps["k8s"]
    assert provider.type == "pulumi:providers:kubernetes"
    assert api_ready.urn in provider.dependencies
    assert provider.inputs["kubeconfig"] == "[secret]"


def test_each_join_waits_for_its_own_host_only(prod_graph):
    hosts = {h.name: h for h in prod_graph.by_type("deepseek:metal:Host")}
    host_steps = {
        c.urn: c.parent
        for c in prod_graph.by_type(COMMAND)
        if c.parent in {h.urn for h in hosts.values()}
    }
    for cluster in prod_graph.by_type(CLUSTER):
        for step in prod_graph.children(cluster.urn):
            if not step.name.endswith(("-kubeadm-join", "-kubeadm-init")):
                continue
            owners = {host_steps[d] for d in step.dependencies if d in host_steps}
            host_name = step.name.removeprefix(cluster.name.removesuffix("-cluster") + "-")
            host_name = host_name.removeprefix("cluster-").rsplit("-kubeadm-", 1)[0]
            (owner,) = owners
            assert prod_graph.by_urn()[owner].name.endswith(f"-{host_name}")


def test_addons_depend_on_the_provider_not_on_hosts(prod_graph):
    # Ceph's steps are the data layer's: ceph-csi and Velero wait for their Outputs (fsid,
    # monitors, client key, RGW endpoint), which is the point of passing Outputs. So is the
    # model cache's directory on each GPU host: its volume and fill Jobs wait for it (the
    # kubelet never makes a local volume's path).
    data_layer = {
        c.urn
        for kind in ("deepseek:storage:CephCluster", "deepseek:storage:ModelCache")
        for c in prod_graph.by_type(kind)
    }
    host_urns = {c.urn for c in prod_graph.by_type(COMMAND) if c.parent not in data_layer}
    providers = {p.urn: p for p in prod_graph.by_type("pulumi:providers:kubernetes")}
    in_cluster = [r for r in prod_graph.resources if r.type.startswith("kubernetes:")]
    assert len(in_cluster) > 50
    for resource in in_cluster:
        assert resource.provider in providers, resource.name
        assert not host_urns & set(resource.dependencies), resource.name
        # Under a site (its cluster, or a layer component), through that site's provider.
        cluster_of_provider = providers[resource.provider].parent
        site_of_provider = prod_graph.by_urn()[cluster_of_provider].parent
        assert site_of_provider in prod_graph.ancestors(resource.urn)


def test_join_token_certificate_key_and_kubeconfig_never_appear(prod_graph):
    snapshot = prod_graph.snapshot_json()
    for command in prod_graph.by_type(COMMAND):
        if "kubeadm-init" in command.name or "kubeadm-join" in command.name:
            assert command.inputs["stdin"] == "[secret]"
            assert "KUBEADM_TOKEN=" not in command.inputs["create"]
    # Key material itself, not the words: lib.sh (in every step's stdin) names
    # client-key-data in the code that masks it (tests/program/test_secrets.py scans for
    # every secret value).
    assert not re.search(r"client-key-data: *[A-Za-z0-9+/=]{16}", snapshot)
    for secret_output in ("BEGIN RSA", "BEGIN PRIVATE", "__KUBEADM_TOKEN__:"):
        assert secret_output not in snapshot
    # The rendered kubeadm configuration holds placeholders, never the token itself.
    assert "__KUBEADM_TOKEN__" in snapshot
    for password in prod_graph.by_type("random:index/randomPassword:RandomPassword"):
        assert set(password.inputs) >= {"length", "special", "upper"}


def test_helm_releases_come_from_the_internal_chart_mirror(prod_graph):
    releases = prod_graph.by_type("kubernetes:helm.sh/v3:Release")
    assert {r.inputs["chart"] for r in releases} == {
        "tigera-operator",
        "gpu-operator",
        "training-operator",
        "prometheus-adapter",
        "cert-manager",
        "metallb",
        "gateway-helm",
        "ceph-csi-rbd",
        "velero",
    }
    for release in releases:
        assert release.inputs["repositoryOpts"]["repo"] == "https://charts.bank.internal/stable"


def test_gpu_operator_gets_a_sharing_profile_per_model(prod_graph):
    (config_map, *_) = [
        r
        for r in prod_graph.by_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"]["name"] == "device-plugin-sharing"
    ]
    assert set(config_map.inputs["data"]) == {"A100-80GB", "V100-32GB"}
    # prod serves on whole GPUs; time-slicing's own entry is checked in the unit tests.
    assert "sharing" not in config_map.inputs["data"]["V100-32GB"]
    (release, *_) = [
        r
        for r in prod_graph.by_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["chart"] == "gpu-operator"
    ]
    values = release.inputs["values"]
    assert values["dcgmExporter"]["enabled"] is True
    assert values["driver"]["enabled"] is False  # the driver is on the host in prod


def test_the_training_example_is_opt_in(prod_graph, dr_graph):
    assert len(prod_graph.by_type("kubernetes:kubeflow.org/v1:MPIJob")) == 2
    assert dr_graph.by_type("kubernetes:kubeflow.org/v1:MPIJob") == []
    (job, *_) = prod_graph.by_type("kubernetes:kubeflow.org/v1:MPIJob")
    spec = job.inputs["spec"]
    assert spec["slotsPerWorker"] == 8
    assert set(spec["mpiReplicaSpecs"]) == {"Launcher", "Worker"}
    worker = spec["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert worker["image"].startswith("registry.bank.internal/deepseek/")
    assert worker["resources"]["requests"] == worker["resources"]["limits"]


def test_kubeconfigs_are_exported_as_secrets(prod_graph):
    assert set(prod_graph.outputs["kubeconfigs"]) == {"dc-a", "dc-b"}
    assert set(prod_graph.outputs["kubeconfigs"].values()) == {"[secret]"}
