"""The data layer's rules of the policy pack, called as CrossGuard calls them (props behind its
unknown-checking proxy, the provider the object goes through): storage classes wherever an
object names one, and backup locations at the other site's RGW only."""

import sys

from pulumi_policy import PolicyProviderResource, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from tests.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "policies"))

from deepseek_policies import baseline, locality  # noqa: E402
from deepseek_policies.rules.locality import endpoint_key, site_of  # noqa: E402
from deepseek_policies.rules.normalize import secret_key  # noqa: E402

CLASSES = {"allowedStorageClasses": ["ceph-rbd", "local-path"]}
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
RELEASE = "kubernetes:helm.sh/v3:Release"
BSL = "kubernetes:velero.io/v1:BackupStorageLocation"
DC_A_RGW = "http://10.10.2.10:8080"
DC_B_RGW = "http://10.20.2.10:8080"
ENDPOINTS = {
    "backupEndpoints": {"dc-a": [DC_B_RGW], "dc-b": [DC_A_RGW]},
    "siteEndpoints": {"dc-a": [DC_A_RGW], "dc-b": [DC_B_RGW]},
}


def check(policy, resource_type: str, props: dict, provider: str = "", **config) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(props),
        f"urn:pulumi:prod::p::{resource_type}::r",
        "r",
        PolicyResourceOptions(False, [], None, [], None, [], None),
        PolicyProviderResource("pulumi:providers:kubernetes", {}, f"urn:{provider}", provider)
        if provider
        else None,
        config,
    )
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def pvc(storage_class: str | None) -> dict:
    spec = {"storageClassName": storage_class} if storage_class is not None else {}
    return {"metadata": {"name": "models", "namespace": "inference"}, "spec": spec}


def test_a_claim_names_an_allowed_class_in_the_words_of_the_conventions():
    assert check(locality.storage_classes, PVC, pvc("nfs-remote"), **CLASSES) == [
        "PVC 'models' in inference uses storage class 'nfs-remote'; allowed here: ceph-rbd, "
        "local-path."
    ]
    assert not check(locality.storage_classes, PVC, pvc("ceph-rbd"), **CLASSES)
    assert not check(locality.storage_classes, PVC, pvc("local-path"), **CLASSES)
    (default,) = check(locality.storage_classes, PVC, pvc(None), **CLASSES)
    assert "names no storage class (the cluster's default, or none)" in default


def test_statefulset_claim_templates():
    sts = {
        "metadata": {"name": "db", "namespace": "monitoring"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "db", "image": "x:1"}]}},
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"storageClassName": "ceph-rbd"}},
                {"metadata": {"name": "wal"}, "spec": {"storageClassName": "nfs"}},
            ],
        },
    }
    assert check(locality.storage_classes, STATEFUL_SET, sts, **CLASSES) == [
        "StatefulSet 'db' in monitoring claim template 'wal' uses storage class 'nfs'; allowed "
        "here: ceph-rbd, local-path."
    ]


def release(values: dict) -> dict:
    return {"name": "app", "chart": "app", "values": values}


def test_helm_values_that_name_a_storage_class():
    values = {
        "persistence": {"enabled": True, "storageClass": "nfs-client"},
        "server": {"volumeClaimTemplate": {"spec": {"storageClassName": "gp2"}}},
        "cache": {"storageClass": "local-path"},
    }
    assert check(locality.storage_classes, RELEASE, release(values), **CLASSES) == [
        "Helm release 'app' at values.persistence.storageClass uses storage class "
        "'nfs-client'; allowed here: ceph-rbd, local-path.",
        "Helm release 'app' at values.server.volumeClaimTemplate.spec.storageClassName uses "
        "storage class 'gp2'; allowed here: ceph-rbd, local-path.",
    ]
    # The cluster's default class ("") and "no class" ("-") are not on the list either.
    assert len(check(locality.storage_classes, RELEASE, release({"a": {"storageClass": ""}}))) == 1
    assert check(locality.storage_classes, RELEASE, release({"storageClassName": "-"}), **CLASSES)


def test_a_chart_that_makes_a_storage_class_names_it_in_a_map():
    """ceph-csi's `storageClass.name`: judged when the chart creates the class, not when
    `create` is false (ours: the component makes `ceph-rbd` itself)."""
    made = release({"storageClass": {"create": True, "name": "csi-rbd-sc"}})
    (finding,) = check(locality.storage_classes, RELEASE, made, **CLASSES)
    assert "values.storageClass.name uses storage class 'csi-rbd-sc'" in finding
    ours = release({"storageClass": {"create": False}, "csiConfig": [{"clusterID": "x"}]})
    assert not check(locality.storage_classes, RELEASE, ours, **CLASSES)


def test_the_site_of_a_provider():
    assert site_of("deepseek-dc-a-cluster-k8s", {"dc-a", "dc-b"}) == "dc-a"
    assert site_of("deepseek-dc-ab-cluster-k8s", {"dc-a", "dc-ab"}) == "dc-ab"
    assert site_of("default", {"dc-a"}) is None


def test_endpoints_compare_by_scheme_host_and_port():
    assert endpoint_key("HTTP://10.20.2.10:8080/") == endpoint_key(DC_B_RGW)
    assert endpoint_key("https://rgw.bank.internal") == ("https", "rgw.bank.internal", 443)
    assert endpoint_key("http://10.20.2.10:8081") != endpoint_key(DC_B_RGW)
    assert endpoint_key("s3://bucket") is None


def location(s3_url: str | None, provider: str = "aws") -> dict:
    config = {"region": "de-muc", "s3ForcePathStyle": "true"}
    if s3_url is not None:
        config["s3Url"] = s3_url
    return {
        "metadata": {"name": "dc-b", "namespace": "velero"},
        "spec": {
            "provider": provider,
            "objectStorage": {"bucket": "velero-dc-a"},
            "config": config,
        },
    }


DC_A = "deepseek-dc-a-cluster-k8s"


def test_a_location_at_the_target_site_passes():
    assert not check(locality.backup_locations, BSL, location(DC_B_RGW), DC_A, **ENDPOINTS)


def test_a_location_at_the_site_itself_is_no_off_site_copy():
    (finding,) = check(locality.backup_locations, BSL, location(DC_A_RGW), DC_A, **ENDPOINTS)
    assert finding == (
        "BackupStorageLocation 'dc-b' in velero at spec points at http://10.10.2.10:8080, the "
        "RGW of site dc-a itself: no off-site copy; back up to another site's RGW: "
        "http://10.20.2.10:8080."
    )


def test_a_location_outside_the_stack():
    for url in ("https://s3.eu-central-1.amazonaws.com", "http://10.20.2.10:9000"):
        (finding,) = check(locality.backup_locations, BSL, location(url), DC_A, **ENDPOINTS)
        assert "which is no backup endpoint of this stack; allowed here: " in finding
    (cloud,) = check(locality.backup_locations, BSL, location(None), DC_A, **ENDPOINTS)
    assert "without an s3Url (the cloud itself)" in cloud
    (azure,) = check(locality.backup_locations, BSL, location(DC_B_RGW, "azure"), DC_A, **ENDPOINTS)
    assert "writes to azure" in azure


def test_nothing_is_allowed_without_config():
    assert check(locality.backup_locations, BSL, location(DC_B_RGW), DC_A)


def test_a_cluster_of_no_known_site_may_use_any_of_the_stacks_endpoints_but_no_other():
    assert not check(locality.backup_locations, BSL, location(DC_A_RGW), "other", **ENDPOINTS)
    assert check(locality.backup_locations, BSL, location("http://10.9.9.9:80"), "", **ENDPOINTS)


def test_the_velero_release_values_are_judged_entry_by_entry():
    values = {
        "configuration": {
            "backupStorageLocation": [
                {"name": "dc-b", "provider": "aws", "config": {"s3Url": DC_B_RGW}},
                {"name": "home", "provider": "aws", "config": {"s3Url": DC_A_RGW}},
            ]
        }
    }
    (finding,) = check(locality.backup_locations, RELEASE, release(values), DC_A, **ENDPOINTS)
    assert finding.startswith(
        "Helm release 'app' at values.configuration.backupStorageLocation[1] points at "
        "http://10.10.2.10:8080, the RGW of site dc-a itself"
    )
    # Charts before 3.0 took one map, with the provider beside it.
    old = {
        "configuration": {
            "provider": "aws",
            "backupStorageLocation": {"bucket": "b", "config": {"s3Url": "http://nas:9000"}},
        }
    }
    (finding,) = check(locality.backup_locations, RELEASE, release(old), DC_A, **ENDPOINTS)
    assert "values.configuration.backupStorageLocation of site dc-a points at http://nas:9000" in (
        finding
    )
    assert not check(locality.backup_locations, RELEASE, release({"image": {}}), DC_A, **ENDPOINTS)


def test_an_existing_secrets_name_is_no_secret_but_a_secret_under_it_still_is():
    """Velero's `credentials.existingSecret` names the Secret we make; the key's shape alone
    no longer reads as a secret, the value's shape still does."""
    assert not secret_key("existingSecret")
    assert secret_key("clientSecret") and secret_key("secret")
    named = release({"credentials": {"useSecret": True, "existingSecret": "velero-backup-target"}})
    assert not check(baseline.plaintext, RELEASE, named)
    leaked = release({"credentials": {"existingSecret": "-----BEGIN RSA PRIVATE KEY-----\nMII"}})
    assert check(baseline.plaintext, RELEASE, leaked)
