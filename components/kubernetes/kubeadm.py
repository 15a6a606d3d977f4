"""kubeadm configuration (v1beta4) and the kube-vip static pod, rendered from typed config.

Pure functions. Secrets never enter these documents: the join token and certificate key
appear as placeholders that the scripts replace on the host from their secret inputs.
"""

import yaml

from components import contracts
from components.catalog import GPU_MODELS
from components.config import Host, Kubernetes, Mirrors, Site

TOKEN_PLACEHOLDER = "__KUBEADM_TOKEN__"
CERTIFICATE_KEY_PLACEHOLDER = "__KUBEADM_CERTIFICATE_KEY__"
CA_HASH_PLACEHOLDER = "__KUBEADM_CA_CERT_HASH__"
API_PORT = contracts.API_SERVER_PORT
KUBEADM_API = "kubeadm.k8s.io/v1beta4"
# libyaml's emitter when PyYAML has it: one join configuration per host adds up at scale.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _yaml(*documents: dict) -> str:
    return yaml.dump_all(documents, Dumper=_DUMPER, sort_keys=False)


def _args(values: dict[str, str]) -> list[dict[str, str]]:
    # v1beta4 writes extra arguments as a list of name/value pairs, not a map.
    return [{"name": key, "value": value} for key, value in sorted(values.items())]


def node_labels(site: Site, host: Host) -> dict[str, str]:
    """Labels the kubelet registers the node with: site, zone and GPU product."""
    labels = {
        contracts.REGION_LABEL: site.region,
        contracts.ZONE_LABEL: site.zone,
        contracts.SITE_LABEL: site.name,
        contracts.NODE_POOL_LABEL: host.node_pool,
    }
    if host.gpu:
        labels[contracts.GPU_MODEL_LABEL] = host.gpu.model
        labels["nvidia.com/gpu.present"] = "true"
        # The value GPU Feature Discovery itself sets, so schedulers can select on it before
        # the GPU Operator is up and nothing changes when GFD takes the label over.
        labels[contracts.GPU_PRODUCT_LABEL] = (
            GPU_MODELS[host.gpu.model].smi_product_names[0].replace(" ", "-")
        )
        # Selects this model's entry of the device plugin's config (time-slicing or MIG).
        labels["nvidia.com/device-plugin.config"] = host.gpu.model
    return labels


def node_taints(host: Host) -> list[dict[str, str]]:
    """GPU nodes only take pods that tolerate their pool; control planes keep kubeadm's."""
    taints = []
    if "control-plane" in host.roles:
        taints.append({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
    if host.gpu:
        taints.append(
            {"key": contracts.GPU_TAINT_KEY, "value": host.node_pool, "effect": "NoSchedule"}
        )
    return taints


def _node_registration(site: Site, host: Host) -> dict[str, object]:
    labels = ",".join(f"{k}={v}" for k, v in sorted(node_labels(site, host).items()))
    return {
        "name": host.name,
        "criSocket": "unix:///run/containerd/containerd.sock",
        "kubeletExtraArgs": _args({"node-ip": str(host.address), "node-labels": labels}),
        "taints": node_taints(host),
    }


def cluster_configuration(site: Site, kubernetes: Kubernetes, mirrors: Mirrors) -> dict:
    net = site.network
    return {
        "apiVersion": KUBEADM_API,
        "kind": "ClusterConfiguration",
        "clusterName": site.name,
        "kubernetesVersion": f"v{kubernetes.version}",
        "controlPlaneEndpoint": f"{net.api_vip}:{API_PORT}",
        "imageRepository": f"{mirrors.image_registry}/registry.k8s.io",
        "networking": {
            "podSubnet": str(net.pod_cidr),
            "serviceSubnet": str(net.service_cidr),
            "dnsDomain": "cluster.local",
        },
        "apiServer": {
            "certSANs": sorted(
                {str(net.api_vip), *(str(h.address) for h in site.hosts_with_role("control-plane"))}
            ),
            "extraArgs": _args({"profiling": "false", "anonymous-auth": "true"}),
        },
        "controllerManager": {"extraArgs": _args({"profiling": "false"})},
        "scheduler": {"extraArgs": _args({"profiling": "false"})},
    }


def init_configuration(site: Site, host: Host) -> dict:
    return {
        "apiVersion": KUBEADM_API,
        "kind": "InitConfiguration",
        "bootstrapTokens": [
            {
                "token": TOKEN_PLACEHOLDER,
                "ttl": "24h0m0s",
                "usages": ["signing", "authentication"],
                "groups": ["system:bootstrappers:kubeadm:default-node-token"],
            }
        ],
        "certificateKey": CERTIFICATE_KEY_PLACEHOLDER,
        "localAPIEndpoint": {"advertiseAddress": str(host.address), "bindPort": API_PORT},
        "nodeRegistration": _node_registration(site, host),
    }


def join_configuration(site: Site, host: Host, control_plane: bool) -> dict:
    document: dict[str, object] = {
        "apiVersion": KUBEADM_API,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "token": TOKEN_PLACEHOLDER,
                "apiServerEndpoint": f"{site.network.api_vip}:{API_PORT}",
                "caCertHashes": [CA_HASH_PLACEHOLDER],
            }
        },
        "nodeRegistration": _node_registration(site, host),
    }
    if control_plane:
        document["controlPlane"] = {
            "localAPIEndpoint": {"advertiseAddress": str(host.address), "bindPort": API_PORT},
            "certificateKey": CERTIFICATE_KEY_PLACEHOLDER,
        }
    return document


def init_config_yaml(site: Site, host: Host, kubernetes: Kubernetes, mirrors: Mirrors) -> str:
    return _yaml(cluster_configuration(site, kubernetes, mirrors), init_configuration(site, host))


def join_config_yaml(site: Site, host: Host, control_plane: bool) -> str:
    return _yaml(join_configuration(site, host, control_plane))


def kube_vip_manifest(site: Site, kubernetes: Kubernetes, mirrors: Mirrors) -> str:
    """kube-vip as a static pod on every control-plane host, announcing the API VIP by ARP.

    Chosen over keepalived + haproxy: one static pod that kubeadm's own manifests directory
    manages, no extra system packages or daemons per host, and leader election through the
    API server instead of VRRP that an SDN fabric may filter.
    """
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "hostNetwork": True,
            "containers": [
                {
                    "name": "kube-vip",
                    "image": f"{mirrors.image_registry}/ghcr.io/kube-vip/kube-vip:"
                    f"{kubernetes.kube_vip_version}",
                    "args": ["manager"],
                    "env": [
                        {"name": "address", "value": str(site.network.api_vip)},
                        {"name": "port", "value": str(API_PORT)},
                        {"name": "vip_arp", "value": "true"},
                        {"name": "cp_enable", "value": "true"},
                        {"name": "vip_leaderelection", "value": "true"},
                        {"name": "vip_leaseduration", "value": "5"},
                        {"name": "vip_renewdeadline", "value": "3"},
                        {"name": "vip_retryperiod", "value": "1"},
                    ],
                    "securityContext": {
                        "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}
                    },
                    "volumeMounts": [
                        {"name": "kubeconfig", "mountPath": "/etc/kubernetes/admin.conf"}
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "kubeconfig",
                    "hostPath": {"path": "/etc/kubernetes/admin.conf", "type": "FileOrCreate"},
                }
            ],
        },
    }
    return _yaml(pod)
