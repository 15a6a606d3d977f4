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


def edit(
    select: Callable[[RecordedResource], bool],
    change: Callable[[dict], None],
    target: Callable[[RecordedResource], bool] | None = None,
    **opts,
):
    """Change the first resource `select` picks: `change` gets its engine inputs. The violation
    must name the changed resource, or the one `target` picks (a stack rule that judges a
    binding by the role it names)."""

    def mutate(graph: Graph) -> Mutated:
        original = next(r for r in graph.resources if select(r))
        props = copy.deepcopy(_engine(original))
        change(props)
        changed = _with(original, props, **opts)
        resources = [changed if r is original else r for r in graph.resources]
        urn = next(r.urn for r in resources if target(r)) if target else changed.urn
        return Mutated(dataclasses.replace(graph, resources=resources), urn, [changed])

    return mutate


def remove(select: Callable[[RecordedResource], bool], target: Callable[[Graph], str]):
    def mutate(graph: Graph) -> Mutated:
        gone = next(r for r in graph.resources if select(r))
        resources = [r for r in graph.resources if r is not gone]
        return Mutated(dataclasses.replace(graph, resources=resources), target(graph), [])

    return mutate


def add(type_: str, name: str, props: dict, protect: bool = False, provider_type="kubernetes"):
    """A new resource in dc-a, through its provider (dc-a's cluster for Kubernetes objects)."""

    def mutate(graph: Graph) -> Mutated:
        provider = next(r for r in graph.resources if r.type == f"pulumi:providers:{provider_type}")
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


def _namespace(name: str, **labels: str) -> dict:
    """A Namespace labelled as the Baseline labels its own (restricted), with `labels` over."""
    levels = {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "audit", "warn")}
    return {"metadata": {"name": name, "labels": {**levels, **labels}}}


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
                    # At dc-b's RGW, which the backup-location rule allows dc-a: only the
                    # region is abroad.
                    "config": {"region": "us-east-1", "s3Url": "http://10.20.2.10:8080"},
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
        add("kubernetes:core/v1:Namespace", "scratch", _namespace("scratch")),
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
        edit(TRITON_SERVICE, lambda p: p["spec"].update({"externalIPs": ["10.10.0.201"]})),
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
                "metadata": {"name": "report", "namespace": "monitoring"},
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
            lambda p: (
                _pod(p)["initContainers"][0]
                .setdefault("args", [])
                .append("--s3-access-key-id=AKIAIOSFODNN7EXAMPLE")
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

# --- issue 15: the same classes in other spellings and other places -------------------------

CANARY = k8s("Deployment", "r1-qwen-32b-canary", "inference")
MPIJOB = k8s("MPIJob", "deepseek-train")
NET_SERVER = named("-dca-cp-1-net-server")  # create
NODE_DRAIN = named("-rollout-dca-cp-1-node-drain")  # update-only
NODE_DELETE = named("-removal-dca-cp-1-node-delete")  # delete-only
METALLB = named("-metallb-metallb")
GPU_OPERATOR = named("-gpu-operator-gpu-operator")
ENVOY_PROXY = k8s("EnvoyProxy", "deepseek")
POOL = k8s("IPAddressPool", "gateway")
GATEWAY_INGRESS = named("-isolation-gateway-envoy-proxy")
IMAGE = "registry.bank.internal/deepseek/tools/app:1.0"
PRIVILEGE = "no-privileged-outside-system-namespaces"
PLAINTEXT = "no-plaintext-secrets"
LOCALITY = "replication-targets-in-jurisdiction"
STORAGE = "storage-classes-allowed"
IMAGES = "images-from-allowed-registries"
PINNED = "images-pinned"
POOLS = "load-balancer-addresses-in-site-pools"
EXPOSURE = "only-the-gateway-is-exposed"


def _worker(props: dict) -> dict:
    return props["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]


def _launcher(props: dict) -> dict:
    return props["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]


def _fetch(props: dict) -> dict:
    return _pod(props)["initContainers"][0]


def _add_caps(container: Callable[[dict], dict], *caps: str) -> Callable[[dict], None]:
    def change(props: dict) -> None:
        context = container(props).setdefault("securityContext", {})
        context["capabilities"] = {"add": list(caps), "drop": ["ALL"]}

    return change


def _env(container: Callable[[dict], dict], name: str, value: str) -> Callable[[dict], None]:
    return lambda p: container(p).setdefault("env", []).append({"name": name, "value": value})


def _volume(volume: dict, pod: Callable[[dict], dict] = _pod) -> Callable[[dict], None]:
    return lambda p: pod(p).setdefault("volumes", []).append(volume)


def _labels(**labels: str | None) -> Callable[[dict], None]:
    def change(props: dict) -> None:
        current = props["metadata"]["labels"]
        for key, value in labels.items():
            label = f"pod-security.kubernetes.io/{key}"
            if value is None:
                current.pop(label)
            else:
                current[label] = value

    return change


def _connection(props: dict) -> dict:
    return _open(props["connection"])


def _command(step: str, suffix: str) -> Callable[[dict], None]:
    """Appends to the command line before `bash -s`, wherever the step keeps it."""

    def change(props: dict) -> None:
        props[step] = _open(props[step]).replace(" bash -s", f" {suffix} bash -s")

    return change


def _workload(kind: str, namespace: str, pod: dict, **spec) -> dict:
    return {
        "metadata": {"name": kind.lower(), "namespace": namespace},
        "spec": {"template": {"spec": pod}, **spec},
    }


def _pinned_pod(**extra) -> dict:
    return _plain_pod_spec(IMAGE, extra.pop("container", None)) | extra


def _calico(kind: str, spec: dict, namespace: str | None = None) -> dict:
    metadata = {"name": "open", **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    }


def _pv(name: str, reclaim: str | None, source: dict) -> dict:
    spec = {"capacity": {"storage": "1Ti"}, "storageClassName": "local-path", **source}
    if reclaim:
        spec["persistentVolumeReclaimPolicy"] = reclaim
    return {"metadata": {"name": name}, "spec": spec}


LOCAL = {"local": {"path": "/var/lib/deepseek/data"}}
CALICO_GLOBAL = "kubernetes:crd.projectcalico.org/v1:GlobalNetworkPolicy"
CALICO_NAMESPACED = "kubernetes:projectcalico.org/v3:NetworkPolicy"


def _binding(kind: str, role_kind: str, role: str, subject: dict, namespace: str | None = None):
    metadata = {"name": "ops", **({"namespace": namespace} if namespace else {})}
    return {
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [subject],
    }


SERVICE_ACCOUNT = {"kind": "ServiceAccount", "name": "default", "namespace": "inference"}

CASES += [
    # --- privilege: capabilities in any spelling, beyond SYS_ADMIN; host namespaces, paths
    Case("cap-lower-case", PRIVILEGE, edit(TRITON, _add_caps(_triton, "sys_admin"))),
    Case("cap-with-prefix", PRIVILEGE, edit(CANARY, _add_caps(_triton, "CAP_SYS_ADMIN"))),
    Case(
        "cap-all",
        PRIVILEGE,
        edit(MPIJOB, _add_caps(lambda p: _launcher(p)["containers"][0], "all")),
    ),
    Case("cap-dac-read-search", PRIVILEGE, edit(TRITON, _add_caps(_triton, "DAC_READ_SEARCH"))),
    Case("cap-bpf-in-init-container", PRIVILEGE, edit(TRITON, _add_caps(_fetch, "Cap_Bpf"))),
    Case(
        "cap-sys-rawio",
        PRIVILEGE,
        edit(MPIJOB, _add_caps(lambda p: _worker(p)["containers"][0], "SYS_RAWIO")),
    ),
    Case(
        "cap-net-admin-beside-allowed",
        PRIVILEGE,
        edit(CANARY, _add_caps(_triton, "NET_BIND_SERVICE", "net_admin")),
    ),
    Case("host-pid", PRIVILEGE, edit(TRITON, lambda p: _pod(p).update({"hostPID": True}))),
    Case(
        "host-ipc-as-a-string",
        PRIVILEGE,
        edit(MPIJOB, lambda p: _worker(p).update({"hostIPC": "true"})),
    ),
    Case(
        "host-path-volume",
        PRIVILEGE,
        edit(TRITON, _volume({"name": "runtime", "hostPath": {"path": "/run/containerd"}})),
    ),
    Case(
        "namespace-without-pod-security",
        PRIVILEGE,
        edit(k8s("Namespace", "training"), _labels(enforce=None)),
    ),
    Case(
        "namespace-at-baseline",
        PRIVILEGE,
        edit(k8s("Namespace", "monitoring"), _labels(enforce="baseline")),
    ),
    Case(
        "namespace-privileged-capitalized",
        PRIVILEGE,
        edit(k8s("Namespace", "gateway"), _labels(enforce="Privileged")),
    ),
    # --- isolation: Calico policies, ingress from anywhere, namespaces the stack does not make
    Case(
        "calico-global-allow-all-egress",
        "egress-within-allow-list",
        add(
            CALICO_GLOBAL,
            "open-egress",
            _calico(
                "GlobalNetworkPolicy",
                {
                    "order": 1,
                    "selector": "all()",
                    "types": ["Egress"],
                    "egress": [{"action": "Allow"}],
                },
            ),
        ),
    ),
    Case(
        "calico-egress-to-the-internet",
        "egress-within-allow-list",
        add(
            CALICO_NAMESPACED,
            "internet",
            _calico(
                "NetworkPolicy",
                {"egress": [{"action": "Allow", "destination": {"nets": ["0.0.0.0/0"]}}]},
                "inference",
            ),
        ),
    ),
    Case(
        "calico-egress-by-not-nets",
        "egress-within-allow-list",
        add(
            CALICO_GLOBAL,
            "not-nets",
            _calico(
                "GlobalNetworkPolicy",
                {"egress": [{"action": "allow", "destination": {"notNets": ["10.0.0.0/8"]}}]},
            ),
        ),
    ),
    Case(
        "calico-egress-to-a-public-host",
        "egress-within-allow-list",
        add(
            CALICO_NAMESPACED,
            "dns",
            _calico(
                "NetworkPolicy",
                {
                    "egress": [
                        {"action": "Allow", "destination": {"nets": ["8.8.8.8/32"], "ports": [53]}}
                    ]
                },
                "training",
            ),
        ),
    ),
    Case(
        "calico-ingress-from-anywhere",
        "ingress-from-named-peers",
        add(
            CALICO_GLOBAL,
            "open-ingress",
            _calico(
                "GlobalNetworkPolicy", {"types": ["Ingress"], "ingress": [{"action": "Allow"}]}
            ),
        ),
    ),
    Case(
        "ingress-rule-without-sources",
        "ingress-from-named-peers",
        edit(
            GATEWAY_INGRESS,
            lambda p: p["spec"]["ingress"].append({"ports": [{"protocol": "TCP", "port": 443}]}),
        ),
    ),
    Case(
        "ingress-from-the-internet",
        "ingress-from-named-peers",
        edit(
            GATEWAY_INGRESS,
            lambda p: p["spec"]["ingress"].append({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}),
        ),
    ),
    Case(
        "ingress-from-a-public-network",
        "ingress-from-named-peers",
        edit(
            named("-isolation-inference-allow-dns"),
            lambda p: (
                p["spec"]
                .setdefault("ingress", [])
                .append({"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]})
            ),
        ),
    ),
    Case(
        "deployment-in-default",
        "workloads-in-managed-namespaces",
        add(
            "kubernetes:apps/v1:Deployment",
            "stray",
            _workload("Deployment", "default", _pinned_pod()),
        ),
    ),
    Case(
        "job-in-a-namespace-made-by-hand",
        "workloads-in-managed-namespaces",
        add("kubernetes:batch/v1:Job", "sandbox-job", _workload("Job", "sandbox", _pinned_pod())),
    ),
    Case(
        "helm-release-into-kube-system",
        "workloads-in-managed-namespaces",
        edit(GPU_OPERATOR, lambda p: p.update({"namespace": "kube-system"})),
    ),
    # --- plaintext secrets: key shapes in any case, value shapes, every place
    Case(
        "env-db-pass-lower-case",
        PLAINTEXT,
        edit(TRITON, _env(_triton, "db_pass", "hunter2hunter2")),
    ),
    Case(
        "env-kubeadm-token",
        PLAINTEXT,
        edit(
            MPIJOB,
            _env(lambda p: _worker(p)["containers"][0], "KUBEADM_TOKEN", "abcdef.0123456789abcdef"),
        ),
    ),
    Case(
        "env-camel-case-api-key",
        PLAINTEXT,
        edit(CANARY, _env(_fetch, "storeApiKey", "9f8e7d6c5b4a")),
    ),
    Case(
        "env-url-with-credentials",
        PLAINTEXT,
        edit(
            TRITON, _env(_fetch, "MODEL_URL", "https://reader:hunter2@s3.dc-a.bank.internal/models")
        ),
    ),
    Case(
        "bearer-token-in-args",
        PLAINTEXT,
        edit(
            TRITON,
            lambda p: _triton(p)["args"].append(
                "--header=Authorization: Bearer abcdefghijklmnop123456"
            ),
        ),
    ),
    Case(
        "jwt-in-an-annotation",
        PLAINTEXT,
        edit(
            TRITON,
            lambda p: p["metadata"]["annotations"].update(
                {
                    "deepseek.bank/probe": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcm9iZSJ9"
                    ".c2lnbmF0dXJlLXZhbHVl"
                }
            ),
        ),
    ),
    Case(
        "helm-values-admin-password",
        PLAINTEXT,
        edit(GPU_OPERATOR, lambda p: p["values"].update({"adminPassword": "Sup3rS3cret!"})),
    ),
    Case(
        "helm-values-nested-token",
        PLAINTEXT,
        edit(
            METALLB,
            lambda p: p["values"]["speaker"].update(
                {"memberlist": {"secretToken": "q1w2e3r4t5y6"}}
            ),
        ),
    ),
    Case(
        "config-map-password-key",
        PLAINTEXT,
        add(
            "kubernetes:core/v1:ConfigMap",
            "db-config",
            {
                "metadata": {"name": "db", "namespace": "inference"},
                "data": {"DB_PASSWORD": "hunter2hunter2"},
            },
        ),
    ),
    Case(
        "config-map-properties-file",
        PLAINTEXT,
        add(
            "kubernetes:core/v1:ConfigMap",
            "app-config",
            {
                "metadata": {"name": "app", "namespace": "monitoring"},
                "data": {"app.properties": "db.user=svc\ndb.password=hunter2hunter2\n"},
            },
        ),
    ),
    Case(
        "config-map-credentials-file",
        PLAINTEXT,
        add(
            "kubernetes:core/v1:ConfigMap",
            "creds",
            {
                "metadata": {"name": "creds", "namespace": "training"},
                "data": {"credentials.json": '{"user": "svc"}'},
            },
        ),
    ),
    Case(
        "command-create-secret-variable",
        PLAINTEXT,
        edit(NET_SERVER, _command("create", "MINIO_SECRET_KEY=wJalrXUtnFEMI")),
    ),
    Case(
        "command-update-registry-password",
        PLAINTEXT,
        edit(NODE_DRAIN, _command("update", "REGISTRY_PASSWORD='c0rrect horse'")),
    ),
    Case(
        "command-delete-join-token",
        PLAINTEXT,
        edit(NODE_DELETE, _command("delete", "JOIN_TOKEN=abcdef.0123456789abcdef")),
    ),
    Case(
        "command-environment-vault-token",
        PLAINTEXT,
        edit(NET_SERVER, lambda p: p.update({"environment": {"Vault_Token": "s.abcdefghijkl"}})),
    ),
    # --- data locality: endpoints anywhere in a pod spec, inline storage, claim templates
    Case(
        "endpoint-in-init-args",
        LOCALITY,
        edit(
            TRITON,
            lambda p: (
                _fetch(p).setdefault("args", []).append("--s3-endpoint=https://s3.amazonaws.com")
            ),
        ),
    ),
    Case(
        "endpoint-in-env-of-any-name",
        LOCALITY,
        edit(CANARY, _env(_triton, "UPSTREAM", "https://minio.partner.example.com:9000")),
    ),
    Case(
        "endpoint-in-a-command",
        LOCALITY,
        edit(
            MPIJOB,
            lambda p: _worker(p)["containers"][0].update(
                {
                    "command": [
                        "sh",
                        "-c",
                        "aws s3 sync s3://x /data --endpoint-url https://storage.googleapis.com",
                    ]
                }
            ),
        ),
    ),
    Case(
        "inline-nfs-volume",
        STORAGE,
        edit(
            TRITON,
            _volume({"name": "nas", "nfs": {"server": "nas.example.com", "path": "/models"}}),
        ),
    ),
    Case(
        "inline-iscsi-volume",
        STORAGE,
        edit(
            MPIJOB,
            _volume(
                {
                    "name": "lun",
                    "iscsi": {
                        "targetPortal": "10.10.2.50:3260",
                        "iqn": "iqn.2001-04.com.example:lun",
                        "lun": 0,
                    },
                },
                _worker,
            ),
        ),
    ),
    Case(
        "inline-csi-volume",
        STORAGE,
        edit(
            CANARY,
            _volume(
                {
                    "name": "s3",
                    "csi": {"driver": "s3.csi.aws.com", "volumeAttributes": {"bucket": "models"}},
                }
            ),
        ),
    ),
    Case(
        "ephemeral-volume-on-nfs",
        STORAGE,
        edit(
            TRITON,
            _volume(
                {
                    "name": "scratch",
                    "ephemeral": {
                        "volumeClaimTemplate": {
                            "spec": {
                                "storageClassName": "nfs-client",
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "1Ti"}},
                            }
                        }
                    },
                }
            ),
        ),
    ),
    Case(
        "claim-template-on-nfs",
        STORAGE,
        add(
            "kubernetes:apps/v1:StatefulSet",
            "tsdb-set",
            _workload(
                "StatefulSet",
                "training",
                _pinned_pod(priorityClassName="batch-low"),
                volumeClaimTemplates=[
                    {"metadata": {"name": "data"}, "spec": {"storageClassName": "nfs-client"}}
                ],
            ),
            protect=True,
        ),
    ),
    Case(
        "persistent-volume-on-nfs",
        STORAGE,
        add(
            "kubernetes:core/v1:PersistentVolume",
            "nfs-pv",
            _pv("nfs", "Retain", {"nfs": {"server": "nas.example.com", "path": "/"}}),
        ),
    ),
    Case(
        "persistent-volume-deleted-with-claim",
        "stateful-resources-retained",
        add("kubernetes:core/v1:PersistentVolume", "data-pv", _pv("data", "Delete", LOCAL)),
    ),
    Case(
        "persistent-volume-recycled",
        "stateful-resources-retained",
        add(
            "kubernetes:core/v1:PersistentVolume", "recycled-pv", _pv("recycled", "recycle", LOCAL)
        ),
    ),
    # --- images: registries through Helm values, look-alike hosts, implicit Docker Hub, tags
    Case(
        "helm-image-registry",
        IMAGES,
        edit(METALLB, lambda p: p["values"]["controller"]["image"].update({"registry": "quay.io"})),
    ),
    Case(
        "helm-global-image-registry",
        IMAGES,
        edit(GPU_OPERATOR, lambda p: p["values"].update({"global": {"imageRegistry": "nvcr.io"}})),
    ),
    Case(
        "helm-calico-registry",
        IMAGES,
        edit(
            named("-calico-tigera-operator"),
            lambda p: p["values"]["installation"].update({"registry": "quay.io/"}),
        ),
    ),
    Case(
        "look-alike-registry-host",
        IMAGES,
        edit(
            TRITON,
            lambda p: _triton(p).update(
                {"image": "registry.bank.internal.mirror.example.com/deepseek/tritonserver:24.12"}
            ),
        ),
    ),
    Case(
        "implicit-docker-hub",
        IMAGES,
        edit(TRITON, lambda p: _fetch(p).update({"image": "busybox:1.36.1"})),
    ),
    Case(
        "registry-with-another-port",
        IMAGES,
        edit(
            MPIJOB,
            lambda p: _worker(p)["containers"][0].update(
                {"image": "registry.bank.internal:5000/deepseek/train:2025.01"}
            ),
        ),
    ),
    Case(
        "untagged-image",
        PINNED,
        edit(
            TRITON,
            lambda p: _triton(p).update(
                {"image": "registry.bank.internal/deepseek/nvcr.io/nvidia/tritonserver"}
            ),
        ),
    ),
    Case(
        "latest-image",
        PINNED,
        edit(
            CANARY,
            lambda p: _fetch(p).update(
                {"image": "registry.bank.internal/deepseek/docker.io/rclone/rclone:Latest"}
            ),
        ),
    ),
    Case(
        "helm-tag-latest",
        PINNED,
        edit(METALLB, lambda p: p["values"]["controller"]["image"].update({"tag": "latest"})),
    ),
    Case(
        "helm-image-untagged",
        PINNED,
        edit(
            named("-gateway-envoy-gateway"),
            lambda p: p["values"]["global"]["images"]["envoyGateway"].update(
                {"image": "registry.bank.internal/deepseek/docker.io/envoyproxy/gateway"}
            ),
        ),
    ),
    # --- SSH: every hop pinned, every target on the site's node networks
    Case(
        "copy-to-remote-unpinned",
        "ssh-host-key-pinned",
        add(
            "command:remote:CopyToRemote",
            "copy-model",
            {
                "connection": {"host": "10.10.0.11", "user": "deploy", "port": 22},
                "remotePath": "/tmp/model",
            },
            provider_type="command",
        ),
    ),
    Case(
        "jump-host-unpinned",
        "ssh-host-key-pinned",
        edit(
            NET_SERVER,
            lambda p: _connection(p).update({"proxy": {"host": "10.10.0.12", "user": "deploy"}}),
        ),
    ),
    Case(
        "blank-host-key",
        "ssh-host-key-pinned",
        edit(NODE_DRAIN, lambda p: _connection(p).update({"hostKey": "  "})),
    ),
    Case(
        "remote-host-outside",
        "remote-steps-on-site-hosts",
        edit(NET_SERVER, lambda p: _connection(p).update({"host": "192.168.7.11"})),
    ),
    Case(
        "remote-host-by-name",
        "remote-steps-on-site-hosts",
        edit(NODE_DRAIN, lambda p: _connection(p).update({"host": "dca-cp-1.bank.internal"})),
    ),
    Case(
        "delete-step-host-outside",
        "remote-steps-on-site-hosts",
        edit(NODE_DELETE, lambda p: _connection(p).update({"host": "10.99.0.11"})),
    ),
    # --- exposure: pools and addresses, Ingress, a second Gateway
    Case(
        "public-pool",
        POOLS,
        edit(POOL, lambda p: p["spec"].update({"addresses": ["203.0.113.0/29"]})),
    ),
    Case(
        "pool-outside-the-site",
        POOLS,
        edit(POOL, lambda p: p["spec"].update({"addresses": ["10.10.5.0/24"]})),
    ),
    Case(
        "pool-range-too-wide",
        POOLS,
        edit(POOL, lambda p: p["spec"].update({"addresses": ["10.10.0.200-10.10.0.240"]})),
    ),
    Case(
        "proxy-address-outside-the-pool",
        POOLS,
        edit(
            ENVOY_PROXY,
            lambda p: p["spec"]["provider"]["kubernetes"]["envoyService"]["annotations"].update(
                {"metallb.universe.tf/loadBalancerIPs": "10.10.0.230"}
            ),
        ),
    ),
    Case(
        "proxy-address-new-annotation",
        POOLS,
        edit(
            ENVOY_PROXY,
            lambda p: p["spec"]["provider"]["kubernetes"]["envoyService"]["annotations"].update(
                {"metallb.io/loadBalancerIPs": "10.10.0.201,192.0.2.10"}
            ),
        ),
    ),
    Case(
        "service-load-balancer-ip-outside",
        POOLS,
        add(
            "kubernetes:core/v1:Service",
            "gateway-extra",
            {
                "metadata": {"name": "extra", "namespace": "gateway"},
                "spec": {
                    "type": "LoadBalancer",
                    "loadBalancerIP": "10.10.9.9",
                    "ports": [{"port": 443}],
                },
            },
        ),
    ),
    Case(
        "ingress-object",
        EXPOSURE,
        add(
            "kubernetes:networking.k8s.io/v1:Ingress",
            "side-door",
            {
                "metadata": {"name": "side-door", "namespace": "inference"},
                "spec": {"rules": [{"host": "r1.bank.internal"}]},
            },
        ),
    ),
    Case(
        "second-gateway",
        EXPOSURE,
        add(
            "kubernetes:gateway.networking.k8s.io/v1:Gateway",
            "shadow-gateway",
            {
                "metadata": {"name": "shadow", "namespace": "gateway"},
                "spec": {"gatewayClassName": "deepseek", "listeners": []},
            },
        ),
    ),
    Case(
        "gateway-in-inference",
        EXPOSURE,
        edit(
            k8s("Gateway", "deepseek"), lambda p: p["metadata"].update({"namespace": "inference"})
        ),
    ),
    # --- RBAC and scheduling
    Case(
        "cluster-admin-binding",
        "no-cluster-admin-bindings",
        add(
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "ops-admin",
            _binding("ClusterRoleBinding", "ClusterRole", "cluster-admin", SERVICE_ACCOUNT),
        ),
    ),
    Case(
        "namespaced-cluster-admin",
        "no-cluster-admin-bindings",
        add(
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            "ns-admin",
            _binding("RoleBinding", "ClusterRole", "cluster-admin", SERVICE_ACCOUNT, "inference"),
        ),
    ),
    Case(
        "wildcard-role-bound",
        "no-cluster-admin-bindings",
        edit(
            k8s("ClusterRole", "local-path-provisioner"),
            lambda p: p["rules"].append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
            target=k8s("ClusterRoleBinding", "local-path-provisioner"),
        ),
    ),
    Case(
        "system-masters-subject",
        "no-cluster-admin-bindings",
        edit(
            k8s("RoleBinding", "local-path-provisioner"),
            lambda p: p["subjects"].append(
                {"kind": "Group", "name": "system:masters", "apiGroup": "rbac.authorization.k8s.io"}
            ),
        ),
    ),
    Case(
        "mpijob-without-priority",
        "training-jobs-at-their-priority",
        edit(MPIJOB, lambda p: _launcher(p).pop("priorityClassName")),
    ),
    Case(
        "mpijob-at-serving-priority",
        "training-jobs-at-their-priority",
        edit(MPIJOB, lambda p: _worker(p).update({"priorityClassName": "high-priority"})),
    ),
    Case(
        "pytorch-job-without-priority",
        "training-jobs-at-their-priority",
        add(
            "kubernetes:kubeflow.org/v1:PyTorchJob",
            "pytorch",
            {
                "metadata": {"name": "pt", "namespace": "training"},
                "spec": {"pytorchReplicaSpecs": {"Master": {"template": {"spec": _pinned_pod()}}}},
            },
        ),
    ),
    Case(
        "batch-job-in-training-without-priority",
        "training-jobs-at-their-priority",
        add("kubernetes:batch/v1:Job", "finetune", _workload("Job", "training", _pinned_pod())),
    ),
    Case(
        "envoy-proxy-container-net-admin",
        PRIVILEGE,
        edit(
            ENVOY_PROXY,
            _add_caps(
                lambda p: p["spec"]["provider"]["kubernetes"]["envoyDeployment"]["container"],
                "NET_ADMIN",
            ),
        ),
    ),
    Case(
        "envoy-proxy-pod-host-pid",
        PRIVILEGE,
        edit(
            ENVOY_PROXY,
            lambda p: p["spec"]["provider"]["kubernetes"]["envoyDeployment"]["pod"].update(
                {"hostPID": True}
            ),
        ),
    ),
    # --- review of issue 15: other kinds and other spellings that passed
    Case(
        "namespace-patch-to-privileged",
        PRIVILEGE,
        add(
            "kubernetes:core/v1:NamespacePatch",
            "inference-privileged",
            {
                "metadata": {
                    "name": "inference",
                    "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
                }
            },
        ),
    ),
    Case(
        "service-patch-to-load-balancer",
        EXPOSURE,
        add(
            "kubernetes:core/v1:ServicePatch",
            "r1-exposed",
            {
                "metadata": {"name": "r1-qwen-32b", "namespace": "inference"},
                "spec": {"type": "LoadBalancer"},
            },
        ),
    ),
    Case(
        "network-policy-patch-to-the-internet",
        "egress-within-allow-list",
        add(
            "kubernetes:networking.k8s.io/v1:NetworkPolicyPatch",
            "open-dns",
            {
                "metadata": {"name": "allow-dns", "namespace": "inference"},
                "spec": {
                    "egress": [
                        {"to": [{"ipBlock": {"cidr": "0.0.0.0/1"}}]},
                        {"to": [{"ipBlock": {"cidr": "128.0.0.0/1"}}]},
                    ]
                },
            },
        ),
    ),
    Case(
        "calico-egress-by-dns-domains",
        "egress-within-allow-list",
        add(
            CALICO_GLOBAL,
            "cloud-by-name",
            _calico(
                "GlobalNetworkPolicy",
                {
                    "selector": "all()",
                    "egress": [
                        {"action": "Allow", "destination": {"domains": ["*.amazonaws.com"]}}
                    ],
                },
            ),
        ),
    ),
    Case(
        "pod-template-privileged",
        PRIVILEGE,
        add(
            "kubernetes:core/v1:PodTemplate",
            "debug-template",
            {
                "metadata": {"name": "debug", "namespace": "inference"},
                "template": {
                    "spec": _pinned_pod(container={"securityContext": {"privileged": True}})
                },
            },
        ),
    ),
    Case(
        "external-ip-in-the-gateway-outside-the-pool",
        POOLS,
        add(
            "kubernetes:core/v1:Service",
            "gateway-external-ip",
            {
                "metadata": {"name": "side", "namespace": "gateway"},
                "spec": {"externalIPs": ["203.0.113.5"], "ports": [{"port": 443}]},
            },
        ),
    ),
    Case(
        "jump-host-outside-the-node-networks",
        "remote-steps-on-site-hosts",
        edit(
            NET_SERVER,
            lambda p: _connection(p).update(
                {"proxy": {"host": "203.0.113.5", "user": "deploy", "hostKey": "ssh-ed25519 AAAA"}}
            ),
        ),
    ),
    Case("env-pgpassword", PLAINTEXT, edit(TRITON, _env(_triton, "PGPASSWORD", "hunter2hunter2"))),
    Case(
        "helm-values-numeric-password",
        PLAINTEXT,
        edit(GPU_OPERATOR, lambda p: p["values"].update({"vault": {"adminPassword": 31415926535}})),
    ),
    Case(
        "args-flag-then-password",
        PLAINTEXT,
        edit(
            TRITON, lambda p: _fetch(p).setdefault("args", []).extend(["--db-password", "c0rr3ct"])
        ),
    ),
    Case(
        "command-create-password-flag",
        PLAINTEXT,
        edit(NET_SERVER, _command("create", "REG_LOGIN='--registry-password c0rr3cthorse'")),
    ),
    Case(
        "helm-values-key-value-env",
        PLAINTEXT,
        edit(
            METALLB,
            lambda p: p["values"]["speaker"].update(
                {"extraEnv": [{"key": "MEMBERLIST_SECRETKEY", "value": "q1w2e3r4t5y6"}]}
            ),
        ),
    ),
    Case(
        "pod-in-training-without-priority",
        "training-jobs-at-their-priority",
        add(
            "kubernetes:core/v1:Pod",
            "notebook",
            {
                "metadata": {"name": "notebook", "namespace": "training"},
                "spec": _pinned_pod(),
            },
        ),
    ),
    Case(
        "trainer-kubeflow-job-without-priority",
        "training-jobs-at-their-priority",
        add(
            "kubernetes:trainer.kubeflow.org/v1alpha1:TrainJob",
            "trainjob",
            {
                "metadata": {"name": "tj", "namespace": "training"},
                "spec": {"podSpecOverrides": [_plain_pod_spec(IMAGE)]},
            },
        ),
    ),
]


def _object(type_: str, name: str, spec: dict, namespace: str | None = None, **top) -> dict:
    """A Kubernetes object of the Pulumi type `type_` (`kubernetes:<apiVersion>:<kind>`)."""
    _, api_version, kind = type_.split(":")
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec, **top}


CALICO_V1_GLOBAL_SET = "kubernetes:crd.projectcalico.org/v1:GlobalNetworkSet"
CALICO_V3_GLOBAL_SET = "kubernetes:projectcalico.org/v3:GlobalNetworkSet"
CALICO_V1_SET = "kubernetes:crd.projectcalico.org/v1:NetworkSet"
CALICO_V3_SET = "kubernetes:projectcalico.org/v3:NetworkSet"
ANP = "kubernetes:policy.networking.k8s.io/v1alpha1:AdminNetworkPolicy"
BANP = "kubernetes:policy.networking.k8s.io/v1alpha1:BaselineAdminNetworkPolicy"
EGRESS = "egress-within-allow-list"
INGRESS = "ingress-from-named-peers"
PRIORITY = "training-jobs-at-their-priority"
ALL_NAMESPACES = {"namespaces": {}}


def _network_set(type_: str, name: str, namespace: str | None = None, **spec) -> Callable:
    return add(type_, name, _object(type_, name, spec, namespace))


def _admin(type_: str, name: str, direction: str, *rules: dict) -> Callable:
    spec = {"subject": ALL_NAMESPACES, direction: list(rules)}
    if type_ == ANP:
        spec["priority"] = 10
    return add(type_, name, _object(type_, name, spec))


def _rule(action: str, peers: list | None, key: str = "to") -> dict:
    return {"name": "r", "action": action, **({key: peers} if peers is not None else {})}


CASES += [
    # --- Calico network sets: what a policy reaches by selector lies on the egress allow-list
    Case(
        "calico-global-network-set-internet",
        EGRESS,
        _network_set(CALICO_V1_GLOBAL_SET, "everything", nets=["0.0.0.0/0"]),
    ),
    Case(
        "calico-network-set-two-halves",
        EGRESS,
        _network_set(CALICO_V3_SET, "halves", "inference", nets=["0.0.0.0/1", "128.0.0.0/1"]),
    ),
    Case(
        "calico-global-network-set-public-beside-allowed",
        EGRESS,
        _network_set(CALICO_V3_GLOBAL_SET, "mixed", nets=["10.10.0.0/22", "203.0.113.0/24"]),
    ),
    Case(
        "calico-network-set-whole-bank-network",
        EGRESS,
        _network_set(CALICO_V1_SET, "bank-wide", "training", nets=["10.0.0.0/8"]),
    ),
    Case(
        "calico-network-set-ipv6-everything-and-a-host",
        EGRESS,
        _network_set(CALICO_V3_SET, "v6", "monitoring", nets=["::/0", "8.8.8.8"]),
    ),
    Case(
        "calico-global-network-set-egress-domains",
        EGRESS,
        _network_set(CALICO_V3_GLOBAL_SET, "saas", allowedEgressDomains=["*.amazonaws.com"]),
    ),
    Case(
        "calico-global-network-set-patch-to-the-internet",
        EGRESS,
        _network_set(f"{CALICO_V1_GLOBAL_SET}Patch", "widen", nets=[" 0.0.0.0/0 "]),
    ),
    # --- AdminNetworkPolicy and BaselineAdminNetworkPolicy: evaluated around NetworkPolicies
    Case(
        "anp-allow-egress-to-the-internet",
        EGRESS,
        _admin(ANP, "internet", "egress", _rule("Allow", [{"networks": ["0.0.0.0/0"]}])),
    ),
    Case(
        "anp-pass-egress-two-halves",
        EGRESS,
        _admin(
            ANP,
            "halves",
            "egress",
            _rule("Pass", [{"networks": ["0.0.0.0/1"]}, {"networks": ["128.0.0.0/1"]}]),
        ),
    ),
    Case(
        "banp-allow-egress-to-a-public-network-beside-namespaces",
        EGRESS,
        _admin(
            BANP,
            "default",
            "egress",
            _rule("Deny", [{"networks": ["0.0.0.0/0"]}]),
            _rule("Allow", [ALL_NAMESPACES, {"networks": ["198.51.100.0/24"]}]),
        ),
    ),
    Case(
        "anp-allow-egress-without-peers",
        EGRESS,
        _admin(ANP, "no-peers", "egress", _rule("Allow", None)),
    ),
    Case(
        "anp-allow-egress-to-an-empty-peer",
        EGRESS,
        _admin(ANP, "empty-peer", "egress", _rule("allow", [{}])),
    ),
    Case(
        "anp-allow-egress-by-domain-name",
        EGRESS,
        _admin(ANP, "saas", "egress", _rule("Allow", [{"domainNames": ["*.openai.com"]}])),
    ),
    Case(
        "anp-patch-egress-to-a-public-host",
        EGRESS,
        _admin(f"{ANP}Patch", "widen", "egress", _rule("Allow", [{"networks": ["8.8.8.8/32"]}])),
    ),
    Case(
        "anp-allow-ingress-without-peers",
        INGRESS,
        _admin(ANP, "open-in", "ingress", _rule("Allow", None, "from")),
    ),
    Case(
        "anp-pass-ingress-from-no-peer",
        INGRESS,
        _admin(ANP, "pass-in", "ingress", _rule("Pass", [], "from")),
    ),
    Case(
        "banp-allow-ingress-from-an-empty-peer",
        INGRESS,
        _admin(BANP, "default", "ingress", _rule("Allow", [{}], "from")),
    ),
    # --- PriorityClasses: training below serving's value, no class made the default
    Case(
        "priority-batch-low-at-serving",
        PRIORITY,
        edit(k8s("PriorityClass", "batch-low"), _set(["value"], 1_000_000)),
    ),
    Case(
        "priority-batch-low-above-serving-in-dc-b",
        PRIORITY,
        edit(k8s("PriorityClass", "batch-low", site="dc-b"), _set(["value"], 2_000_000_000)),
    ),
    Case(
        "priority-batch-low-patched-up",
        PRIORITY,
        add(
            "kubernetes:scheduling.k8s.io/v1:PriorityClassPatch",
            "batch-up",
            {"metadata": {"name": "batch-low"}, "value": 5_000_000},
        ),
    ),
    Case(
        "priority-serving-lowered",
        PRIORITY,
        edit(k8s("PriorityClass", "high-priority"), _set(["value"], 500)),
    ),
    Case(
        "priority-serving-made-global-default",
        PRIORITY,
        edit(k8s("PriorityClass", "high-priority"), _set(["globalDefault"], True)),
    ),
    Case(
        "priority-new-class-global-default-as-a-string",
        PRIORITY,
        add(
            "kubernetes:scheduling.k8s.io/v1:PriorityClass",
            "everyone",
            {"metadata": {"name": "everyone"}, "value": 10, "globalDefault": "true"},
        ),
    ),
]


# --- issue 17: storage classes in Helm values, and backup locations at the other site only ----

BACKUP = "backup-locations-at-target-sites"
VELERO = named("-dc-a-velero-release")
CEPH_CSI = named("-dc-a-ceph-csi-release")


def _values(props: dict) -> dict:
    return _open(props["values"])


def _location(props: dict) -> dict:
    return _values(props)["configuration"]["backupStorageLocation"][0]


def _backup_location(url: str) -> dict:
    return {
        "metadata": {"name": "elsewhere", "namespace": "velero"},
        "spec": {
            "provider": "aws",
            "objectStorage": {"bucket": "velero-dc-a"},
            "config": {"region": "de-muc", "s3ForcePathStyle": "true", "s3Url": url},
        },
    }


CASES += [
    Case(
        "helm-values-claim-on-nfs",
        STORAGE,
        edit(
            GPU_OPERATOR,
            lambda p: _values(p).update({"persistence": {"storageClass": "nfs-client"}}),
        ),
    ),
    Case(
        "helm-values-chart-makes-its-own-class",
        STORAGE,
        edit(
            CEPH_CSI,
            lambda p: _values(p).update({"storageClass": {"create": True, "name": "csi-rbd-sc"}}),
        ),
    ),
    Case(
        "helm-values-claim-on-the-default-class",
        STORAGE,
        edit(GPU_OPERATOR, lambda p: _values(p).update({"storageClassName": ""})),
    ),
    Case(
        "velero-backs-up-to-its-own-site",
        BACKUP,
        edit(VELERO, lambda p: _location(p)["config"].update({"s3Url": "http://10.10.2.10:8080"})),
    ),
    Case(
        "velero-backs-up-to-another-store",
        BACKUP,
        edit(
            VELERO,
            lambda p: _location(p)["config"].update({"s3Url": "https://s3.backup.bank.internal"}),
        ),
    ),
    Case(
        "velero-backs-up-to-the-rgw-on-another-port",
        BACKUP,
        edit(VELERO, lambda p: _location(p)["config"].update({"s3Url": "http://10.20.2.10:7480"})),
    ),
    Case(
        "velero-backs-up-to-aws-itself",
        BACKUP,
        edit(VELERO, lambda p: _location(p)["config"].pop("s3Url")),
    ),
    Case(
        "velero-location-of-another-provider",
        BACKUP,
        edit(VELERO, lambda p: _location(p).update({"provider": "velero.io/azure"})),
    ),
    Case(
        "backup-location-at-another-rgw",
        BACKUP,
        add(
            "kubernetes:velero.io/v1:BackupStorageLocation",
            "elsewhere",
            _backup_location("https://rgw.dc-c.bank.internal"),
        ),
    ),
    Case(
        "backup-location-at-its-own-site",
        BACKUP,
        add(
            "kubernetes:velero.io/v1:BackupStorageLocation",
            "home",
            _backup_location("http://10.10.2.10:8080"),
        ),
    ),
]
