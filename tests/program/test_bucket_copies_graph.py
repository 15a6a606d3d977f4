"""The cross-site bucket copies in the recorded graphs: at each prod site (Ceph and a backup
target) three rclone CronJobs through the site's own provider, the model bucket going to the
target and the site's own backups coming home; the keys secret in every recorded input and
reaching the pods by secretKeyRef only, each the key of the RGW user the Ceph steps make at the
right site and placement; egress to the two RGWs only; none in dr (no target), and the audit
counting the copies exactly where the graph has them."""

import pytest

from components.config import PlatformConfig
from components.remote.steps import parse_shell_command
from components.storage.protection import audit, bucket_copy_targets
from offline.graph import SECRET
from tests.program.test_storage_kubernetes_graph import engine, leaves, named
from tests.stacks import raw_stack_config

TARGETS = {"dc-a": "dc-b", "dc-b": "dc-a"}
"""prod's backup.targets."""
CRONJOB = "kubernetes:batch/v1:CronJob"
COPIES = "deepseek:storage:BucketCopies"
JOBS = ("copy-models", "copy-backups", "copy-etcd-snapshots")


def _rgw(config: PlatformConfig, site: str) -> str:
    spec = next(s for s in config.sites if s.name == site)
    return f"http://{spec.storage.rgw_virtual_ip}:{config.storage.rgw.port}"


def _job(graph, site: str, job: str):
    return named(graph, f"deepseek-{site}-bucket-copies-{job}")


def _container(job) -> dict:
    pod = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return container


def _env(job) -> dict[str, dict]:
    return {e["name"]: e for e in _container(job)["env"]}


def _step_keys(graph, site: str, user: str) -> tuple[str, str]:
    """The S3 keys the Ceph step of `site` gives RGW user `user` (its stdin, opened)."""
    step = engine(named(graph, f"deepseek-{site}-storage-{user}-ceph-rgw-user"))
    exported = dict(
        line.removeprefix("export ").split("=", 1)
        for line in step["stdin"].splitlines()
        if line.startswith("export RGW_")
    )
    return exported["RGW_ACCESS_KEY"], exported["RGW_SECRET_KEY"]


def test_one_component_of_three_cronjobs_per_site_with_a_target(prod_graph, dr_graph):
    components = {r.name for r in prod_graph.by_type(COPIES)}
    assert components == {f"deepseek-{site}-bucket-copies" for site in TARGETS}
    jobs = {r.name for r in prod_graph.by_type(CRONJOB) if "-bucket-copies-" in r.name}
    assert jobs == {f"deepseek-{site}-bucket-copies-{job}" for site in TARGETS for job in JOBS}
    # dr: Ceph, but no backup target: no copies (and the audit counts none there).
    assert dr_graph.by_type(COPIES) == []
    assert not [r for r in dr_graph.by_type(CRONJOB) if "bucket-copies" in r.name]


def test_the_audit_counts_the_copies_exactly_where_the_graph_builds_them(prod_graph, dr_graph):
    for graph, stack in ((prod_graph, "prod"), (dr_graph, "dr")):
        config = PlatformConfig.model_validate(raw_stack_config(stack))
        built = {
            r.name.removeprefix("deepseek-").removesuffix("-bucket-copies")
            for r in graph.by_type(COPIES)
        }
        assert built == set(bucket_copy_targets(config)), stack
        counted = {
            c.site
            for d in audit(config)
            for c in d.copies
            if c.store.startswith(("copy of the bucket", "copy of "))
        }
        # A copy of a site's model bucket sits at its target, of its backups at the site.
        assert counted == {*built, *(bucket_copy_targets(config)[s] for s in built)}, stack
    prod = PlatformConfig.model_validate(raw_stack_config("prod"))
    assert bucket_copy_targets(prod) == TARGETS
    assert all(d.holds321 for d in audit(prod))


@pytest.mark.parametrize("site", sorted(TARGETS))
def test_the_model_bucket_goes_to_the_target_and_the_backups_come_home(
    prod_graph, prod_config, site
):
    home, target = _rgw(prod_config, site), _rgw(prod_config, TARGETS[site])
    models = _job(prod_graph, site, "copy-models")
    args = _container(models)["args"]
    assert args[:3] == ["copy", f"home:{prod_config.storage.model_bucket}", f"models:models-{site}"]
    assert "--immutable" in args and "--max-delete" not in args
    env = _env(models)
    assert env["RCLONE_CONFIG_HOME_ENDPOINT"]["value"] == home
    assert env["RCLONE_CONFIG_MODELS_ENDPOINT"]["value"] == target
    for job, remote, bucket in (
        ("copy-backups", "velero", f"velero-{site}"),
        ("copy-etcd-snapshots", "etcd", f"etcd-{site}"),
    ):
        resource = _job(prod_graph, site, job)
        args = _container(resource)["args"]
        assert args[:3] == ["sync", f"{remote}:{bucket}", f"copy:backup-copies/{bucket}"]
        assert int(args[args.index("--max-delete") + 1]) > 0
        env = _env(resource)
        assert env[f"RCLONE_CONFIG_{remote.upper()}_ENDPOINT"]["value"] == target
        assert env["RCLONE_CONFIG_COPY_ENDPOINT"]["value"] == home
    for job in JOBS:
        spec = _job(prod_graph, site, job).inputs["spec"]
        assert spec["schedule"] == prod_config.backup.copy_schedule
        assert spec["concurrencyPolicy"] == "Forbid"
        assert _container(_job(prod_graph, site, job))["image"] == (
            f"{prod_config.mirrors.image_registry}/{prod_config.backup.copy_image}"
        )


@pytest.mark.parametrize("site", sorted(TARGETS))
def test_each_runs_through_its_sites_provider_after_the_buckets_exist(prod_graph, site):
    provider = named(prod_graph, f"deepseek-{site}-cluster-k8s").urn
    component = named(prod_graph, f"deepseek-{site}-bucket-copies")
    children = prod_graph.children(component.urn)
    assert {c.type for c in children} == {
        "kubernetes:core/v1:Namespace",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "kubernetes:core/v1:Secret",
        CRONJOB,
    }
    assert {c.provider for c in children} == {provider}
    by_urn = prod_graph.by_urn()
    for job in JOBS:
        waited = {by_urn[u].name for u in _job(prod_graph, site, job).dependencies}
        # Home's users and buckets (the cluster's last step), the keys and the policies; the
        # target's endpoint is its Ceph's Output.
        assert f"deepseek-{site}-storage-ceph-client-key" in waited
        assert f"deepseek-{site}-bucket-copies-keys" in waited
        assert f"deepseek-{site}-bucket-copies-allow-object-stores" in waited
        assert f"deepseek-{TARGETS[site]}-storage-ceph-rgw" in waited
    namespace = named(prod_graph, f"deepseek-{site}-bucket-copies-namespace").inputs["metadata"]
    assert namespace["name"] == "bucket-copies"
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("site", sorted(TARGETS))
def test_the_copy_users_sit_at_the_right_site_on_the_right_placement(prod_graph, site):
    target = TARGETS[site]
    # The copy of the model bucket: a user of the target's Ceph, on its backup placement.
    models = parse_shell_command(
        named(prod_graph, f"deepseek-{target}-storage-models-{site}-ceph-rgw-user").inputs["create"]
    )
    assert (models["RGW_USER"], models["BUCKET"], models["PLACEMENT"]) == (
        f"models-{site}",
        f"models-{site}",
        "backups",
    )
    # The copy of the site's own backups: a user of its own Ceph, on the default placement.
    copies = parse_shell_command(
        named(prod_graph, f"deepseek-{site}-storage-backup-copies-ceph-rgw-user").inputs["create"]
    )
    assert (copies["RGW_USER"], copies["BUCKET"], copies["PLACEMENT"]) == (
        "backup-copies",
        "backup-copies",
        "default-placement",
    )
    platform = named(prod_graph, "deepseek").urn
    for user in (
        f"deepseek-{target}-rgw-user-models-{site}",
        f"deepseek-{site}-rgw-user-backup-copies",
    ):
        for kind in ("access", "secret"):
            key = named(prod_graph, f"{user}-{kind}-key")
            assert key.parent == platform and key.retain_on_delete, key.name


@pytest.mark.parametrize("site", sorted(TARGETS))
def test_keys_are_secret_inputs_and_reach_the_pods_by_reference_only(prod_graph, site):
    target = TARGETS[site]
    secret = named(prod_graph, f"deepseek-{site}-bucket-copies-keys")
    assert secret.inputs["stringData"] == SECRET
    assert "stringData" in secret.additional_secret_outputs
    opened = engine(secret)
    assert opened["metadata"]["name"] == "bucket-copy-keys"
    keys = opened["stringData"]
    # Each remote's keys are those of the RGW user the Ceph steps make for it.
    for remote, step_site, user in (
        ("home", site, "model-store"),
        ("models", target, f"models-{site}"),
        ("velero", target, f"velero-{site}"),
        ("etcd", target, f"etcd-{site}"),
        ("copy", site, "backup-copies"),
    ):
        access, secret_key = _step_keys(prod_graph, step_site, user)
        assert (keys[f"{remote}-access-key-id"], keys[f"{remote}-secret-access-key"]) == (
            access,
            secret_key,
        ), remote
    values = set(keys.values())
    for job in JOBS:
        resource = _job(prod_graph, site, job)
        # Nothing secret in the CronJob, and none of the keys' values anywhere in it.
        assert SECRET not in list(leaves(resource.inputs))
        assert not values & set(leaves(engine(resource)))
        for entry in _container(resource)["env"]:
            if "valueFrom" in entry:
                reference = entry["valueFrom"]["secretKeyRef"]
                assert reference["name"] == "bucket-copy-keys"
                assert reference["key"] in keys
            else:
                assert not entry["name"].endswith("_KEY") and not entry["name"].endswith("_ID")
        assert not any(v in " ".join(_container(resource)["args"]) for v in values)


@pytest.mark.parametrize("site", sorted(TARGETS))
def test_the_pods_reach_the_two_rgws_only(prod_graph, prod_config, site):
    policies = {
        name: named(prod_graph, f"deepseek-{site}-bucket-copies-{name}").inputs["spec"]
        for name in ("default-deny", "allow-dns", "allow-object-stores")
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    vips = sorted(
        f"{s.storage.rgw_virtual_ip}/32"
        for s in prod_config.sites
        if s.name in (site, TARGETS[site])
    )
    assert policies["allow-object-stores"]["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in vips],
            "ports": [{"protocol": "TCP", "port": prod_config.storage.rgw.port}],
        }
    ]
    in_namespace = [
        p
        for p in prod_graph.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["namespace"] == "bucket-copies"
        and p.name.startswith(f"deepseek-{site}-")
    ]
    assert len(in_namespace) == 3
