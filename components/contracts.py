"""Facts every layer shares: namespaces by purpose (and which may run privileged pods),
priority classes. Imports nothing, so any layer may import it and no layer imports another."""

INFERENCE = "inference"
TRAINING = "training"
MONITORING = "monitoring"
GATEWAY = "gateway"
LOCAL_PATH = "local-path-storage"
GPU_OPERATOR = "gpu-operator"
CALICO_OPERATOR = "tigera-operator"
KUBEFLOW = "kubeflow"
CERT_MANAGER = "cert-manager"
METALLB = "metallb-system"
KUBE_SYSTEM = "kube-system"
"""Created by kubeadm, not by us: CoreDNS and the control plane's static pods live there."""

WORKLOAD_NAMESPACES = (INFERENCE, TRAINING, MONITORING, GATEWAY)
"""Where our workloads run: restricted Pod Security, quotas and default limits."""
SYSTEM_NAMESPACES = (GPU_OPERATOR, CALICO_OPERATOR, LOCAL_PATH, KUBEFLOW, CERT_MANAGER, METALLB)
"""Cluster plumbing: operators, CNI, storage, certificates, load-balancer addresses."""
PRIVILEGED_BY_DEFAULT = (GPU_OPERATOR, CALICO_OPERATOR, LOCAL_PATH, METALLB)
"""The system namespaces whose pods need host access: drivers and device plugins, the CNI,
host-path volumes, MetalLB's speaker on the host network. The rest run restricted."""

HIGH_PRIORITY = "high-priority"
BATCH_PRIORITY = "batch-low"
