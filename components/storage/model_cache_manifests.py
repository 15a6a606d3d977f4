"""The node-local model cache's Kubernetes objects, as pure functions of config: one `local`
PersistentVolume per site on the GPU hosts' cache directory (class `local-path`, no hostPath),
the claim every Triton pod and fill Job mounts, and one fill Job per (node, model, precision,
revision) pinned to its node, which runs `jobs/model-cache-fill.sh` against the site's model
store. `model_cache.py` registers them; tests read them without a Pulumi runtime."""

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components import contracts
from components.charts import checkov_skips, mirror
from components.config import Mirrors, ModelCache, Site

FILL_SCRIPT = Path(__file__).parent / "jobs" / "model-cache-fill.sh"
"""The fill Job's script (run by the image's /bin/sh; shellcheck-clean, POSIX)."""

CACHE_UID = 10001
"""The user the fill Jobs write as, and the owner the cache directory must have on each GPU
host (the host step that creates it: `install -d -o 10001 -g 10001 -m 0755 <path>`). Triton's
pods run as the same UID and read the cache through a read-only mount."""
VOLUME_NAME = "deepseek-model-cache"
"""The PersistentVolume (cluster-scoped: one per site's cluster)."""
CLAIM_NAME = "model-cache"
"""The claim in the inference namespace that Triton's pods and the fill Jobs mount."""
STORAGE_CLASS = "local-path"
"""The class the policy pack allows for node-local data; the claim names the volume, so the
local-path provisioner never provisions for it."""
SCRIPT_CONFIG_MAP = "model-cache-fill-script"
CREDENTIALS_SECRET = "model-cache-fill-credentials"
"""The Secret holding curl's config file with the store's S3 keys."""
CREDENTIALS_FILE = "curlrc"
COMPLETE_MARKER = ".complete"
"""The file the script writes inside a revision's directory once every object is there."""
FILL_LABELS = {
    "app.kubernetes.io/name": "model-cache-fill",
    "app.kubernetes.io/part-of": "deepseek-serving",
}
HOSTNAME_LABEL = "kubernetes.io/hostname"
"""The node's name (kubeadm registers each host under its name in config)."""
CACHE_MOUNT = "/cache"
SCRIPT_MOUNT = "/opt/model-cache-fill"
CREDENTIALS_MOUNT = "/etc/model-cache-fill"

SLOWEST_FILL_BYTES_PER_SECOND = 100e6
"""The pace a fill is given time for: 100 MB/s, one curl stream well below a 10 GbE link (the
script fetches one object at a time). A Job still running after its budget is failed."""
FILL_OVERHEAD_SECONDS = 900
"""Fixed time on top of the transfer: image pull, scheduling, the listing, retries."""


@dataclass(frozen=True)
class CachedRevision:
    """One revision of one model's weights that the site serves, and the GPU hosts whose pods
    may serve it (each gets a fill Job)."""

    model: str
    """Catalog name (the first level of the bucket's and the cache's layout)."""
    precision: str
    revision: str
    nodes: tuple[str, ...]
    weights_bytes: int
    """Expected size of the weights (parameters x bytes per parameter), for the Job's budget."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model, self.precision, self.revision)

    @property
    def path(self) -> str:
        """`<model>/<precision>/<revision>`: the same in the bucket and in the cache."""
        return f"{self.model}/{self.precision}/{self.revision}"


def fill_seconds(weights_bytes: int) -> int:
    """The time a fill Job gets (its activeDeadlineSeconds, and how long `pulumi up` waits)."""
    return FILL_OVERHEAD_SECONDS + math.ceil(weights_bytes / SLOWEST_FILL_BYTES_PER_SECOND)


def curl_credentials(access_key_id: str, secret_access_key: str) -> str:
    """curl's config file with the store's keys (`user = "id:secret"`), the file the script
    passes with --config: the keys never reach a command line. Values are quoted as curl's
    config syntax wants (backslash and double quote escaped); a line break is refused."""
    for value in (access_key_id, secret_access_key):
        if any(c in value for c in "\r\n\0"):
            # Never quote the value: it is a secret.
            raise ValueError("an S3 key of the model store holds a line break or NUL")
    quoted = f"{access_key_id}:{secret_access_key}".replace("\\", "\\\\").replace('"', '\\"')
    return f'user = "{quoted}"\n'


def fill_job_name(node: str, revision: CachedRevision) -> str:
    """`fill-<node>-<digest>`: at most 63 characters (the job-name label's limit); the digest
    of node, model, precision and revision keeps names apart when the node's is cut."""
    digest = hashlib.sha256(f"{node}/{revision.path}".encode()).hexdigest()[:10]
    return f"fill-{node[:40].rstrip('-')}-{digest}"


def volume_manifest(cache: ModelCache, nodes: Sequence[str]) -> dict[str, Any]:
    """metadata and spec of the site's `local` PersistentVolume: the same directory on every
    GPU host that serves models, bound ahead of time to the claim. A pod that mounts it lands
    only on those hosts (the volume's node affinity), and reads its own host's directory."""
    return {
        "metadata": {"name": VOLUME_NAME, "labels": dict(FILL_LABELS)},
        "spec": {
            "capacity": {"storage": f"{cache.size_gb}G"},
            "volumeMode": "Filesystem",
            # A local volume is never attached: pods on several nodes mount it at once, each
            # its own node's directory (as KServe's LocalModelNodeGroup does).
            "accessModes": ["ReadWriteOnce"],
            # Never deleted with its claim: a cache is refilled, but not by surprise.
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "local": {"path": cache.path},
            "claimRef": {"namespace": contracts.INFERENCE, "name": CLAIM_NAME},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": HOSTNAME_LABEL, "operator": "In", "values": sorted(nodes)}
                            ]
                        }
                    ]
                }
            },
        },
    }


def claim_manifest(cache: ModelCache) -> dict[str, Any]:
    """metadata and spec of the claim: bound to the site's volume by name."""
    return {
        "metadata": {
            "name": CLAIM_NAME,
            "namespace": contracts.INFERENCE,
            "labels": dict(FILL_LABELS),
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": STORAGE_CLASS,
            "volumeName": VOLUME_NAME,
            "resources": {"requests": {"storage": f"{cache.size_gb}G"}},
        },
    }


def _security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": CACHE_UID,
        "runAsGroup": CACHE_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def fill_job_manifest(
    node: str,
    revision: CachedRevision,
    site: Site,
    cache: ModelCache,
    mirrors: Mirrors,
    endpoint: Any,
    bucket: str,
) -> dict[str, Any]:
    """metadata and spec of the Job that fills `revision` into `node`'s cache. `endpoint` is
    the store's URL (an Output when it comes from the Ceph layer)."""
    image, _, tag = cache.fill_image.rpartition(":")
    deadline = fill_seconds(revision.weights_bytes)
    labels = {**FILL_LABELS, "deepseek.bank/node": node}
    return {
        "metadata": {
            "name": fill_job_name(node, revision),
            "namespace": contracts.INFERENCE,
            "labels": labels,
            "annotations": {
                "deepseek.bank/model": revision.model,
                "deepseek.bank/precision": revision.precision,
                "deepseek.bank/revision": revision.revision,
                # A failed fill is replaced at the next `pulumi up` (and resumes), rather than
                # awaited for ever.
                "pulumi.com/replaceUnready": "true",
                **checkov_skips(
                    ("CKV_K8S_43", "pinned by tag in the internal mirror; its tags are immutable"),
                    ("CKV_K8S_8", "a Job that runs once to completion; nothing to probe"),
                    ("CKV_K8S_9", "a Job that runs once to completion; nothing to probe"),
                ),
            },
        },
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": deadline,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    # Serving waits for it: as urgent as the pods it feeds.
                    "priorityClassName": contracts.HIGH_PRIORITY,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "nodeSelector": {HOSTNAME_LABEL: node, contracts.REGION_LABEL: site.region},
                    "tolerations": [
                        {
                            "key": contracts.GPU_TAINT_KEY,
                            "operator": "Exists",
                            "effect": "NoSchedule",
                        }
                    ],
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": CACHE_UID,
                        "runAsGroup": CACHE_UID,
                        # The credentials file is group-readable; the cache directory keeps
                        # its owner (no recursive chown over terabytes at every mount).
                        "fsGroup": CACHE_UID,
                        "fsGroupChangePolicy": "OnRootMismatch",
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "fill",
                            "image": f"{mirror(mirrors, image)}:{tag}",
                            "imagePullPolicy": "Always",
                            "command": ["/bin/sh", f"{SCRIPT_MOUNT}/{FILL_SCRIPT.name}"],
                            "env": [
                                {"name": "ENDPOINT", "value": endpoint},
                                {"name": "BUCKET", "value": bucket},
                                {"name": "PREFIX", "value": revision.path},
                                {"name": "CACHE_DIR", "value": CACHE_MOUNT},
                                {
                                    "name": "CURL_CONFIG",
                                    "value": f"{CREDENTIALS_MOUNT}/{CREDENTIALS_FILE}",
                                },
                                {"name": "WORK_DIR", "value": "/tmp"},
                                {
                                    "name": "NODE_NAME",
                                    "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                                },
                                {"name": "HOME", "value": "/tmp"},
                            ],
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "256Mi"},
                                "limits": {
                                    "cpu": "2",
                                    "memory": "512Mi",
                                    "ephemeral-storage": "256Mi",
                                },
                            },
                            "securityContext": _security(),
                            "volumeMounts": [
                                {"name": "cache", "mountPath": CACHE_MOUNT},
                                {"name": "script", "mountPath": SCRIPT_MOUNT, "readOnly": True},
                                {
                                    "name": "credentials",
                                    "mountPath": CREDENTIALS_MOUNT,
                                    "readOnly": True,
                                },
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "cache", "persistentVolumeClaim": {"claimName": CLAIM_NAME}},
                        {
                            "name": "script",
                            "configMap": {"name": SCRIPT_CONFIG_MAP, "defaultMode": 0o444},
                        },
                        {
                            "name": "credentials",
                            "secret": {"secretName": CREDENTIALS_SECRET, "defaultMode": 0o440},
                        },
                        {"name": "tmp", "emptyDir": {"sizeLimit": "128Mi"}},
                    ],
                },
            },
        },
    }


def egress_policy_spec(destinations: Mapping[str, int]) -> dict[str, Any]:
    """The fill pods' NetworkPolicy: out to the model store only (`cidr → port`: the RGW
    virtual IP, or an external store's networks); nothing in. DNS is the namespace's."""
    return {
        "podSelector": {"matchLabels": dict(FILL_LABELS)},
        "policyTypes": ["Ingress", "Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": cidr}}],
                "ports": [{"protocol": "TCP", "port": port}],
            }
            for cidr, port in sorted(destinations.items())
        ],
    }
