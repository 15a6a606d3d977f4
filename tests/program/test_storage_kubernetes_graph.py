"""The data layer's Kubernetes side in the recorded graphs: ceph-csi and Velero through each
site's own Kubernetes provider, configured from the site's Ceph (ceph-csi) and the other
site's RGW (Velero), with the keys secret in every recorded input, the values keys the charts
read, the StorageClass that keeps data, and the one egress each namespace has."""

from google.protobuf import json_format

from components import contracts
from offline.graph import SECRET
from tests.bad_stacks import evaluate_changed
from tests.unit.test_storage_kubernetes import CEPH_CSI_KEYS, VELERO_KEYS, key_paths
from tools.policy_config import derived_endpoints

SECRET_SIG = "4dabf18193072939515e22adb298388d"
TARGETS = {"dc-a": "dc-b", "dc-b": "dc-a"}
"""prod's backup.targets."""
RELEASE = "kubernetes:helm.sh/v3:Release"


def named(graph, name: str):
    (resource,) = [r for r in graph.resources if r.name == name]
    return resource


def provider(graph, site: str) -> str:
    return named(graph, f"deepseek-{site}-cluster-k8s").urn


def engine(resource) -> dict:
    """The inputs as the engine holds them, secrets opened."""

    def opened(value):
        if isinstance(value, dict):
            if SECRET_SIG in value:
                return opened(value["value"])
            return {k: opened(v) for k, v in value.items()}
        if isinstance(value, list):
            return [opened(v) for v in value]
        return value

    return opened(json_format.MessageToDict(resource.engine_properties))


def leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def test_every_in_cluster_object_goes_through_its_own_sites_provider(prod_graph, prod_config):
    for site in TARGETS:
        own = provider(prod_graph, site)
        for component in (f"deepseek-{site}-ceph-csi", f"deepseek-{site}-velero"):
            children = prod_graph.children(named(prod_graph, component).urn)
            kubernetes = [c for c in children if c.type.startswith("kubernetes:")]
            assert len(kubernetes) >= 7, component
            assert {c.provider for c in kubernetes} == {own}, component
        ceph_csi = named(prod_graph, f"deepseek-{site}-ceph-csi-release")
        velero = named(prod_graph, f"deepseek-{site}-velero-release")
        assert (ceph_csi.inputs["chart"], ceph_csi.inputs["version"]) == (
            "ceph-csi-rbd",
            prod_config.storage.ceph_csi_chart_version,
        )
        assert (velero.inputs["chart"], velero.inputs["version"]) == (
            "velero",
            prod_config.backup.velero_chart_version,
        )
        for release in (ceph_csi, velero):
            assert release.inputs["repositoryOpts"]["repo"] == prod_config.mirrors.chart_repository
            assert release.inputs["namespace"] in (contracts.CEPH_CSI, contracts.VELERO)


def test_ceph_csi_is_configured_from_its_sites_ceph_cluster(prod_graph, prod_config):
    fsids = set()
    for site in TARGETS:
        release = named(prod_graph, f"deepseek-{site}-ceph-csi-release")
        values = release.inputs["values"]
        assert key_paths(values) == CEPH_CSI_KEYS
        (cluster,) = values["csiConfig"]
        spec = next(s for s in prod_config.sites if s.name == site)
        assert cluster["monitors"] == [f"{h.address}:6789" for h in spec.hosts_with_role("storage")]
        storage_class = named(prod_graph, f"deepseek-{site}-ceph-csi-storage-class")
        assert storage_class.inputs["parameters"]["clusterID"] == cluster["clusterID"]
        fsids.add(cluster["clusterID"])
        # The fsid and monitors are Outputs of the site's own Ceph steps, and the release waits
        # for its client key (the cluster's readiness).
        waited = {prod_graph.by_urn()[u].name for u in release.dependencies}
        for step in ("ceph-bootstrap", "ceph-osds", "ceph-client-key"):
            assert f"deepseek-{site}-storage-{step}" in waited, step
        assert not [n for n in waited if n.startswith(f"deepseek-{TARGETS[site]}-")]
        plugin = values["nodeplugin"]["plugin"]["image"]
        assert plugin["tag"] == f"v{prod_config.storage.ceph_csi_chart_version}"
        assert not [v for v in leaves(values) if isinstance(v, str) and "canary" in v]
    assert len(fsids) == 2


def test_the_storage_class_keeps_data_at_its_site(prod_graph, prod_config):
    for spec in prod_config.sites:
        inputs = named(prod_graph, f"deepseek-{spec.name}-ceph-csi-storage-class").inputs
        assert inputs["metadata"]["name"] == "ceph-rbd"
        assert inputs["provisioner"] == "rbd.csi.ceph.com"
        assert inputs["reclaimPolicy"] == "Retain"
        assert inputs["allowVolumeExpansion"] is True
        assert inputs["parameters"]["pool"] == "kubernetes"
        assert inputs["allowedTopologies"] == [
            {"matchLabelExpressions": [{"key": contracts.REGION_LABEL, "values": [spec.region]}]}
        ]


def test_keys_are_secret_in_every_recorded_input(prod_graph):
    for site in TARGETS:
        for secret in (
            "ceph-csi-secret",
            "velero-credentials",
            "velero-repository-password-secret",
        ):
            resource = named(prod_graph, f"deepseek-{site}-{secret}")
            assert resource.inputs["stringData"] == SECRET, secret
            assert "stringData" in resource.additional_secret_outputs
        for release in ("ceph-csi-release", "velero-release"):
            values = named(prod_graph, f"deepseek-{site}-{release}").inputs["values"]
            # Nothing secret in the values, so none of the keys reached Helm.
            assert SECRET not in list(leaves(values)), release
        password = named(prod_graph, f"deepseek-{site}-velero-repository-password")
        assert password.protect
        repository = engine(named(prod_graph, f"deepseek-{site}-velero-repository-password-secret"))
        assert repository["metadata"]["name"] == "velero-repo-credentials"
        assert set(repository["stringData"]) == {"repository-password"}


def test_one_key_pair_per_link_reaches_the_targets_ceph_and_the_sources_velero(prod_graph):
    platform = named(prod_graph, "deepseek").urn
    for source, target in TARGETS.items():
        user = f"deepseek-{target}-rgw-user-velero-{source}"
        keys = [named(prod_graph, f"{user}-{kind}-key") for kind in ("access", "secret")]
        assert all(k.parent == platform and k.retain_on_delete for k in keys)
        step = named(prod_graph, f"deepseek-{target}-storage-velero-{source}-ceph-rgw-user")
        assert step.inputs["stdin"] == SECRET
        assert f"RGW_USER=velero-{source}" in step.inputs["create"]
        assert f"BUCKET=velero-{source}" in step.inputs["create"]
        exported = dict(
            line.removeprefix("export ").split("=", 1)
            for line in engine(step)["stdin"].splitlines()
            if line.startswith("export RGW_")
        )
        credentials = engine(named(prod_graph, f"deepseek-{source}-velero-credentials"))
        assert credentials["stringData"]["cloud"] == (
            "[default]\n"
            f"aws_access_key_id={exported['RGW_ACCESS_KEY']}\n"
            f"aws_secret_access_key={exported['RGW_SECRET_KEY']}\n"
        )


def test_each_sites_backups_go_to_the_other_sites_rgw(prod_graph, prod_config):
    endpoints = derived_endpoints(prod_config)
    for source, target in TARGETS.items():
        release = named(prod_graph, f"deepseek-{source}-velero-release")
        values = release.inputs["values"]
        assert key_paths(values, free=_FREE) - {"schedules.*"} | _schedule_keys(values) == (
            VELERO_KEYS
        )
        (location,) = values["configuration"]["backupStorageLocation"]
        target_spec = next(s for s in prod_config.sites if s.name == target)
        assert location["config"] == {
            "region": target_spec.region,
            "s3ForcePathStyle": "true",
            "s3Url": f"http://{target_spec.storage.rgw_virtual_ip}:{prod_config.storage.rgw.port}",
            "checksumAlgorithm": "",
        }
        # The policy pack's allowed endpoint is the one the program wires, and not the site's own.
        assert endpoints["backupEndpoints"][source] == [location["config"]["s3Url"]]
        assert location["config"]["s3Url"] not in endpoints["siteEndpoints"][source]
        assert location["bucket"] == f"velero-{source}"
        # The endpoint is the target's Ceph's Output: the release waits for its RGW.
        waited = {prod_graph.by_urn()[u].name for u in release.dependencies}
        assert f"deepseek-{target}-storage-ceph-rgw" in waited
        (schedule,) = values["schedules"].values()
        assert schedule["schedule"] == prod_config.backup.schedule
        assert schedule["template"]["ttl"] == f"{prod_config.backup.retention_days * 24}h0m0s"
        assert schedule["template"]["storageLocation"] == location["name"] == target
        assert values["deployNodeAgent"] is True


_FREE = ("configuration.backupStorageLocation[].config", "schedules")


def _schedule_keys(values) -> set[str]:
    return {
        "schedules.*.template.*" if key == "template" else f"schedules.*.{key}"
        for schedule in values["schedules"].values()
        for key in schedule
    }


def test_each_namespace_reaches_only_what_it_needs(prod_graph, prod_config):
    for spec in prod_config.sites:
        site = spec.name
        for namespace, component in (
            (contracts.CEPH_CSI, "ceph-csi"),
            (contracts.VELERO, "velero"),
        ):
            labels = named(prod_graph, f"deepseek-{site}-{component}-namespace").inputs["metadata"]
            assert labels["name"] == namespace
            assert labels["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
            deny = named(prod_graph, f"deepseek-{site}-{component}-default-deny").inputs["spec"]
            assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        ceph = named(prod_graph, f"deepseek-{site}-ceph-csi-allow-ceph").inputs["spec"]
        (rule,) = ceph["egress"]
        assert [p["ipBlock"]["cidr"] for p in rule["to"]] == [
            f"{h.address}/32" for h in spec.hosts_with_role("storage")
        ]
        target = next(s for s in prod_config.sites if s.name == TARGETS[site])
        velero = named(prod_graph, f"deepseek-{site}-velero-allow-backup-target").inputs["spec"]
        assert velero["egress"] == [
            {
                "to": [{"ipBlock": {"cidr": f"{target.storage.rgw_virtual_ip}/32"}}],
                "ports": [{"protocol": "TCP", "port": prod_config.storage.rgw.port}],
            }
        ]


def test_a_site_with_ceph_and_no_target_gets_ceph_csi_only(dr_graph):
    assert [r.name for r in dr_graph.by_type("deepseek:storage:CephCsi")] == [
        "deepseek-dr-ber-ceph-csi"
    ]
    assert dr_graph.by_type("deepseek:storage:Velero") == []
    assert not [r for r in dr_graph.by_type(RELEASE) if r.inputs["chart"] == "velero"]


def test_a_source_built_after_its_target_gets_the_same_endpoint():
    """Rollout order decides which site is built first; the future resolves either way."""

    def dc_b_first(config):
        config["rollout"] = {**config.get("rollout", {}), "siteOrder": ["dc-b", "dc-a"]}

    graph = evaluate_changed(dc_b_first)
    for source, url in (("dc-a", "http://10.20.2.10:8080"), ("dc-b", "http://10.10.2.10:8080")):
        values = named(graph, f"deepseek-{source}-velero-release").inputs["values"]
        assert values["configuration"]["backupStorageLocation"][0]["config"]["s3Url"] == url
