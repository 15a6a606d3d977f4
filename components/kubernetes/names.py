"""Namespaces of a cluster, by purpose, and which of them may run privileged pods."""

INFERENCE = "inference"
TRAINING = "training"
MONITORING = "monitoring"
GATEWAY = "gateway"
LOCAL_PATH = "local-path-storage"
GPU_OPERATOR = "gpu-operator"
CALICO_OPERATOR = "tigera-operator"
KUBEFLOW = "kubeflow"

WORKLOAD_NAMESPACES = (INFERENCE, TRAINING, MONITORING, GATEWAY)
"""Where our workloads run: restricted Pod Security, quotas and default limits."""
SYSTEM_NAMESPACES = (GPU_OPERATOR, CALICO_OPERATOR, LOCAL_PATH, KUBEFLOW)
"""Cluster plumbing that needs host access (drivers, CNI, host paths): privileged."""

HIGH_PRIORITY = "high-priority"
BATCH_PRIORITY = "batch-low"
