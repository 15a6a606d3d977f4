"""The guide's DistCp, optional: where `backup.dataLake` names a site's HDFS, a CronJob at that
site copies every other site's part of the lake to the same path on its own namenode
(`hadoop distcp -update`), in a namespace of its own whose pods reach only the lakes' networks.

Direction: each site pulls, and only the other sites' parts. A site's job writes nothing but
the peers' directories at its own namenode, and nobody at that site writes there, so the two
jobs never write the same file and cannot undo each other's copies, whenever they run (two
jobs with `-update` both ways over one shared tree would: `-update` makes the target equal to
the source, newer or not). Validation refuses overlapping parts.

No `-delete`: a deletion at one site must not propagate by itself (a mistaken or malicious
`hdfs dfs -rm -r` would empty the other copy at the next run). A deleted file stays in the
other site's copy until an operator deletes it there too.

Kerberos is not built: the job uses simple authentication as HDFS user `HDFS_USER`. A lake
secured with Kerberos refuses it (the job fails, copying nothing), so preview warns rather
than refuses, and says what a bank must add."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import contracts
from components.charts import checkov_skips, mirror
from components.config import DataLake, Site
from components.config.storage import DATA_LAKE_SYNC_JOB_PREFIX, HdfsLocation
from components.context import SiteContext
from components.network_policy import default_deny, dns_egress, ip_blocks, tcp

APP = "data-lake-sync"
DATANODE_PORTS = (9866, 9867)
"""Hadoop 3's defaults for the datanodes' data transfer (`dfs.datanode.address`) and IPC
(`dfs.datanode.ipc.address`); a lake on other ports (Hadoop 2's 50010/50020, or privileged
ports of secure datanodes) is not reached."""
HDFS_USER = "deepseek-lake-sync"
"""The HDFS user the job acts as (simple authentication trusts the name the client gives):
it needs read access to the peers' parts and write access to their copies here."""
RUN_AS_USER = 1000
"""The `hadoop` user of Apache's Hadoop images: Hadoop's login needs a user name for its uid
(the JDK's Unix login fails for a uid without a passwd entry)."""
ACTIVE_DEADLINE_SECONDS = 6 * 3600
"""A run that has not finished in 6 hours is stopped; the next scheduled run resumes it
(`-update` skips what was already copied)."""
STARTING_DEADLINE_SECONDS = 3600
"""A run missed by more than an hour (the controller was down) waits for the next one."""
BACKOFF_LIMIT = 2
HISTORY_LIMIT = 3
TMP_DIR = "/tmp/hadoop"

KERBEROS_TODO = (
    "a Kerberos-secured HDFS (hadoop.security.authentication=kerberos) refuses it and every "
    "run fails, copying nothing. To sync such a lake, add a keytab Secret from secret config "
    "(pulumi config --secret), a krb5.conf, hadoop.security.authentication=kerberos and the "
    "namenodes' principals (dfs.namenode.kerberos.principal) in the job's Hadoop config, a "
    "kinit from the keytab before distcp, and egress to the KDCs (port 88) in its policy."
)


@dataclass(frozen=True)
class Pull:
    """One copy a site's job makes: a peer's part of the lake to the same path here."""

    peer: str
    source: HdfsLocation
    target: HdfsLocation


def pulls(data_lake: DataLake, site: str) -> list[Pull]:
    """What `site`'s jobs copy: every other site's part, to the same path on `site`'s
    namenode (nothing when `site` has no lake)."""
    if site not in data_lake.namenodes:
        return []
    here = data_lake.location(site)
    return [
        Pull(peer, data_lake.location(peer), data_lake.location(peer).on(here))
        for peer in sorted(data_lake.namenodes)
        if peer != site
    ]


def distcp_command(pull: Pull) -> list[str]:
    """`hadoop distcp -update` from the peer to here, in the pod itself (local MapReduce: no
    YARN to reach; its staging and work files go to the local file system, under `TMP_DIR`
    in the pod's scratch volume)."""
    return [
        "hadoop",
        "distcp",
        "-D",
        "mapreduce.framework.name=local",
        "-D",
        f"hadoop.tmp.dir={TMP_DIR}",
        "-update",
        # Block size kept, so -update's checksum comparison sees equal files as equal.
        "-pb",
        pull.source.url,
        pull.target.url,
    ]


def egress_policy(data_lake: DataLake, labels: dict[str, str]) -> dict:
    """The job's pods may reach the lakes' networks on the namenodes' RPC ports and the
    datanodes' ports, and nothing else (DNS comes from the namespace's allow-dns)."""
    ports = {data_lake.location(site).port for site in data_lake.namenodes} | set(DATANODE_PORTS)
    return {
        "podSelector": {"matchLabels": labels},
        "policyTypes": ["Egress"],
        "egress": [{"to": ip_blocks(data_lake.networks), "ports": tcp(*sorted(ports))}],
    }


def cronjob_spec(data_lake: DataLake, pull: Pull, image: str, site: Site) -> dict:
    labels = {"app.kubernetes.io/name": APP, "deepseek.bank/lake-source": pull.peer}
    container = {
        "name": "distcp",
        "image": image,
        "imagePullPolicy": "Always",
        "command": distcp_command(pull),
        "env": [
            {"name": "HADOOP_USER_NAME", "value": HDFS_USER},
            {"name": "HADOOP_HEAPSIZE_MAX", "value": "2g"},
        ],
        "resources": {
            "requests": {"cpu": "1", "memory": "3Gi"},
            "limits": {"cpu": "2", "memory": "3Gi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
    }
    pod = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "priorityClassName": contracts.BATCH_PRIORITY,
        # The copy runs on the site's own nodes.
        "nodeSelector": {contracts.REGION_LABEL: site.region},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "10Gi"}}],
    }
    return {
        "schedule": data_lake.schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
        "successfulJobsHistoryLimit": HISTORY_LIMIT,
        "failedJobsHistoryLimit": HISTORY_LIMIT,
        "jobTemplate": {
            "metadata": {"labels": labels},
            "spec": {
                "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
                "backoffLimit": BACKOFF_LIMIT,
                "template": {"metadata": {"labels": labels}, "spec": pod},
            },
        },
    }


@dataclass(frozen=True)
class DataLakeSyncArgs:
    """Inputs of `DataLakeSync`."""

    ctx: SiteContext
    data_lake: DataLake
    """The lakes' namenodes, networks, schedule and image (`backup.dataLake`)."""


class DataLakeSync(pulumi.ComponentResource):
    """The data-lake namespace, its NetworkPolicies and one DistCp CronJob per peer site
    (`deepseek:storage:DataLakeSync`)."""

    def __init__(
        self, name: str, args: DataLakeSyncArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:storage:DataLakeSync", name, None, opts)
        ctx, data_lake = args.ctx, args.data_lake
        site = ctx.site
        namespace = contracts.DATA_LAKE
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        created = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": namespace,
                "labels": {
                    "deepseek.bank/purpose": namespace,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[created])
        )
        # The policies exist before the first job can start.
        policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata={"name": policy, "namespace": namespace},
                spec=spec,
                opts=in_namespace,
            )
            for policy, spec in (
                ("default-deny", default_deny()),
                ("allow-dns", dns_egress()),
                ("allow-data-lake", egress_policy(data_lake, {"app.kubernetes.io/name": APP})),
            )
        ]
        image = mirror(ctx.mirrors, data_lake.image)
        for pull in pulls(data_lake, site.name):
            k8s.batch.v1.CronJob(
                f"{name}-from-{pull.peer}",
                metadata={
                    "name": f"{DATA_LAKE_SYNC_JOB_PREFIX}{pull.peer}",
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/name": APP},
                    "annotations": checkov_skips(
                        (
                            "CKV_K8S_40",
                            "Hadoop's login needs a passwd entry for its uid: 1000 is the "
                            "hadoop user of Apache's Hadoop images",
                        ),
                        ("CKV_K8S_43", "pinned by tag in the internal mirror; tags are immutable"),
                    ),
                },
                spec=cronjob_spec(data_lake, pull, image, site),
                opts=pulumi.ResourceOptions.merge(
                    in_namespace, pulumi.ResourceOptions(depends_on=policies)
                ),
            )
        pulumi.log.warn(
            f"the data-lake sync at site {site.name} runs without Kerberos, as HDFS user "
            f"{HDFS_USER} with simple authentication: {KERBEROS_TODO}",
            self,
        )
        self.register_outputs({})
