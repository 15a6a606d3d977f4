"""Each rule of the policy pack called directly, with arguments built as pulumi-policy builds
them at run time: props behind its unknown-checking proxy, config from the policy's schema."""

import sys

import pytest
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from tests.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "policies"))

from deepseek_policies import advisory, baseline, egress, locality  # noqa: E402
from deepseek_policies.pack import POLICIES  # noqa: E402

REGISTRY = "registry.bank.internal/deepseek"


def _opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], None, [], None)


def _provider(urn: str = "urn:provider:dc-a"):
    return type("Provider", (), {"urn": urn})()


def check(policy, resource_type: str, props: dict, **config) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(props),
        f"urn:pulumi:test::p::{resource_type}::r",
        "r",
        _opts(),
        None,
        config,
    )
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def check_stack(policy, resources: list[tuple[str, dict, bool]], **config) -> list[str]:
    found: list[str] = []
    policy_resources = [
        PolicyResource(
            resource_type,
            unknown_checking_proxy(props),
            f"urn:{i}",
            f"r{i}",
            _opts(protect),
            _provider(),
            None,
            [],
            {},
        )
        for i, (resource_type, props, protect) in enumerate(resources)
    ]
    args = StackValidationArgs(policy_resources, config)
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def deployment(namespace: str = "inference", **pod) -> dict:
    container = {"name": "main", "image": f"{REGISTRY}/app:1", **pod.pop("container", {})}
    return {
        "metadata": {"name": "app", "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [container], **pod}}},
    }


DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def test_every_policy_has_a_unique_name_and_allow_lists_default_to_empty():
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names)) == 26
    for policy in POLICIES:
        for key, prop in (policy.config_schema.properties if policy.config_schema else {}).items():
            if key.startswith("allowed"):
                assert prop["default"] == [], (policy.name, key)


def test_storage_classes():
    pvc = {"metadata": {"name": "c"}, "spec": {"storageClassName": "nfs"}}
    assert check(
        locality.storage_classes,
        "kubernetes:core/v1:PersistentVolumeClaim",
        pvc,
        allowedStorageClasses=["local-path"],
    )
    pvc["spec"]["storageClassName"] = "local-path"
    assert not check(
        locality.storage_classes,
        "kubernetes:core/v1:PersistentVolumeClaim",
        pvc,
        allowedStorageClasses=["local-path"],
    )


def test_data_workloads_pinned_by_selector_or_affinity():
    regions = {"allowedRegions": ["de-fra"]}
    assert check(locality.data_pinned, DEPLOYMENT, deployment(), **regions)
    pinned = deployment(nodeSelector={"topology.kubernetes.io/region": "de-fra"})
    assert not check(locality.data_pinned, DEPLOYMENT, pinned, **regions)
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "topology.kubernetes.io/region",
                                "operator": "In",
                                "values": ["de-fra"],
                            }
                        ]
                    }
                ]
            }
        }
    }
    assert not check(locality.data_pinned, DEPLOYMENT, deployment(affinity=affinity), **regions)
    # Outside the data namespaces, only workloads with claims count.
    assert not check(locality.data_pinned, DEPLOYMENT, deployment("monitoring"), **regions)


def test_replication_targets_and_sites():
    bsl = {
        "metadata": {"name": "b"},
        "spec": {"config": {"region": "de-fra", "s3Url": "https://s3.bank.internal"}},
    }
    config = {"allowedRegions": ["de-fra"], "allowedEndpointDomains": ["bank.internal"]}
    kind = "kubernetes:velero.io/v1:BackupStorageLocation"
    assert not check(locality.replication_targets, kind, bsl, **config)
    bsl["spec"]["config"]["s3Url"] = "https://s3.amazonaws.com"
    assert check(locality.replication_targets, kind, bsl, **config)
    site = ("deepseek:site:Site", {"jurisdiction": "CH", "region": "ch-zrh"}, False)
    assert check_stack(
        locality.sites_in_jurisdiction,
        [site],
        allowedJurisdictions=["DE"],
        allowedRegions=["de-fra"],
    )


def test_ceph_pools_keep_three_replicas():
    pool = {"metadata": {"name": "p"}, "spec": {"replicated": {"size": 3}}}
    kind = "kubernetes:ceph.rook.io/v1:CephBlockPool"
    assert not check(locality.ceph_replicas, kind, pool)
    pool["spec"]["replicated"]["size"] = 2
    assert check(locality.ceph_replicas, kind, pool)


def test_default_deny_is_per_cluster_and_namespace():
    namespace = ("kubernetes:core/v1:Namespace", {"metadata": {"name": "inference"}}, False)
    deny = (
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        {
            "metadata": {"name": "d", "namespace": "inference"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        False,
    )
    assert check_stack(egress.default_deny, [namespace])
    assert not check_stack(egress.default_deny, [namespace, deny])


def test_egress_allow_list():
    policy = {
        "metadata": {"name": "p"},
        "spec": {"egress": [{"to": [{"ipBlock": {"cidr": "10.200.0.0/24"}}]}]},
    }
    kind = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    allowed = {"allowedEgressCidrs": ["10.200.0.0/16"]}
    assert not check(egress.egress_allow_list, kind, policy, **allowed)
    policy["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    assert check(egress.egress_allow_list, kind, policy, **allowed)


def test_only_the_gateway_namespace_may_expose_services():
    service = {"metadata": {"name": "s", "namespace": "inference"}, "spec": {"type": "NodePort"}}
    assert check(egress.exposure, "kubernetes:core/v1:Service", service)
    service["metadata"]["namespace"] = "gateway"
    assert not check(egress.exposure, "kubernetes:core/v1:Service", service)


def test_images_in_pods_and_helm_values():
    config = {"allowedRegistries": [REGISTRY]}
    assert not check(egress.images, DEPLOYMENT, deployment(), **config)
    public = deployment(container={"image": "docker.io/library/nginx:1"})
    assert check(egress.images, DEPLOYMENT, public, **config)
    release = {"values": {"controller": {"image": {"repository": "quay.io/metallb/controller"}}}}
    assert check(egress.images, "kubernetes:helm.sh/v3:Release", release, **config)


def test_charts_from_the_mirror_only():
    release = {"chart": "metallb", "repositoryOpts": {"repo": "https://metallb.github.io/metallb"}}
    assert check(
        egress.charts,
        "kubernetes:helm.sh/v3:Release",
        release,
        allowedChartRepositories=["https://charts.bank.internal/stable"],
    )


def test_privilege_host_network_and_gpu_requests():
    privileged = deployment(container={"securityContext": {"privileged": True}})
    assert check(baseline.privileged, DEPLOYMENT, privileged)
    assert not check(
        baseline.privileged,
        DEPLOYMENT,
        {**privileged, "metadata": {"name": "x", "namespace": "gpu-operator"}},
        allowedPrivilegedNamespaces=["gpu-operator"],
    )
    assert check(egress.host_network, DEPLOYMENT, deployment(hostNetwork=True))
    uneven = deployment(
        container={
            "resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}}
        }
    )
    assert check(baseline.gpu_requests, DEPLOYMENT, uneven)


def test_plaintext_secrets_but_not_the_fields_providers_encrypt():
    leaked = deployment(container={"env": [{"name": "API_TOKEN", "value": "abcdef123456"}]})
    assert check(baseline.plaintext, DEPLOYMENT, leaked)
    by_reference = deployment(
        container={
            "env": [
                {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}
            ]
        }
    )
    assert not check(baseline.plaintext, DEPLOYMENT, by_reference)
    secret = {"metadata": {"name": "s"}, "stringData": {"password": "hunter2hunter2"}}
    assert not check(baseline.plaintext, "kubernetes:core/v1:Secret", secret)
    command = {
        "connection": {"host": "10.0.0.1", "privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----"}
    }
    assert not check(baseline.plaintext, "command:remote:Command", command)
    assert check(baseline.host_key, "command:remote:Command", command)


def test_stateful_resources_and_advice():
    pool = ("kubernetes:ceph.rook.io/v1:CephBlockPool", {"metadata": {"name": "p"}}, False)
    assert check_stack(baseline.stateful, [pool])
    assert not check_stack(baseline.stateful, [(*pool[:2], True)])
    assert check(advisory.probes, DEPLOYMENT, deployment())
    assert check_stack(advisory.pdb, [(DEPLOYMENT, deployment(), False)])


def test_a_claim_bound_to_a_volume_is_judged_by_that_volumes_reclaim_policy():
    # The model cache: a claim of class local-path (which deletes) bound by name to a static
    # local PV that retains: the data stays whatever the class says; a deleting PV does not.
    deleting_class = (
        "kubernetes:storage.k8s.io/v1:StorageClass",
        {"metadata": {"name": "local-path"}, "reclaimPolicy": "Delete"},
        False,
    )
    claim = (
        "kubernetes:core/v1:PersistentVolumeClaim",
        {
            "metadata": {"name": "model-cache", "namespace": "inference"},
            "spec": {"storageClassName": "local-path", "volumeName": "model-cache"},
        },
        False,
    )

    def volume(policy: str):
        return (
            "kubernetes:core/v1:PersistentVolume",
            {
                "metadata": {"name": "model-cache"},
                "spec": {"persistentVolumeReclaimPolicy": policy, "storageClassName": "local-path"},
            },
            False,
        )

    def claim_findings(volume_policy: str | None) -> list[str]:
        resources = [deleting_class, claim] + ([volume(volume_policy)] if volume_policy else [])
        found = check_stack(baseline.stateful, resources)
        return [f for f in found if "PersistentVolumeClaim" in f or "model-cache" in f]

    assert not [f for f in claim_findings("Retain") if "would lose" in f]
    assert [f for f in claim_findings("Delete") if "its volume model-cache does not retain" in f]
    # Without the volume in the stack, the class decides, as before.
    assert [f for f in claim_findings(None) if "class local-path does not retain" in f]


def test_unknown_values_stop_a_rule_as_during_preview():
    from pulumi_policy.proxy import UnknownValueError

    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    with pytest.raises(UnknownValueError):
        check(
            egress.exposure,
            "kubernetes:core/v1:Service",
            {"metadata": {"name": "s", "namespace": "inference"}, "spec": unknown},
        )
