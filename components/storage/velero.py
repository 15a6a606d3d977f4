"""Velero in a site's cluster (the off-site copy of 3-2-1): the upstream chart with the AWS
object-store plugin pinned, the node agent backing up pod volumes with kopia, and one backup
location, the RGW of the site config names as this site's target (`backup.targets`). Objects
and volumes of the namespaces that hold data are backed up on `backup.schedule` and kept
`backup.retentionDays`; the kopia repository is encrypted with a password from pulumi-random."""

from dataclasses import dataclass
from ipaddress import IPv4Address

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components import contracts
from components.charts import mirror, mirrored_release
from components.config import Backup, Mirrors
from components.config.storage import BACKUP_BUCKET_PREFIX
from components.context import SiteContext
from components.storage.allow_policies import velero_policies
from components.storage.ceph_csi import GPU_TOLERATION, namespace_labels

CHART = "velero"
PLUGIN_IMAGE = "docker.io/velero/velero-plugin-for-aws"
VELERO_IMAGE = "docker.io/velero/velero"
KUBECTL_IMAGE = "docker.io/bitnami/kubectl"
"""The chart's CRD-upgrade job runs kubectl; its tag defaults to the cluster's version, which
the internal registry would have to guess: we pin it to the configured Kubernetes version."""

CREDENTIALS_SECRET = "velero-backup-target"
"""The S3 credentials of the backup location, as an AWS shared-credentials file under the key
`cloud` (the chart mounts it at /credentials/cloud and points AWS_SHARED_CREDENTIALS_FILE at
it)."""
REPOSITORY_SECRET = "velero-repo-credentials"
REPOSITORY_PASSWORD_KEY = "repository-password"
"""Where Velero reads the kopia repository's password (pkg/repository/keys/keys.go:
`velero-repo-credentials` / `repository-password`); when the Secret is missing, Velero creates
it with the built-in `static-passw0rd`, so ours must exist before the server starts."""
VOLUME_POLICY = "velero-volume-policy"
"""The resource policy (a ConfigMap with one key) every scheduled backup names."""

BACKED_UP_NAMESPACES = (*contracts.WORKLOAD_NAMESPACES, contracts.CERT_MANAGER)
"""The namespaces that hold data: the workloads' (claims, their configuration and Secrets)
and cert-manager's, where the internal CA's key Secret lives. Operators and the CNI hold
nothing their config does not recreate."""

EXCLUDED_RESOURCES = ("secrets",)
"""Never in a backup. Velero encrypts pod volumes (kopia, with the repository password) but
not a backup's Kubernetes objects: they reach the location as a gzipped tarball as they are
(Velero has no client-side encryption, velero discussion #7736; RGW's SSE-C needs HTTPS, and
RGW is plain HTTP here), so a Secret would cross to the other site and sit in its bucket in
plain text: the internal CA's key (cert-manager), the model store's S3 keys (the cache fill's
curl config). Each Secret of these namespaces is made again by `pulumi up` (from secret config
or pulumi-random, kept in state) or by cert-manager (certificates from that CA), and the CA's
key is kept off-site by the encrypted etcd snapshots."""

SKIPPED_VOLUME_TYPES = ("emptyDir",)
"""Pod volumes never copied off-site: scratch space a pod refills at start."""
SKIPPED_STORAGE_CLASSES = ("local-path",)
"""Claims whose data is not copied off-site: `local-path` holds node-local copies (the model
cache, refilled from the model store), not data of record, which lives on `ceph-rbd` (three
copies in the site's Ceph, and backed up here). Copying the cache would send every model's
weights across sites every night."""


def bucket_of(source_site: str) -> str:
    """The bucket, at the target's RGW, that holds one site's backups."""
    return f"{BACKUP_BUCKET_PREFIX}{source_site}"


@dataclass(frozen=True)
class BackupTarget:
    """Where a site's backups go: another site's RGW, with the credentials of the bucket user
    that site's Ceph cluster creates for this one."""

    site: str
    """The target site's name."""
    region: str
    """The target site's region (the location's `region`, which the policy pack checks)."""
    address: IPv4Address
    """Its RGW virtual IP: the only address Velero's pods may reach outside the cluster."""
    port: int
    endpoint: pulumi.Output[str]
    """Its RGW's S3 URL (the target's Ceph cluster's `rgw_endpoint`), resolved once that site
    is built."""
    bucket: str
    access_key_id: pulumi.Output[str]
    """Secret, like the secret key: made at the platform level, before either site."""
    secret_access_key: pulumi.Output[str]


def schedule_ttl(backup: Backup) -> str:
    """`backup.retentionDays` as the Go duration a Backup's `ttl` takes."""
    return f"{backup.retention_days * 24}h0m0s"


def volume_policy() -> str:
    """The resource policy (Velero's `version: v1` format): skip the volumes that hold nothing
    to keep (one policy per condition: a policy's conditions must all match). `storageClass`
    conditions exist from Velero 1.11, `volumeTypes` from 1.13 (PR #6863), and file-system
    backups follow volume policies from 1.14 (PR #7497)."""
    conditions = [
        {"volumeTypes": list(SKIPPED_VOLUME_TYPES)},
        {"storageClass": list(SKIPPED_STORAGE_CLASSES)},
    ]
    return yaml.safe_dump(
        {
            "version": "v1",
            "volumePolicies": [
                {"conditions": condition, "action": {"type": "skip"}} for condition in conditions
            ],
        },
        sort_keys=False,
    )


def velero_values(
    backup: Backup,
    mirrors: Mirrors,
    kubernetes_version: str,
    source_site: str,
    target: BackupTarget,
) -> dict:
    """The chart's values (keys as in charts/velero/values.yaml of vmware-tanzu/helm-charts)."""
    plugin = mirror(mirrors, PLUGIN_IMAGE) + ":" + backup.velero_aws_plugin_version
    return {
        # The chart pins Velero's own tag to its appVersion: only the registry moves.
        "image": {"repository": mirror(mirrors, VELERO_IMAGE)},
        "kubectl": {
            "image": {"repository": mirror(mirrors, KUBECTL_IMAGE), "tag": kubernetes_version}
        },
        "initContainers": [
            {
                "name": "velero-plugin-for-aws",
                "image": plugin,
                "imagePullPolicy": "IfNotPresent",
                "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
            }
        ],
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "configuration": {
            "backupStorageLocation": [
                {
                    "name": target.site,
                    "provider": "aws",
                    "bucket": target.bucket,
                    "default": True,
                    "accessMode": "ReadWrite",
                    "config": {
                        "region": target.region,
                        "s3ForcePathStyle": "true",
                        "s3Url": target.endpoint,
                        # RGW rejects the AWS SDK's default checksums (velero #7543, #8203):
                        # an empty algorithm sends none.
                        "checksumAlgorithm": "",
                    },
                }
            ],
            # Volumes are copied by the node agent, not snapshotted by a cloud provider.
            "volumeSnapshotLocation": [],
            "uploaderType": "kopia",
            "defaultBackupStorageLocation": target.site,
        },
        "credentials": {"useSecret": True, "existingSecret": CREDENTIALS_SECRET},
        "backupsEnabled": True,
        "snapshotsEnabled": False,
        "deployNodeAgent": True,
        # File-system backups read each pod's volumes on its node, GPU nodes included.
        "nodeAgent": {"tolerations": [GPU_TOLERATION]},
        "schedules": {
            f"{source_site}-daily": {
                "disabled": False,
                "schedule": backup.schedule,
                "useOwnerReferencesInBackup": False,
                "template": {
                    "ttl": schedule_ttl(backup),
                    "storageLocation": target.site,
                    "includedNamespaces": list(BACKED_UP_NAMESPACES),
                    "excludedResources": list(EXCLUDED_RESOURCES),
                    "defaultVolumesToFsBackup": True,
                    "resourcePolicy": {"kind": "configmap", "name": VOLUME_POLICY},
                },
            }
        },
    }


def credentials_file(access_key_id: str, secret_access_key: str) -> str:
    """An AWS shared-credentials file, as the AWS plugin reads it."""
    return (
        f"[default]\naws_access_key_id={access_key_id}\naws_secret_access_key={secret_access_key}\n"
    )


@dataclass(frozen=True)
class VeleroArgs:
    """Inputs of `Velero`."""

    ctx: SiteContext
    backup: Backup
    """Schedule, retention and the pinned chart and plugin."""
    kubernetes_version: str
    """The cluster's Kubernetes version: the tag of the CRD-upgrade job's kubectl."""
    target: BackupTarget


class Velero(pulumi.ComponentResource):
    """Velero, its backup location at another site and its schedule
    (`deepseek:storage:Velero`)."""

    def __init__(self, name: str, args: VeleroArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("deepseek:storage:Velero", name, None, opts)
        ctx, target = args.ctx, args.target
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            # The node agent reads pod volumes from the host (hostPath, as root).
            metadata={"name": contracts.VELERO, "labels": namespace_labels(contracts.VELERO)},
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[namespace])
        )
        policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata={"name": policy, "namespace": contracts.VELERO},
                spec=spec,
                opts=in_namespace,
            )
            for policy, spec in velero_policies(ctx.site, target.address, target.port).items()
        ]
        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": CREDENTIALS_SECRET, "namespace": contracts.VELERO},
            string_data={
                "cloud": pulumi.Output.secret(
                    pulumi.Output.all(target.access_key_id, target.secret_access_key).apply(
                        lambda keys: credentials_file(*keys)
                    )
                )
            },
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(additional_secret_outputs=["stringData"])
            ),
        )
        # Losing this password loses every backup in the repository: it is protected, so a
        # change that would replace it fails instead.
        password = random.RandomPassword(
            f"{name}-repository-password",
            length=40,
            special=False,
            upper=True,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        repository = k8s.core.v1.Secret(
            f"{name}-repository-password-secret",
            metadata={"name": REPOSITORY_SECRET, "namespace": contracts.VELERO},
            string_data={REPOSITORY_PASSWORD_KEY: pulumi.Output.secret(password.result)},
            opts=pulumi.ResourceOptions.merge(
                in_namespace,
                pulumi.ResourceOptions(
                    additional_secret_outputs=["stringData"], retain_on_delete=True
                ),
            ),
        )
        policy = k8s.core.v1.ConfigMap(
            f"{name}-volume-policy",
            metadata={"name": VOLUME_POLICY, "namespace": contracts.VELERO},
            data={"policy.yaml": volume_policy()},
            opts=in_namespace,
        )
        mirrored_release(
            f"{name}-release",
            chart=CHART,
            version=args.backup.velero_chart_version,
            namespace=contracts.VELERO,
            values=velero_values(
                args.backup, ctx.mirrors, args.kubernetes_version, ctx.site.name, target
            ),
            mirrors=ctx.mirrors,
            opts=pulumi.ResourceOptions.merge(
                in_namespace,
                pulumi.ResourceOptions(depends_on=[credentials, repository, policy, *policies]),
            ),
        )
        self.register_outputs({})
