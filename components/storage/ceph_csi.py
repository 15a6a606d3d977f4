"""ceph-csi RBD in a site's cluster: the upstream `ceph-csi-rbd` chart with its plugin image
pinned to the chart's release (the chart's development default is `canary`), configured from
the site's Ceph cluster (fsid, monitors, the CSI client's key), and StorageClass `ceph-rbd`
for data that must survive a node: block volumes in the site's own Ceph, retained when their
claim goes."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import Mirrors, Site, Storage
from components.context import SiteContext
from components.storage.allow_policies import ceph_csi_policies

STORAGE_CLASS = "ceph-rbd"
PROVISIONER = "rbd.csi.ceph.com"
"""The chart's `driverName` (its default, which the StorageClass names)."""
SECRET_NAME = "csi-rbd-secret"
"""The Secret with the CSI client's Ceph user and key (keys `userID`, `userKey`, as the chart's
own `secret.*` would write them); we write it ourselves so the key never enters Helm values."""
CHART = "ceph-csi-rbd"

SIDECARS = {
    ("nodeplugin", "registrar"): "registry.k8s.io/sig-storage/csi-node-driver-registrar",
    ("provisioner", "provisioner"): "registry.k8s.io/sig-storage/csi-provisioner",
    ("provisioner", "attacher"): "registry.k8s.io/sig-storage/csi-attacher",
    ("provisioner", "resizer"): "registry.k8s.io/sig-storage/csi-resizer",
    ("provisioner", "snapshotter"): "registry.k8s.io/sig-storage/csi-snapshotter",
}
"""The chart's Kubernetes CSI sidecars (values path → upstream image): their tags stay the
chart's own pins, their repositories move to the internal registry."""
PLUGIN_IMAGE = "quay.io/cephcsi/cephcsi"

GPU_TOLERATION = {"key": contracts.GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
"""GPU nodes are tainted: the node plugin must run there too, or no pod on a GPU node could
mount a `ceph-rbd` volume."""


def plugin_tag(storage: Storage) -> str:
    """The cephcsi image of the chart's own release, never the chart's `canary` default."""
    return f"v{storage.ceph_csi_chart_version.removeprefix('v')}"


def provisioner_replicas(site: Site) -> int:
    """The provisioner elects a leader; more replicas only fail over. One per worker, at most
    three (the chart's default)."""
    workers = [h for h in site.hosts if "worker" in h.roles]
    return max(1, min(3, len(workers)))


def ceph_csi_values(
    storage: Storage,
    mirrors: Mirrors,
    site: Site,
    cluster_id: pulumi.Input[str],
    monitors: pulumi.Input[Sequence[str]],
) -> dict:
    """The chart's values (keys as in charts/ceph-csi-rbd/values.yaml of ceph/ceph-csi): the
    one Ceph cluster it serves, every image from the internal registry, and neither the chart's
    StorageClass nor its Secret (this component makes both)."""
    values: dict = {
        "csiConfig": [{"clusterID": cluster_id, "monitors": monitors}],
        "storageClass": {"create": False},
        "secret": {"create": False},
        "nodeplugin": {
            "plugin": {
                "image": {"repository": mirror(mirrors, PLUGIN_IMAGE), "tag": plugin_tag(storage)}
            },
            "tolerations": [GPU_TOLERATION],
        },
        "provisioner": {
            "replicaCount": provisioner_replicas(site),
            "tolerations": [GPU_TOLERATION],
        },
    }
    for (component, sidecar), upstream in SIDECARS.items():
        values[component].setdefault(sidecar, {})["image"] = {
            "repository": mirror(mirrors, upstream)
        }
    return values


def storage_class_parameters(cluster_id: pulumi.Input[str], pool: str) -> dict:
    """What ceph-csi reads from the StorageClass: the cluster and pool, and where the Secret
    with the client key is for each operation (create, expand, mount)."""
    parameters: dict = {
        "clusterID": cluster_id,
        "pool": pool,
        "imageFeatures": "layering",
        "csi.storage.k8s.io/fstype": "ext4",
    }
    for operation in ("provisioner", "controller-expand", "node-stage"):
        parameters[f"csi.storage.k8s.io/{operation}-secret-name"] = SECRET_NAME
        parameters[f"csi.storage.k8s.io/{operation}-secret-namespace"] = contracts.CEPH_CSI
    return parameters


def namespace_labels(namespace: str) -> dict[str, str]:
    """As the baseline labels its system namespaces whose pods need the host (the node
    plugin maps RBD images on the host, privileged, on the host network)."""
    return {
        "deepseek.bank/purpose": namespace,
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }


@dataclass(frozen=True)
class CephCsiArgs:
    """Inputs of `CephCsi`."""

    ctx: SiteContext
    storage: Storage
    """The pinned chart (and so the plugin image)."""
    cluster_id: pulumi.Output[str]
    """The site's Ceph fsid: ceph-csi's clusterID."""
    monitors: pulumi.Output[list[str]]
    """The monitors' `address:port`s."""
    csi_user: str
    """The Ceph client ceph-csi authenticates as (without `client.`)."""
    csi_key: pulumi.Output[str]
    """Its cephx key (secret)."""
    rbd_pool: str
    """The RBD pool volumes are created in."""
    ready: pulumi.Resource
    """The Ceph cluster's readiness: the pool and the client exist."""


class CephCsi(pulumi.ComponentResource):
    """ceph-csi RBD and StorageClass `ceph-rbd` in a site's cluster (`deepseek:storage:CephCsi`)."""

    def __init__(self, name: str, args: CephCsiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("deepseek:storage:CephCsi", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": contracts.CEPH_CSI, "labels": namespace_labels(contracts.CEPH_CSI)},
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[namespace])
        )
        policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata={"name": policy, "namespace": contracts.CEPH_CSI},
                spec=spec,
                opts=in_namespace,
            )
            for policy, spec in ceph_csi_policies(ctx.site).items()
        ]
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={"name": SECRET_NAME, "namespace": contracts.CEPH_CSI},
            string_data={"userID": args.csi_user, "userKey": pulumi.Output.secret(args.csi_key)},
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(additional_secret_outputs=["stringData"])
            ),
        )
        release = mirrored_release(
            f"{name}-release",
            chart=CHART,
            version=args.storage.ceph_csi_chart_version,
            namespace=contracts.CEPH_CSI,
            values=ceph_csi_values(
                args.storage, ctx.mirrors, ctx.site, args.cluster_id, args.monitors
            ),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions.merge(
                in_namespace,
                pulumi.ResourceOptions(depends_on=[secret, *policies, args.ready]),
            ),
        )
        k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata={"name": STORAGE_CLASS},
            provisioner=PROVISIONER,
            parameters=storage_class_parameters(args.cluster_id, args.rbd_pool),
            # Data is never deleted with its claim: an operator removes the image on purpose.
            reclaim_policy="Retain",
            allow_volume_expansion=True,
            # The cluster is one site's, but the class says so too: a claim binds only for a
            # pod the scheduler placed in the site's region (the node label kubeadm sets).
            volume_binding_mode="WaitForFirstConsumer",
            allowed_topologies=[
                {
                    "matchLabelExpressions": [
                        {"key": contracts.REGION_LABEL, "values": [ctx.site.region]}
                    ]
                }
            ],
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[release])),
        )
        self.register_outputs({})
