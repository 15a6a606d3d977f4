"""Ceph per site in the recorded graph (components/storage/ceph_cluster.py): each storage host
prepared after its own OS steps, the cluster bootstrapped on the first one, the others added
after their own preparation, then monitors and OSDs, pools, RGW, the S3 users and the client
key, in that order; no edge across sites or between unrelated storage hosts; the keys secret
end to end and protected; the fsid and the other attributes read from the steps' results; and
where data lands by device class: the OSDs' classes from their disks, the RBD pool on the
fastest class, every bucket of another site's backups (Velero's, etcd snapshots') on the backup
placement whose pool ceph-pools puts on HDD, as the 3-2-1 audit counts them."""

import re
import uuid

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime import rpc

from components.config import PlatformConfig
from components.remote.runner import StepFailed
from components.remote.steps import parse_shell_command, step_by_digest
from components.storage.protection import audit
from offline.evaluate import record
from offline.hardware import HardwareFaults
from tests.stacks import raw_stack_config

CEPH = "deepseek:storage:CephCluster"
HOST = "deepseek:metal:Host"
COMMAND = "command:remote:Command"
SITES = {"dc-a": "dca", "dc-b": "dcb"}


def ceph(graph, site: str):
    (cluster,) = [c for c in graph.by_type(CEPH) if c.name == f"deepseek-{site}-storage"]
    return cluster


def steps(graph, site: str) -> dict[str, object]:
    """The cluster's Commands by name without the component's prefix."""
    cluster = ceph(graph, site)
    return {
        c.name.removeprefix(cluster.name + "-"): c
        for c in graph.children(cluster.urn)
        if c.type == COMMAND
    }


def step_name(command) -> str:
    return step_by_digest()[command.inputs["triggers"][0]].name


def host_last_step(graph, host: str):
    """The host's container-runtime step (its last on a storage host)."""
    (component,) = [h for h in graph.by_type(HOST) if h.name.endswith(f"-{host}")]
    (runtime,) = [c for c in graph.children(component.urn) if c.name.endswith("-container-runtime")]
    return runtime


@pytest.mark.parametrize("site", SITES)
def test_each_site_runs_the_ordered_chain(prod_graph, site):
    prefix = SITES[site]
    first, *others = (f"{prefix}-ceph-{n}" for n in (1, 2, 3))
    s = steps(prod_graph, site)
    assert {step_name(c) for c in s.values()} == {
        "ceph-host-prep",
        "ceph-bootstrap",
        "ceph-host-add",
        "ceph-osds",
        "ceph-pools",
        "ceph-rgw",
        "ceph-rgw-user",
        "ceph-client-key",
    }
    bootstrap = s["ceph-bootstrap"]
    # The first host: its OS steps, then host-prep, then the bootstrap.
    assert host_last_step(prod_graph, first).urn in s[f"{first}-ceph-host-prep"].dependencies
    assert s[f"{first}-ceph-host-prep"].urn in bootstrap.dependencies
    adds = []
    for host in others:
        prep, add = s[f"{host}-ceph-host-prep"], s[f"{host}-ceph-host-add"]
        # Its own OS steps and the bootstrap (cephadm's key), then it is added.
        assert host_last_step(prod_graph, host).urn in prep.dependencies
        assert bootstrap.urn in prep.dependencies
        assert {prep.urn, bootstrap.urn} <= set(add.dependencies)
        adds.append(add.urn)
    osds, pools, rgw = s["ceph-osds"], s["ceph-pools"], s["ceph-rgw"]
    assert {bootstrap.urn, *adds} <= set(osds.dependencies)
    assert osds.urn in pools.dependencies
    assert pools.urn in rgw.dependencies
    user = s["model-store-ceph-rgw-user"]
    assert rgw.urn in user.dependencies
    assert {rgw.urn, user.urn} <= set(s["ceph-client-key"].dependencies)


def connected_to(command) -> str:
    """The host a Command connects to (the connection is a secret: it holds the deploy key)."""
    connection = json_format.MessageToDict(command.engine_properties)["connection"]
    assert connection[rpc._special_sig_key] == rpc._special_secret_sig
    return connection["value"]["host"]


def test_site_level_steps_run_on_the_first_storage_host_and_host_prep_on_its_own(prod_graph):
    addresses = {h.name.split("-", 3)[3]: h.inputs["address"] for h in prod_graph.by_type(HOST)}
    for site, prefix in SITES.items():
        first = f"{prefix}-ceph-1"
        for name, command in steps(prod_graph, site).items():
            assert command.inputs["connection"] == "[secret]"
            assert command.provider.endswith(f"deepseek-{site}-command"), command.provider
            if name.endswith("-ceph-host-prep"):
                assert connected_to(command) == addresses[name.removesuffix("-ceph-host-prep")]
            else:
                # ceph-host-add too: the first host (the manager, the admin keyring) adds.
                assert connected_to(command) == addresses[first], name
        bootstrap = parse_shell_command(steps(prod_graph, site)["ceph-bootstrap"].inputs["create"])
        assert (bootstrap["MON_IP"], bootstrap["HOST_NAME"]) == (addresses[first], first)


def _storage_closure(graph, command, layer: set[str]) -> set[str]:
    """The storage-layer Commands `command` waits for, directly or through others."""
    by_urn = graph.by_urn()
    seen: set[str] = set()
    todo = [command.urn]
    while todo:
        for dependency in by_urn[todo.pop()].dependencies:
            if dependency in layer and dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def test_no_edge_across_sites_or_between_unrelated_storage_hosts(prod_graph):
    by_urn = prod_graph.by_urn()
    layer = {
        c.urn
        for cluster in prod_graph.by_type(CEPH)
        for c in prod_graph.children(cluster.urn)
        if c.type == COMMAND
    }
    for site, prefix in SITES.items():
        own = f"deepseek-{site}-"
        for name, command in steps(prod_graph, site).items():
            for dependency in command.dependencies:
                assert by_urn[dependency].name.startswith(own), (command.name, dependency)
            waited = {by_urn[u].name for u in _storage_closure(prod_graph, command, layer)}
            assert all(n.startswith(own) for n in waited), (command.name, waited)
            # A host's own steps wait for no other host's preparation or addition.
            for host in (f"{prefix}-ceph-2", f"{prefix}-ceph-3"):
                other = ({f"{prefix}-ceph-2", f"{prefix}-ceph-3"} - {host}).pop()
                if name in (f"{host}-ceph-host-prep", f"{host}-ceph-host-add"):
                    assert not [n for n in waited if f"-{other}-" in n], (name, waited)


def test_storage_waits_for_no_kubernetes_step(prod_graph):
    """Ceph is apart from Kubernetes: no storage step waits for the cluster or its rollout."""
    kubernetes = {
        r.urn
        for r in prod_graph.resources
        if r.type.startswith(("deepseek:kubernetes:", "kubernetes:", "pulumi:providers:kube"))
        or "-cluster-" in r.name
    }
    for site in SITES:
        for command in steps(prod_graph, site).values():
            assert not set(command.dependencies) & kubernetes, command.name


def test_the_keys_are_secret_in_every_recorded_input_and_output(prod_graph):
    for site in SITES:
        cluster = ceph(prod_graph, site)
        s = steps(prod_graph, site)
        user = s["model-store-ceph-rgw-user"]
        # The keys reach the script as `export` lines on its stdin, a secret.
        assert user.inputs["stdin"] == "[secret]"
        environment = parse_shell_command(user.inputs["create"])
        assert set(environment) == {"RGW_USER", "BUCKET", "PLACEMENT", "RGW_ENDPOINT"}
        for command in (user, s["ceph-client-key"]):
            assert "stdout" in command.additional_secret_outputs, command.name
            assert command.inputs["logging"] == "stderr"
        outputs = prod_graph.component_outputs[cluster.urn]
        for secret in ("csiKey", "modelStoreAccessKeyId", "modelStoreSecretAccessKey"):
            assert outputs[secret] == "[secret]", secret
        for key in ("access-key", "secret-key"):
            password = prod_graph.named(f"{cluster.name}-model-store-{key}")
            assert password.type == "random:index/randomPassword:RandomPassword"
            assert password.inputs["special"] is False


def test_the_fsid_and_the_keys_are_protected_and_the_users_retained(prod_graph):
    for site in SITES:
        cluster = ceph(prod_graph, site)
        kept = [
            prod_graph.named(f"{cluster.name}-{suffix}")
            for suffix in ("fsid", "model-store-access-key", "model-store-secret-key")
        ]
        assert [k.protect for k in kept] == [True, True, True]
        user = steps(prod_graph, site)["model-store-ceph-rgw-user"]
        assert user.retain_on_delete


def test_the_attributes_come_from_the_steps_results(prod_graph):
    for site in SITES:
        cluster = ceph(prod_graph, site)
        outputs = prod_graph.component_outputs[cluster.urn]
        bootstrap = parse_shell_command(steps(prod_graph, site)["ceph-bootstrap"].inputs["create"])
        fsid = bootstrap["FSID"]
        assert uuid.UUID(fsid).version == 4 and str(uuid.UUID(fsid)) == fsid
        assert outputs["fsid"] == fsid
        octet = {"dc-a": 10, "dc-b": 20}[site]
        assert outputs["monitors"] == [f"10.{octet}.2.{n}:6789" for n in (11, 12, 13)]
        assert outputs["rgwEndpoint"] == f"http://10.{octet}.2.10:8080"
    fsids = {prod_graph.component_outputs[ceph(prod_graph, s).urn]["fsid"] for s in SITES}
    assert len(fsids) == 2  # each site its own cluster


def test_the_osd_specs_name_each_hosts_declared_disks(prod_graph):
    environment = parse_shell_command(steps(prod_graph, "dc-a")["ceph-osds"].inputs["create"])
    assert environment["OSDS_EXPECTED"] == "18"
    assert environment["SERVICES"] == " ".join(
        ["mon", *(f"osd.dca-ceph-{n}-{c}" for n in (1, 2, 3) for c in ("nvme", "hdd"))]
    )
    specs = environment["SERVICE_SPECS"]
    assert "service_id: dca-ceph-2-hdd" in specs
    assert specs.count("- /dev/nvme3n1") == 3 and specs.count("- /dev/sdb") == 3
    assert specs.count("crush_device_class: hdd") == 3
    assert specs.count("crush_device_class: nvme") == 3


@pytest.mark.parametrize("site", SITES)
def test_volumes_on_the_fastest_class_and_backups_on_the_hdd_placement(prod_graph, site):
    """The graph puts the backups where the 3-2-1 audit counts them: every bucket user other
    than the model store's (another site's Velero backups, etcd snapshots or model bucket
    copy) on placement `backups`, whose data pool ceph-pools puts on the HDD rule; the copy of
    the site's own backups (`backup-copies`) on the default placement, the other medium."""
    s = steps(prod_graph, site)
    pools = parse_shell_command(s["ceph-pools"].inputs["create"])
    assert (pools["DEVICE_CLASSES"], pools["BACKUP_CLASS"], pools["BACKUP_PLACEMENT"]) == (
        "nvme hdd",
        "hdd",
        "backups",
    )
    users = {
        name.removesuffix("-ceph-rgw-user"): parse_shell_command(c.inputs["create"])
        for name, c in s.items()
        if name.endswith("-ceph-rgw-user")
    }
    assert users["model-store"]["PLACEMENT"] == "default-placement"
    other = next(o for o in SITES if o != site)
    velero = users[f"velero-{other}"]
    assert (velero["BUCKET"], velero["PLACEMENT"]) == (f"velero-{other}", "backups")
    assert users["backup-copies"]["PLACEMENT"] == "default-placement"
    assert users[f"models-{other}"]["PLACEMENT"] == "backups"
    for name, environment in users.items():
        if name not in ("model-store", "backup-copies"):
            assert environment["PLACEMENT"] == "backups", name


def test_the_audit_counts_the_backups_where_the_graph_puts_them(prod_graph):
    """prod's volumes hold 3-2-1 because their backup copy is on the target's HDD: the audit's
    medium is the one the target's steps are given (the bucket's placement, its pool's class)."""
    datasets = {d.name: d for d in audit(PlatformConfig.model_validate(raw_stack_config("prod")))}
    for site in SITES:
        other = next(o for o in SITES if o != site)
        target_pools = parse_shell_command(steps(prod_graph, other)["ceph-pools"].inputs["create"])
        backup_user = parse_shell_command(
            steps(prod_graph, other)[f"velero-{site}-ceph-rgw-user"].inputs["create"]
        )
        volumes = datasets[f"volumes/{site}/inference"]
        _, backup = volumes.copies
        assert backup.site == other
        assert backup_user["PLACEMENT"] == target_pools["BACKUP_PLACEMENT"]
        assert str(backup.medium) == f"ceph/{target_pools['BACKUP_CLASS']}" == "ceph/hdd"
        assert volumes.holds321


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ("ceph-bootstrap", r"printed no result line \(its last line: .+\); was it cut short\?"),
        (
            "ceph-client-key",
            r"printed no result line \(not shown: this step's stdout is secret\); "
            r"was it cut short\?",
        ),
    ],
)
def test_a_step_cut_short_stops_the_site_naming_its_first_storage_host(step, problem):
    """The fsid and the client key are read from the steps' results: none, none of them."""
    _, error = record("prod", hardware_faults={"dca-ceph-1": HardwareFaults(truncate_step=step)})
    assert isinstance(error, StepFailed) and isinstance(error, pulumi.RunError), repr(error)
    prefix = f"host dca-ceph-1 (first storage host of site dc-a): step {step}: "
    assert str(error).startswith(prefix), str(error)
    assert re.fullmatch(problem, str(error)[len(prefix) :]), str(error)


def test_only_the_preparation_and_the_bootstrap_run_once(prod_graph):
    """Host-prep and bootstrap run at a host's creation only (a bootstrap is never done
    again); the other steps are declarative and run again whenever an input changes."""
    for site in SITES:
        for name, command in steps(prod_graph, site).items():
            once = name.endswith("-ceph-host-prep") or name == "ceph-bootstrap"
            assert ("connection" in command.ignore_changes) is once, name
            assert ("create" in command.ignore_changes) is once, name
