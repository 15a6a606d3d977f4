"""The HDFS data-lake sync in prod's graph with `backup.dataLake` set: one DistCp CronJob per
site, each pulling the other site's part of the lake to the same path on its own namenode
(`-update`, never `-delete`), its pods allowed out only to the lakes' networks and ports, a
preview warning that it runs without Kerberos; and a lake config the sync cannot serve refused
before any resource exists, naming each field."""

import copy
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from offline.evaluate import record
from offline.manifests import site_directories
from tests.bad_stacks import PROJECT, evaluate_changed, project_with_stack_file
from tests.paths import PROJECT_DIR

CRONJOB = "kubernetes:batch/v1:CronJob"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
SYNC = "deepseek:storage:DataLakeSync"
LAKE_NETWORKS = {"dc-a": "10.10.8.0/24", "dc-b": "10.20.8.0/24"}
DATA_LAKE = {
    "namenodes": {
        "dc-a": "hdfs://nn.dc-a.bank.internal:8020/lake/dc-a",
        "dc-b": "hdfs://nn.dc-b.bank.internal:9000/lake/dc-b/",
    },
    "schedule": "15 1 * * *",
    "image": "apache/hadoop:3.4.1",
    "networks": sorted(LAKE_NETWORKS.values()),
}


def with_data_lake(config: dict, data_lake: dict = DATA_LAKE) -> None:
    """prod with the lake of each active site, its networks on both sites' egress lists."""
    config["backup"]["dataLake"] = copy.deepcopy(data_lake)
    for site in config["sites"]:
        site["network"]["egressAllowList"] += sorted(LAKE_NETWORKS.values())


@pytest.fixture(scope="module")
def lake_graph():
    return evaluate_changed(with_data_lake)


def _ancestor(graph, resource, type_):
    by_urn = graph.by_urn()
    for urn in graph.ancestors(resource.urn):
        if by_urn[urn].type == type_:
            return by_urn[urn]
    return None


def _site_of(graph, resource) -> str:
    """The name in config of the site the resource hangs under."""
    sites = site_directories(graph)
    (site,) = [sites[urn] for urn in graph.ancestors(resource.urn) if urn in sites]
    return site


def _lake_jobs(graph) -> list:
    """The sync's CronJobs (the bucket copies' live in a namespace of their own)."""
    return [j for j in graph.by_type(CRONJOB) if j.inputs["metadata"]["namespace"] == "data-lake"]


def _jobs(graph) -> dict[str, dict]:
    return {_site_of(graph, job): job for job in _lake_jobs(graph)}


def test_one_cronjob_per_site_pulls_the_peers_part_to_the_same_path_here(lake_graph):
    jobs = _jobs(lake_graph)
    assert sorted(jobs) == ["dc-a", "dc-b"]
    copies = {}
    for site, job in jobs.items():
        assert job.inputs["metadata"]["namespace"] == "data-lake"
        (container,) = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        command = container["command"]
        assert command[:2] == ["hadoop", "distcp"]
        assert "-update" in command
        # A deletion at one site never propagates by itself.
        assert "-delete" not in command and "-overwrite" not in command
        assert "mapreduce.framework.name=local" in command
        copies[site] = (command[-2], command[-1])
        assert container["image"] == "registry.bank.internal/deepseek/apache/hadoop:3.4.1"
    # Each site reads the other's part and writes it at its own namenode, same path: the
    # two jobs write disjoint trees (dc-b's URL loses its trailing '/', its port stays).
    assert copies == {
        "dc-a": (
            "hdfs://nn.dc-b.bank.internal:9000/lake/dc-b",
            "hdfs://nn.dc-a.bank.internal:8020/lake/dc-b",
        ),
        "dc-b": (
            "hdfs://nn.dc-a.bank.internal:8020/lake/dc-a",
            "hdfs://nn.dc-b.bank.internal:9000/lake/dc-a",
        ),
    }


def test_schedule_and_bounds_of_each_run(lake_graph):
    for job in _jobs(lake_graph).values():
        spec = job.inputs["spec"]
        assert spec["schedule"] == DATA_LAKE["schedule"]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 3
        job_spec = spec["jobTemplate"]["spec"]
        assert 0 < job_spec["activeDeadlineSeconds"] <= 24 * 3600
        assert job_spec["backoffLimit"] == 2
        pod = job_spec["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"]["memory"]


def test_each_site_component_goes_through_its_own_cluster(lake_graph):
    syncs = lake_graph.by_type(SYNC)
    assert sorted(_site_of(lake_graph, sync) for sync in syncs) == ["dc-a", "dc-b"]
    # The provider the site's baseline namespaces go through.
    clusters = {
        _site_of(lake_graph, ns): ns.provider
        for ns in lake_graph.by_type(NAMESPACE)
        if ns.inputs["metadata"]["name"] == "inference"
    }
    assert len(set(clusters.values())) == 2
    lake_resources = [
        r for r in lake_graph.resources if r.custom and _ancestor(lake_graph, r, SYNC) is not None
    ]
    assert {r.type for r in lake_resources} == {CRONJOB, NETPOL, NAMESPACE}
    for resource in lake_resources:
        assert resource.provider == clusters[_site_of(lake_graph, resource)]


def test_the_jobs_reach_only_the_lakes_networks_and_ports(lake_graph):
    by_site: dict[str, dict[str, dict]] = {}
    for policy in lake_graph.by_type(NETPOL):
        if policy.inputs["metadata"]["namespace"] == "data-lake":
            by_site.setdefault(_site_of(lake_graph, policy), {})[
                policy.inputs["metadata"]["name"]
            ] = policy.inputs["spec"]
    assert sorted(by_site) == ["dc-a", "dc-b"]
    for policies in by_site.values():
        assert sorted(policies) == ["allow-data-lake", "allow-dns", "default-deny"]
        deny = policies["default-deny"]
        assert deny["podSelector"] == {} and "egress" not in deny and "ingress" not in deny
        allow = policies["allow-data-lake"]
        assert allow["policyTypes"] == ["Egress"]
        (rule,) = allow["egress"]
        assert sorted(peer["ipBlock"]["cidr"] for peer in rule["to"]) == DATA_LAKE["networks"]
        # Both namenodes' RPC ports (from their URLs), the datanodes' transfer and IPC ports.
        assert sorted(port["port"] for port in rule["ports"]) == [8020, 9000, 9866, 9867]
        assert "ingress" not in allow


def test_the_jobs_pods_are_the_ones_the_policy_selects(lake_graph):
    for job in _lake_jobs(lake_graph):
        site = _site_of(lake_graph, job)
        labels = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        (policy,) = [
            p
            for p in lake_graph.by_type(NETPOL)
            if p.inputs["metadata"]["name"] == "allow-data-lake" and _site_of(lake_graph, p) == site
        ]
        selector = policy.inputs["spec"]["podSelector"]["matchLabels"]
        assert selector.items() <= labels.items()
        assert job.dependencies and policy.urn in job.dependencies


@pytest.mark.parametrize("site", ["dc-a", "dc-b"])
def test_preview_warns_that_the_sync_runs_without_kerberos(lake_graph, site):
    (warning,) = [
        message
        for severity, message in lake_graph.diagnostics
        if severity == "warning" and f"data-lake sync at site {site}" in message
    ]
    assert "without Kerberos" in warning
    assert "keytab Secret from secret config" in warning


def test_prod_without_a_lake_has_no_sync(prod_graph, prod_config):
    assert prod_config.backup.data_lake is None
    assert prod_graph.by_type(SYNC) == []
    assert not any(
        r.inputs.get("metadata", {}).get("namespace") == "data-lake" for r in prod_graph.resources
    )


def _refused(change) -> str:
    """The error of prod with `change(config)` applied, through the program's real path."""
    stack_file = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    config = {key.split(":", 1)[1]: value for key, value in stack_file["config"].items()}
    change(config)
    stack_file["config"] = {f"{PROJECT}:{key}": value for key, value in config.items()}
    directory = Path(tempfile.mkdtemp(prefix="refused-lake-"))
    try:
        project_with_stack_file(directory, "prod", yaml.safe_dump(stack_file))
        graph, error = record("prod", project_dir=directory)
    finally:
        shutil.rmtree(directory)
    assert error is not None
    assert not any(r.type.startswith("kubernetes:") for r in graph.resources)
    return str(error)


def test_a_lake_the_sync_cannot_serve_is_refused_naming_each_field():
    def bad(config):
        with_data_lake(
            config,
            {
                **DATA_LAKE,
                "namenodes": {
                    "dc-a": "hdfs://nn.dc-a.example.com:8020/lake",
                    "dc-b": "hdfs://nn.dc-b.bank.internal/lake",
                },
                "networks": [*DATA_LAKE["networks"], "10.30.8.0/24"],
            },
        )

    error = _refused(bad)
    # Outside the bank's domains.
    assert "backup.dataLake.namenodes.dc-a = 'hdfs://nn.dc-a.example.com:8020/lake'" in error
    assert "namenode nn.dc-a.example.com is not inside the internal domains" in error
    # Both sites write /lake: each job would overwrite the other site's own data.
    assert "backup.dataLake.namenodes.dc-b = 'hdfs://nn.dc-b.bank.internal/lake'" in error
    assert "e.g. /lake/dc-a and /lake/dc-b" in error
    # A network off the egress allow-lists, once per site.
    assert error.count("backup.dataLake.networks[2] = '10.30.8.0/24'") == 2
    assert "add it to sites[0].network.egressAllowList" in error


def test_a_lake_at_one_site_or_at_an_unknown_site_is_refused():
    def bad(config):
        with_data_lake(
            config,
            {**DATA_LAKE, "namenodes": {"dc-c": "hdfs://nn.dc-c.bank.internal:8020/lake/dc-c"}},
        )

    error = _refused(bad)
    assert "backup.dataLake.namenodes.dc-c" in error
    assert "dc-c is not an active site of this stack" in error
    assert "a sync needs a lake at two sites at least" in error


def test_a_lake_across_jurisdictions_is_refused():
    def bad(config):
        with_data_lake(config)
        config["sites"][1]["jurisdiction"] = "AT"

    error = _refused(bad)
    assert "backup.dataLake.namenodes = 'dc-a (DE), dc-b (AT)'" in error
    assert "would copy each site's data into another jurisdiction" in error


def test_a_namenode_port_out_of_range_is_refused_at_the_field():
    def bad(config):
        lake = copy.deepcopy(DATA_LAKE)
        lake["namenodes"]["dc-b"] = "hdfs://nn.dc-b.bank.internal:70000/lake/dc-b"
        with_data_lake(config, lake)

    error = _refused(bad)
    assert "backup.dataLake.namenodes" in error
    assert (
        "dc-b: port 70000 of hdfs://nn.dc-b.bank.internal:70000/lake/dc-b is not a TCP port"
        in error
    )
