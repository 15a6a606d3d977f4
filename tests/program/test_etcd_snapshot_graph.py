"""Off-site etcd snapshots and the model cache's directory in the recorded graphs: an
etcd-snapshot step on every control plane of a site with a backup target and nowhere else,
after the cluster, writing to the target's RGW with a key pair of its own (made by the
platform, reaching the target's bucket user) and the site's protected key, all secret; the
3-2-1 audit counting the snapshots exactly where they exist; and the model-cache-dir step on
exactly the hosts the cache's volume names, before the volume and each fill Job."""

import pytest

from components.kubernetes.etcd_snapshot_spec import SNAPSHOT_SCRIPT, service_unit, timer_unit
from components.remote.steps import parse_shell_command, script_digest, step_script
from components.storage.model_cache_manifests import CACHE_UID
from components.storage.protection import audit, etcd_snapshot_targets
from offline.graph import SECRET
from tests.bad_stacks import evaluate_changed
from tests.program.test_storage_kubernetes_graph import engine

COMMAND = "command:remote:Command"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
RGW = {"dc-a": "http://10.10.2.10:8080", "dc-b": "http://10.20.2.10:8080"}
"""Each prod site's RGW endpoint (its rgwVirtualIp, storage.rgw.port)."""


def steps_of(graph, name: str) -> list:
    digest = script_digest(step_script(name))
    return [c for c in graph.by_type(COMMAND) if c.inputs.get("triggers", [None])[0] == digest]


def site_of(graph, resource) -> str:
    sites = {r.urn: r.name.removeprefix("deepseek-") for r in graph.by_type("deepseek:site:Site")}
    return next(sites[a] for a in graph.ancestors(resource.urn) if a in sites)


def host_of(resource, config) -> str:
    """The host a Command runs on: its connection's address (a secret input), as the engine
    holds it."""
    address = engine(resource)["connection"]["host"]
    (name,) = [h.name for s in config.sites for h in s.hosts if str(h.address) == address]
    return name


def snapshot_sites(graph) -> dict[str, set[str]]:
    """Site → the hosts its etcd-snapshot steps run on (by the step's NODE)."""
    found: dict[str, set[str]] = {}
    for command in steps_of(graph, "etcd-snapshot"):
        node = parse_shell_command(command.inputs["create"])["NODE"]
        found.setdefault(site_of(graph, command), set()).add(node)
    return found


# --- etcd snapshots ------------------------------------------------------------------------------
def test_one_step_per_control_plane_of_a_site_with_a_target(prod_graph, prod_config):
    targets = etcd_snapshot_targets(prod_config)
    assert targets == {"dc-a": "dc-b", "dc-b": "dc-a"}
    assert snapshot_sites(prod_graph) == {
        site.name: {h.name for h in site.hosts_with_role("control-plane")}
        for site in prod_config.sites
    }
    backup = prod_config.backup
    for command in steps_of(prod_graph, "etcd-snapshot"):
        site = site_of(prod_graph, command)
        environment = parse_shell_command(command.inputs["create"])
        # It runs on the control plane it names, and writes to the other site's RGW.
        assert host_of(command, prod_config) == environment["NODE"]
        assert environment["RGW_ENDPOINT"] == RGW[targets[site]]
        assert environment["BUCKET"] == f"etcd-{site}"
        assert environment["RETENTION_DAYS"] == str(backup.retention_days)
        assert environment["SNAPSHOT_SCRIPT"] == SNAPSHOT_SCRIPT.read_text()
        assert environment["SERVICE_UNIT"] == service_unit()
        assert environment["TIMER_UNIT"] == timer_unit(backup.etcd_snapshot_hours)
        assert (
            f"OnCalendar=*-*-* 00/{backup.etcd_snapshot_hours}:00:00" in environment["TIMER_UNIT"]
        )
        # Declarative: re-run (replaced) when an input changes, never ignoring one.
        assert command.ignore_changes == ()
        assert command.parent == prod_graph.named(f"deepseek-{site}-etcd-snapshots").urn


def test_it_runs_after_the_cluster_and_the_hosts_own_steps(prod_graph, prod_config):
    for command in steps_of(prod_graph, "etcd-snapshot"):
        site = site_of(prod_graph, command)
        host = parse_shell_command(command.inputs["create"])["NODE"]
        assert prod_graph.named(f"deepseek-{site}-cluster-k8s").urn in command.dependencies
        assert prod_graph.named(f"deepseek-{site}-{host}-container-runtime").urn in (
            command.dependencies
        )


def test_no_snapshots_without_a_target_and_the_audit_says_so(dr_graph, dr_config):
    """dr has Ceph and control planes, and no backup target: nothing to snapshot to."""
    assert etcd_snapshot_targets(dr_config) == {}
    assert steps_of(dr_graph, "etcd-snapshot") == []
    assert dr_graph.by_type("deepseek:kubernetes:EtcdSnapshots") == []
    (state,) = [d for d in audit(dr_config) if d.name.startswith("cluster-state/")]
    assert not [c for c in state.copies if c.store.startswith("etcd snapshots")]
    assert not state.output()["offSite"]
    assert any("off-site copy" in s.text for s in state.shortfalls)


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_the_audit_counts_snapshots_exactly_where_the_graph_has_them(
    stack, stack_graph, stack_config
):
    config, graph = stack_config(stack), stack_graph(stack)
    counted = {
        d.home: next(c.site for c in d.copies if c.store.startswith("etcd snapshots"))
        for d in audit(config)
        if d.name.startswith("cluster-state/")
        and any(c.store.startswith("etcd snapshots") for c in d.copies)
    }
    built = {}
    for command in steps_of(graph, "etcd-snapshot"):
        endpoint = parse_shell_command(command.inputs["create"])["RGW_ENDPOINT"]
        (target,) = [
            s.name
            for s in config.sites
            if s.storage
            and endpoint == f"http://{s.storage.rgw_virtual_ip}:{config.storage.rgw.port}"
        ]
        built[site_of(graph, command)] = target
    assert counted == built


def test_the_keys_are_secret_and_the_sites_key_protected(prod_graph):
    for site in ("dc-a", "dc-b"):
        key = prod_graph.named(f"deepseek-{site}-etcd-snapshots-key")
        assert key.type == RANDOM_PASSWORD and key.protect
        assert key.inputs["length"] >= 32 and key.inputs["special"] is False
    for command in steps_of(prod_graph, "etcd-snapshot"):
        # The three secrets arrive as export lines on stdin: a secret input, never the
        # command line.
        assert command.inputs["stdin"] == SECRET
        assert not {"ETCD_SNAPSHOT_KEY", "RGW_ACCESS_KEY", "RGW_SECRET_KEY"} & set(
            parse_shell_command(command.inputs["create"])
        )
    snapshots = prod_graph.by_type("deepseek:kubernetes:EtcdSnapshots")
    assert {r.name for r in snapshots} == {
        "deepseek-dc-a-etcd-snapshots",
        "deepseek-dc-b-etcd-snapshots",
    }
    for component in snapshots:
        assert set(component.inputs) == {"target", "bucket"}  # no secret among its props


def test_one_key_pair_per_link_reaches_the_targets_bucket_user_and_the_sources_steps(
    prod_graph,
):
    for source, target in (("dc-a", "dc-b"), ("dc-b", "dc-a")):
        access = prod_graph.named(f"deepseek-{target}-rgw-user-etcd-{source}-access-key")
        secret = prod_graph.named(f"deepseek-{target}-rgw-user-etcd-{source}-secret-key")
        velero = prod_graph.named(f"deepseek-{target}-rgw-user-velero-{source}-access-key")
        for key in (access, secret):
            assert key.type == RANDOM_PASSWORD and key.retain_on_delete
        user = prod_graph.named(f"deepseek-{target}-storage-etcd-{source}-ceph-rgw-user")
        environment = parse_shell_command(user.inputs["create"])
        assert (environment["RGW_USER"], environment["BUCKET"]) == (
            f"etcd-{source}",
            f"etcd-{source}",
        )
        assert {access.urn, secret.urn} <= set(user.dependencies)
        assert velero.urn not in user.dependencies
        for command in steps_of(prod_graph, "etcd-snapshot"):
            if site_of(prod_graph, command) == source:
                assert {access.urn, secret.urn} <= set(command.dependencies)
                assert velero.urn not in command.dependencies
                # The endpoint came through the target's Ceph (its RGW step).
                rgw = prod_graph.named(f"deepseek-{target}-storage-ceph-rgw")
                assert rgw.urn in command.dependencies
        # Velero's own user is still there, with its own keys.
        velero_user = prod_graph.named(f"deepseek-{target}-storage-velero-{source}-ceph-rgw-user")
        assert velero.urn in velero_user.dependencies


def test_a_source_built_after_its_target_gets_the_same_endpoint():
    def dc_b_first(config):
        config["rollout"] = {**config.get("rollout", {}), "siteOrder": ["dc-b", "dc-a"]}

    graph = evaluate_changed(dc_b_first)
    for source, target in (("dc-a", "dc-b"), ("dc-b", "dc-a")):
        commands = [c for c in steps_of(graph, "etcd-snapshot") if site_of(graph, c) == source]
        assert len(commands) == 3
        for command in commands:
            assert parse_shell_command(command.inputs["create"])["RGW_ENDPOINT"] == RGW[target]


def test_a_schedule_that_does_not_divide_a_day_counts_from_the_last_run():
    def every_five_hours(config):
        config["backup"] = {**config["backup"], "etcdSnapshotHours": 5}

    graph = evaluate_changed(every_five_hours)
    for command in steps_of(graph, "etcd-snapshot"):
        timer = parse_shell_command(command.inputs["create"])["TIMER_UNIT"]
        assert "OnUnitActiveSec=5h" in timer and "OnCalendar" not in timer


# --- the model cache's directory ----------------------------------------------------------------
def test_the_directory_is_made_on_exactly_the_hosts_the_volume_names(prod_graph, prod_config):
    volumes = {
        site_of(prod_graph, v): v
        for v in prod_graph.by_type("kubernetes:core/v1:PersistentVolume")
        if v.name.endswith("-model-cache-volume")
    }
    assert set(volumes) == {"dc-a", "dc-b"}
    made: dict[str, dict[str, object]] = {}
    for command in steps_of(prod_graph, "model-cache-dir"):
        made.setdefault(site_of(prod_graph, command), {})[host_of(command, prod_config)] = command
    for site, volume in volumes.items():
        spec = volume.inputs["spec"]
        (term,) = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
        (expression,) = term["matchExpressions"]
        assert set(made[site]) == set(expression["values"])
        hosts = {h.name: h for s in prod_config.sites for h in s.hosts}
        for host, command in made[site].items():
            assert hosts[host].gpu and hosts[host].node_pool == "inference"
            environment = parse_shell_command(command.inputs["create"])
            assert environment == {"CACHE_PATH": spec["local"]["path"], "CACHE_UID": str(CACHE_UID)}
            assert environment["CACHE_PATH"] == prod_config.storage.model_cache.path
            # An install step, run again when the path changes (the volume moves with it).
            assert set(command.ignore_changes) >= {"create", "connection", "triggers[1]"}
            assert command.inputs["triggers"][2] == environment["CACHE_PATH"]
            # The volume waits for every host's directory.
            assert command.urn in volume.dependencies


def test_each_fill_job_waits_for_its_own_hosts_directory(prod_graph, prod_config):
    directories = {host_of(c, prod_config): c.urn for c in steps_of(prod_graph, "model-cache-dir")}
    jobs = [
        j
        for j in prod_graph.by_type("kubernetes:batch/v1:Job")
        if j.inputs["metadata"]["name"].startswith("fill-")
    ]
    assert jobs
    for job in jobs:
        pod = job.inputs["spec"]["template"]["spec"]
        node = pod["nodeSelector"]["kubernetes.io/hostname"]
        assert directories[node] in job.dependencies
        assert pod["securityContext"]["runAsUser"] == CACHE_UID
