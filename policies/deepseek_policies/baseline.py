"""Baseline hardening policies: privilege, exact GPU reservations, secrets, SSH, retained
state, RBAC and training priority (judges in `rules/baseline.py`)."""

from deepseek_policies.common import LIST, resource_policy, stack_policy
from deepseek_policies.common import schema as _schema
from deepseek_policies.rules.baseline import (
    SERVING_PRIORITY_CLASS,
    TRAINING_NAMESPACES,
    judge_admin_bindings,
    judge_gpu_requests,
    judge_host_key,
    judge_plaintext,
    judge_privilege,
    judge_remote_hosts,
    judge_stateful,
    judge_training_priority,
)

privileged = resource_policy(
    "no-privileged-outside-system-namespaces",
    "Keeps workloads off the host: outside allowedPrivilegedNamespaces no privileged container, "
    "no capability beyond allowedAddedCapabilities (any spelling), no hostPID, hostIPC or "
    "hostPath, and Namespaces enforce Pod Security restricted (a Namespace without the label "
    "is refused).",
    judge_privilege,
    _schema(allowedPrivilegedNamespaces=LIST, allowedAddedCapabilities=LIST),
)

gpu_requests = resource_policy(
    "gpu-requests-equal-limits",
    "Keeps GPUs reserved exactly: containers that ask for nvidia.com/* set requests equal to "
    "limits.",
    judge_gpu_requests,
)

plaintext = resource_policy(
    "no-plaintext-secrets",
    "Keeps credentials out of state and logs: no password, token, private or access key, JWT "
    "or URL with credentials in a plain input, found by key and value shape (fields the "
    "providers always encrypt, such as Secret data and a Command's stdin, are exempt).",
    judge_plaintext,
)

host_key = resource_policy(
    "ssh-host-key-pinned",
    "Keeps SSH from being intercepted: remote.Command and remote.CopyToRemote connections, and "
    "their jump hosts, pin the host's SSH key.",
    judge_host_key,
)

remote_hosts = resource_policy(
    "remote-steps-on-site-hosts",
    "Keeps the deploy key and scripts on the bank's hosts: a remote step's target is an "
    "address inside allowedNodeNetworks (generated from the sites' node networks), and so is "
    "its jump host.",
    judge_remote_hosts,
    _schema(allowedNodeNetworks=LIST),
)

stateful = stack_policy(
    "stateful-resources-retained",
    "Keeps data through a delete: Ceph pools and buckets are protected, data claims protected "
    "or on a class that retains, StorageClasses and PersistentVolumes retain.",
    judge_stateful,
)

admin_bindings = stack_policy(
    "no-cluster-admin-bindings",
    "Keeps the cluster's keys with its operators: a binding to cluster-admin, to a role with a "
    "wildcard verb, resource or API group, or of system:masters is refused unless named in "
    "allowedAdminBindings.",
    judge_admin_bindings,
    _schema(allowedAdminBindings=LIST),
)

training_priority = resource_policy(
    "training-jobs-at-their-priority",
    "Keeps training from preempting inference: training jobs (every kubeflow.org kind, and "
    "every workload in trainingNamespaces) run at a class of allowedTrainingPriorityClasses; "
    "PriorityClasses of allowedTrainingPriorityClasses have a value below servingPriorityValue "
    "(a hand-owned bound), servingPriorityClass has at least that value, and only "
    "allowedDefaultPriorityClasses may be globalDefault.",
    judge_training_priority,
    _schema(
        allowedTrainingPriorityClasses=LIST,
        allowedDefaultPriorityClasses=LIST,
        servingPriorityClass={"type": "string", "default": SERVING_PRIORITY_CLASS},
        # No default: a stack whose bounds do not name it has every priority class refused.
        servingPriorityValue={"type": "integer"},
        trainingNamespaces={
            "type": "array",
            "items": {"type": "string"},
            "default": TRAINING_NAMESPACES,
        },
    ),
)

POLICIES = [
    privileged,
    gpu_requests,
    plaintext,
    host_key,
    remote_hosts,
    stateful,
    admin_bindings,
    training_priority,
]
