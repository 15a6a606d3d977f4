"""The mutation corpus of the policy pack: copies of the real `prod` graph, each breaking one
rule, with the policy that must catch it. Resources are edited as the engine holds their
inputs (secrets still wrapped), so what the pack sees is what `pulumi preview` would send."""

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2

from offline.graph import Graph, RecordedResource, mask

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"


def _open(value: Any) -> Any:
    """A secret's value, or the value itself."""
    if isinstance(value, dict) and SECRET_SIG_KEY in value:
        return value["value"]
    return value


def _engine(resource: RecordedResource) -> dict:
    return json_format.MessageToDict(resource.engine_properties)


def _with(resource: RecordedResource, props: dict, **changes: Any) -> RecordedResource:
    struct = struct_pb2.Struct()
    struct.update(props)
    return dataclasses.replace(resource, inputs=mask(props), engine_properties=struct, **changes)


@dataclass
class Mutated:
    graph: Graph
    target: str
    """URN of the resource the violation must name ('' for none in particular)."""
    analyze: list[RecordedResource]
    """The resources to send `Analyze` for (the changed and added ones)."""


def edit(select: Callable[[RecordedResource], bool], change: Callable[[dict], None], **opts):
    """Change the first resource `select` picks: `change` gets its engine inputs."""

    def mutate(graph: Graph) -> Mutated:
        original = next(r for r in graph.resources if select(r))
        props = copy.deepcopy(_engine(original))
        change(props)
        changed = _with(original, props, **opts)
        resources = [changed if r is original else r for r in graph.resources]
        return Mutated(dataclasses.replace(graph, resources=resources), changed.urn, [changed])

    return mutate


def remove(select: Callable[[RecordedResource], bool], target: Callable[[Graph], str]):
    def mutate(graph: Graph) -> Mutated:
        gone = next(r for r in graph.resources if select(r))
        resources = [r for r in graph.resources if r is not gone]
        return Mutated(dataclasses.replace(graph, resources=resources), target(graph), [])

    return mutate


def add(type_: str, name: str, props: dict, protect: bool = False):
    """A new Kubernetes object in dc-a's cluster, through its provider."""

    def mutate(graph: Graph) -> Mutated:
        provider = next(r for r in graph.resources if r.type == "pulumi:providers:kubernetes")
        parent = provider.parent
        urn = f"urn:pulumi:{graph.stack}::{graph.project}::{type_}::{name}"
        struct = struct_pb2.Struct()
        struct.update(props)
        resource = RecordedResource(
            urn=urn,
            type=type_,
            name=name,
            custom=True,
            parent=parent,
            dependencies=(),
            provider=provider.urn,
            protect=protect,
            retain_on_delete=False,
            inputs=mask(props),
            engine_properties=struct,
        )
        return Mutated(
            dataclasses.replace(graph, resources=[*graph.resources, resource]), urn, [resource]
        )

    return mutate


# --- selectors ------------------------------------------------------------------------------


def k8s(kind: str, name: str, namespace: str | None = None, site: str = "dc-a"):
    def select(r: RecordedResource) -> bool:
        metadata = r.inputs.get("metadata") or {}
        return (
            r.type.endswith(f":{kind}")
            and metadata.get("name") == name
            and (namespace is None or metadata.get("namespace") == namespace)
            and f"deepseek-{site}-" in r.name
        )

    return select


def named(suffix: str):
    return lambda r: r.name.endswith(suffix)


def _pod(props: dict) -> dict:
    return props["spec"]["template"]["spec"]


def _triton(props: dict) -> dict:
    return _pod(props)["containers"][0]


TRITON = k8s("Deployment", "r1-qwen-32b", "inference")
TRITON_SERVICE = k8s("Service", "r1-qwen-32b", "inference")


def _set(path: list, value: Any) -> Callable[[dict], None]:
    def change(props: dict) -> None:
        node = props
        for step in path[:-1]:
            node = _open(node[step])
        node[path[-1]] = value

    return change


def _pvc(name: str, storage_class: str | None, namespace: str = "inference") -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Ti"}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _plain_pod_spec(image: str, extra: dict | None = None) -> dict:
    return {
        "nodeSelector": {"topology.kubernetes.io/region": "de-fra"},
        "containers": [{"name": "main", "image": image, **(extra or {})}],
    }


def _site_props(props: dict) -> None:
    props["jurisdiction"] = "US"


@dataclass(frozen=True)
class Case:
    name: str
    policy: str
    mutate: Callable[[Graph], Mutated]


def _default_deny_target(graph: Graph) -> str:
    return next(r.urn for r in graph.resources if k8s("Namespace", "inference")(r))


CASES = [
    # --- data locality
    Case(
        "pvc-on-an-nfs-class",
        "storage-classes-allowed",
        add(
            "kubernetes:core/v1:PersistentVolumeClaim",
            "nfs-claim",
            _pvc("cache", "nfs-client"),
            protect=True,
        ),
    ),
    Case(
        "pvc-on-the-default-class",
        "storage-classes-allowed",
        add(
            "kubernetes:core/v1:PersistentVolumeClaim",
            "default-claim",
            _pvc("cache", None),
            protect=True,
        ),
    ),
    Case(
        "storage-class-on-nfs",
        "storage-classes-allowed",
        add(
            "kubernetes:storage.k8s.io/v1:StorageClass",
            "nfs-class",
            {
                "metadata": {"name": "nfs"},
                "provisioner": "nfs.csi.k8s.io",
                "reclaimPolicy": "Retain",
            },
        ),
    ),
    Case(
        "serving-not-pinned-to-a-region",
        "data-workloads-pinned-to-region",
        edit(TRITON, lambda p: _pod(p)["nodeSelector"].pop("topology.kubernetes.io/region")),
    ),
    Case(
        "serving-pinned-abroad",
        "data-workloads-pinned-to-region",
        edit(
            TRITON,
            lambda p: _pod(p)["nodeSelector"].update(
                {"topology.kubernetes.io/region": "us-east-1"}
            ),
        ),
    ),
    Case(
        "data-volume-unpinned-in-monitoring",
        "data-workloads-pinned-to-region",
        add(
            "kubernetes:apps/v1:Deployment",
            "tsdb",
            {
                "metadata": {"name": "tsdb", "namespace": "monitoring"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "db", "image": "registry.bank.internal/deepseek/db:1"}
                            ],
                            "volumes": [
                                {"name": "data", "persistentVolumeClaim": {"claimName": "tsdb"}}
                            ],
                        }
                    }
                },
            },
        ),
    ),
    Case(
        "velero-location-abroad",
        "replication-targets-in-jurisdiction",
        add(
            "kubernetes:velero.io/v1:BackupStorageLocation",
            "offsite",
            {
                "metadata": {"name": "offsite", "namespace": "velero"},
                "spec": {
                    "provider": "aws",
                    "objectStorage": {"bucket": "backups"},
                    "config": {
                        "region": "us-east-1",
                        "s3Url": "https://s3.us-east-1.amazonaws.com",
                    },
                },
            },
        ),
    ),
    Case(
        "rgw-zone-peer-outside",
        "replication-targets-in-jurisdiction",
        add(
            "kubernetes:ceph.rook.io/v1:CephObjectZone",
            "zone",
            {
                "metadata": {"name": "zone-b", "namespace": "rook-ceph"},
                "spec": {"zoneGroup": "eu", "customEndpoints": ["https://rgw.partner.example.com"]},
            },
        ),
    ),
    Case(
        "model-store-abroad",
        "replication-targets-in-jurisdiction",
        edit(
            TRITON,
            lambda p: _pod(p)["initContainers"][0]["env"][1].update(
                {"value": "https://s3.eu-west-1.amazonaws.com"}
            ),
        ),
    ),
    Case(
        "site-in-a-foreign-jurisdiction",
        "sites-in-allowed-jurisdictions",
        edit(lambda r: r.type == "deepseek:site:Site", _site_props),
    ),
    Case(
        "ceph-pool-with-two-replicas",
        "ceph-pools-replicated",
        add(
            "kubernetes:ceph.rook.io/v1:CephBlockPool",
            "pool",
            {
                "metadata": {"name": "rbd", "namespace": "rook-ceph"},
                "spec": {"replicated": {"size": 2}},
            },
            protect=True,
        ),
    ),
    # --- egress
    Case(
        "namespace-without-default-deny",
        "namespaces-default-deny-egress",
        remove(named("-isolation-inference-default-deny"), _default_deny_target),
    ),
    Case(
        "new-namespace-without-policies",
        "namespaces-default-deny-egress",
        add("kubernetes:core/v1:Namespace", "scratch", {"metadata": {"name": "scratch"}}),
    ),
    Case(
        "egress-to-the-internet",
        "egress-within-allow-list",
        edit(
            named("-isolation-inference-allow-dns"),
            lambda p: p["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}),
        ),
    ),
    Case(
        "egress-rule-without-destination",
        "egress-within-allow-list",
        edit(
            named("-isolation-inference-allow-dns"),
            lambda p: p["spec"]["egress"].append({"ports": [{"protocol": "TCP", "port": 443}]}),
        ),
    ),
    Case(
        "egress-outside-the-allow-list",
        "egress-within-allow-list",
        edit(
            named("-isolation-gateway-envoy-proxy"),
            lambda p: p["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "8.8.8.8/32"}}]}),
        ),
    ),
    Case(
        "load-balancer-service",
        "only-the-gateway-is-exposed",
        edit(TRITON_SERVICE, lambda p: p["spec"].update({"type": "LoadBalancer"})),
    ),
    Case(
        "node-port-service",
        "only-the-gateway-is-exposed",
        edit(TRITON_SERVICE, lambda p: p["spec"].update({"type": "NodePort"})),
    ),
    Case(
        "external-ips",
        "only-the-gateway-is-exposed",
        edit(TRITON_SERVICE, lambda p: p["spec"].update({"externalIPs": ["10.10.0.250"]})),
    ),
    Case(
        "exposed-proxy-outside-the-gateway",
        "only-the-gateway-is-exposed",
        edit(
            k8s("EnvoyProxy", "deepseek"),
            lambda p: p["metadata"].update({"namespace": "inference"}),
        ),
    ),
    Case(
        "host-network",
        "no-host-network-or-ports",
        edit(TRITON, lambda p: _pod(p).update({"hostNetwork": True})),
    ),
    Case(
        "host-port",
        "no-host-network-or-ports",
        edit(TRITON, lambda p: _triton(p)["ports"][0].update({"hostPort": 8000})),
    ),
    Case(
        "public-image-in-a-deployment",
        "images-from-allowed-registries",
        edit(
            TRITON,
            lambda p: _triton(p).update(
                {"image": "nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3"}
            ),
        ),
    ),
    Case(
        "public-image-in-an-init-container",
        "images-from-allowed-registries",
        edit(
            TRITON,
            lambda p: _pod(p)["initContainers"][0].update(
                {"image": "docker.io/rclone/rclone:1.68.2"}
            ),
        ),
    ),
    Case(
        "public-image-in-an-mpijob",
        "images-from-allowed-registries",
        edit(
            k8s("MPIJob", "deepseek-train"),
            lambda p: p["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][
                0
            ].update({"image": "ghcr.io/acme/train:1"}),
        ),
    ),
    Case(
        "public-image-in-helm-values",
        "images-from-allowed-registries",
        edit(
            named("-gpu-operator-gpu-operator"),
            lambda p: p["values"]["operator"].update({"repository": "nvcr.io/nvidia"}),
        ),
    ),
    Case(
        "public-image-in-a-cronjob",
        "images-from-allowed-registries",
        add(
            "kubernetes:batch/v1:CronJob",
            "report",
            {
                "metadata": {"name": "report", "namespace": "default"},
                "spec": {
                    "schedule": "0 1 * * *",
                    "jobTemplate": {
                        "spec": {"template": {"spec": _plain_pod_spec("quay.io/acme/report:1")}}
                    },
                },
            },
        ),
    ),
    Case(
        "chart-from-a-public-repository",
        "charts-from-allowed-repositories",
        edit(
            named("-gpu-operator-gpu-operator"),
            lambda p: p["repositoryOpts"].update({"repo": "https://helm.ngc.nvidia.com/nvidia"}),
        ),
    ),
    Case(
        "chart-from-a-public-oci-registry",
        "charts-from-allowed-repositories",
        edit(
            named("-gateway-envoy-gateway"),
            lambda p: p.update({"chart": "oci://docker.io/envoyproxy/gateway-helm"}),
        ),
    ),
    # --- baseline
    Case(
        "privileged-pod-in-inference",
        "no-privileged-outside-system-namespaces",
        edit(TRITON, lambda p: _triton(p)["securityContext"].update({"privileged": True})),
    ),
    Case(
        "sys-admin-in-training",
        "no-privileged-outside-system-namespaces",
        edit(
            k8s("MPIJob", "deepseek-train"),
            lambda p: p["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0][
                "securityContext"
            ].update({"capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]}}),
        ),
    ),
    Case(
        "inference-namespace-admits-privileged-pods",
        "no-privileged-outside-system-namespaces",
        edit(
            k8s("Namespace", "inference"),
            lambda p: p["metadata"]["labels"].update(
                {"pod-security.kubernetes.io/enforce": "privileged"}
            ),
        ),
    ),
    Case(
        "gpu-requests-below-limits",
        "gpu-requests-equal-limits",
        edit(TRITON, lambda p: _triton(p)["resources"]["requests"].update({"nvidia.com/gpu": "1"})),
    ),
    Case(
        "plaintext-password-in-env",
        "no-plaintext-secrets",
        edit(
            TRITON,
            lambda p: _triton(p)["env"].append(
                {"name": "DB_PASSWORD", "value": "correct-horse-battery"}
            ),
        ),
    ),
    Case(
        "private-key-in-a-config-map",
        "no-plaintext-secrets",
        add(
            "kubernetes:core/v1:ConfigMap",
            "leaked-key",
            {
                "metadata": {"name": "tls", "namespace": "inference"},
                "data": {"server.key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n"},
            },
        ),
    ),
    Case(
        "access-key-in-args",
        "no-plaintext-secrets",
        edit(
            TRITON,
            lambda p: _pod(p)["initContainers"][0]["args"].append(
                "--s3-access-key-id=AKIAIOSFODNN7EXAMPLE"
            ),
        ),
    ),
    Case(
        "unpinned-host-key",
        "ssh-host-key-pinned",
        edit(
            lambda r: r.type == "command:remote:Command",
            lambda p: _open(p["connection"]).pop("hostKey"),
        ),
    ),
    Case(
        "storage-class-deletes-volumes",
        "stateful-resources-retained",
        edit(k8s("StorageClass", "local-path"), lambda p: p.update({"reclaimPolicy": "Delete"})),
    ),
    Case(
        "unprotected-bucket",
        "stateful-resources-retained",
        add(
            "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim",
            "weights-bucket",
            {
                "metadata": {"name": "weights", "namespace": "inference"},
                "spec": {"bucketName": "deepseek-models", "storageClassName": "ceph-bucket"},
            },
        ),
    ),
    # --- advisory
    Case(
        "serving-without-probes",
        "serving-has-probes",
        edit(TRITON, lambda p: [_triton(p).pop(k) for k in ("readinessProbe", "livenessProbe")]),
    ),
    Case(
        "serving-without-disruption-budget",
        "serving-has-disruption-budget",
        remove(
            lambda r: k8s("PodDisruptionBudget", "r1-qwen-32b")(r),
            lambda g: next(r.urn for r in g.resources if TRITON(r)),
        ),
    ),
]
