"""local-path-provisioner with StorageClass `local-path` (the guide's class for node-local
data): PVCs bound to a directory on the node that runs the pod, so the data stays there."""

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import checkov_skips, mirror
from components.config import Kubernetes
from components.context import SiteContext
from components.network_policy import api_servers

APP = "local-path-provisioner"
DATA_DIR = "/var/lib/deepseek/local-path"


@dataclass(frozen=True)
class LocalPathArgs:
    """Inputs of `LocalPathProvisioner`."""

    ctx: SiteContext
    kubernetes: Kubernetes
    """The pinned local-path-provisioner version."""


class LocalPathProvisioner(pulumi.ComponentResource):
    """Provisioner, its RBAC and the `local-path` StorageClass
    (`deepseek:kubernetes:LocalPathProvisioner`)."""

    def __init__(self, name: str, args: LocalPathArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("deepseek:kubernetes:LocalPathProvisioner", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        in_namespace = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[ctx.namespace(contracts.LOCAL_PATH)])
        )
        namespace = contracts.LOCAL_PATH
        account = k8s.core.v1.ServiceAccount(
            f"{name}-account",
            metadata={"name": APP, "namespace": namespace},
            automount_service_account_token=False,
            opts=in_namespace,
        )
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-role",
            metadata={"name": APP},
            rules=[
                {
                    "apiGroups": [""],
                    "resources": [
                        "nodes",
                        "persistentvolumeclaims",
                        "configmaps",
                        "pods",
                        "pods/log",
                    ],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["persistentvolumes"],
                    "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"],
                },
                {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
                {
                    "apiGroups": ["storage.k8s.io"],
                    "resources": ["storageclasses"],
                    "verbs": ["get", "list", "watch"],
                },
            ],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-role-binding",
            metadata={"name": APP},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": APP},
            subjects=[{"kind": "ServiceAccount", "name": APP, "namespace": namespace}],
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[role, account])
            ),
        )
        # The helper pods it starts create and remove the volume directories on the node.
        namespace_role = k8s.rbac.v1.Role(
            f"{name}-helper-role",
            metadata={"name": APP, "namespace": namespace},
            rules=[
                {
                    "apiGroups": [""],
                    "resources": ["pods"],
                    "verbs": ["get", "list", "watch", "create", "delete"],
                }
            ],
            opts=in_namespace,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-helper-role-binding",
            metadata={"name": APP, "namespace": namespace},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": APP},
            subjects=[{"kind": "ServiceAccount", "name": APP, "namespace": namespace}],
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(depends_on=[namespace_role, account])
            ),
        )
        busybox = mirror(ctx.mirrors, "docker.io/library/busybox") + ":1.36.1"
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{APP}-config", "namespace": namespace},
            data={
                "config.json": json.dumps(
                    {
                        "nodePathMap": [
                            {"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [DATA_DIR]}
                        ]
                    },
                    indent=2,
                ),
                "setup": '#!/bin/sh\nset -eu\nmkdir -m 0770 -p "$VOL_DIR"\n',
                "teardown": '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
                "helperPod.yaml": json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": "helper-pod"},
                        "spec": {
                            "priorityClassName": "system-node-critical",
                            "containers": [
                                {
                                    "name": "helper-pod",
                                    "image": busybox,
                                    "imagePullPolicy": "IfNotPresent",
                                }
                            ],
                        },
                    }
                ),
            },
            opts=in_namespace,
        )
        labels = {"app.kubernetes.io/name": APP}
        image = mirror(ctx.mirrors, "docker.io/rancher/local-path-provisioner")
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={
                "name": APP,
                "namespace": namespace,
                "labels": labels,
                "annotations": checkov_skips(
                    ("CKV_K8S_38", "the provisioner watches PVCs and creates PVs through the API"),
                    ("CKV_K8S_8", "the provisioner serves no endpoint a liveness probe could call"),
                    (
                        "CKV_K8S_9",
                        "the provisioner serves no endpoint a readiness probe could call",
                    ),
                    (
                        "CKV_K8S_43",
                        "pinned by tag in the internal mirror; tags are immutable there",
                    ),
                ),
            },
            spec={
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": APP,
                        "automountServiceAccountToken": True,
                        "priorityClassName": "system-cluster-critical",
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 65532,
                            "runAsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": APP,
                                "image": f"{image}:{args.kubernetes.local_path_version}",
                                "imagePullPolicy": "Always",
                                "command": [
                                    "local-path-provisioner",
                                    "start",
                                    "--config",
                                    "/etc/config/config.json",
                                ],
                                "env": [
                                    {
                                        "name": "POD_NAMESPACE",
                                        "valueFrom": {
                                            "fieldRef": {"fieldPath": "metadata.namespace"}
                                        },
                                    },
                                    {"name": "CONFIG_MOUNT_PATH", "value": "/etc/config/"},
                                ],
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "64Mi"},
                                    "limits": {"cpu": "500m", "memory": "256Mi"},
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/config/"}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": f"{APP}-config"}}],
                    },
                },
            },
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(depends_on=[config, account])
            ),
        )
        # Nothing may reach the provisioner, and it reaches only the API server: through
        # the `kubernetes` Service, which Calico sees after DNAT as a control plane on 6443.
        network = ctx.site.network
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": APP, "namespace": namespace},
            spec={
                "podSelector": {"matchLabels": labels},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": [
                    {
                        "to": api_servers(ctx.site),
                        "ports": [{"protocol": "TCP", "port": contracts.API_SERVER_PORT}],
                    },
                    {
                        "to": [{"ipBlock": {"cidr": f"{network.service_cidr[1]}/32"}}],
                        "ports": [{"protocol": "TCP", "port": contracts.KUBERNETES_SERVICE_PORT}],
                    },
                ],
            },
            opts=in_namespace,
        )
        k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata={"name": "local-path"},
            provisioner="rancher.io/local-path",
            volume_binding_mode="WaitForFirstConsumer",
            # Data on a node outlives its claim until an operator removes it on purpose.
            reclaim_policy="Retain",
            opts=child,
        )
        self.register_outputs({})
