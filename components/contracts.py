"""Facts every layer shares: namespaces by purpose (and which may run privileged pods),
priority classes, node and pod labels, ports. Imports nothing, so any layer may import it
and no layer imports another: a layer that selects another's pods or reaches its ports
reads them here.

The label mappings are shared objects: copy one (`{**labels, ...}`) before changing it."""

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

DATA_LAKE = "data-lake"
"""The HDFS data-lake sync's CronJobs. Made by that component itself, with its own default-deny,
only at the sites it syncs: not in the tuples below, which the baseline makes at every site."""
CEPH_CSI = "ceph-csi-rbd"
"""ceph-csi's RBD provisioner and node plugin (privileged: the plugin maps images on the host).
Made by that component, with its own default-deny, only at the sites that run Ceph."""
VELERO = "velero"
"""Velero and its node agent (privileged: the agent reads pod volumes from the host). Made by
that component, with its own default-deny, only at the sites that back up to another."""

WORKLOAD_NAMESPACES = (INFERENCE, TRAINING, MONITORING, GATEWAY)
"""Where our workloads run: restricted Pod Security, quotas and default limits."""
SYSTEM_NAMESPACES = (GPU_OPERATOR, CALICO_OPERATOR, LOCAL_PATH, KUBEFLOW, CERT_MANAGER, METALLB)
"""Cluster plumbing: operators, CNI, storage, certificates, load-balancer addresses."""
PRIVILEGED_BY_DEFAULT = (GPU_OPERATOR, CALICO_OPERATOR, LOCAL_PATH, METALLB)
"""The system namespaces whose pods need host access: drivers and device plugins, the CNI,
host-path volumes, MetalLB's speaker on the host network. The rest run restricted."""

HIGH_PRIORITY = "high-priority"
BATCH_PRIORITY = "batch-low"

# Node labels and taints: kubeadm registers nodes with them, workloads select on them.
REGION_LABEL = "topology.kubernetes.io/region"
"""The site's region: data locality selects on it (and the policy pack checks it)."""
ZONE_LABEL = "topology.kubernetes.io/zone"
SITE_LABEL = "deepseek.bank/site"
NODE_POOL_LABEL = "deepseek.bank/node-pool"
"""The host's `nodePool` from config: general, inference or training."""
GPU_MODEL_LABEL = "deepseek.bank/gpu-model"
"""The catalog's GPU model of the host, e.g. A100-80GB."""
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
"""The product name GPU Feature Discovery sets ('-' for ' ', '-SHARED' when time-sliced)."""
GPU_TAINT_KEY = "nvidia.com/gpu"
"""GPU nodes are tainted `nvidia.com/gpu=<node pool>:NoSchedule`."""
INFERENCE_POOL = "inference"
TRAINING_POOL = "training"

# Pod labels other layers select on (in NetworkPolicies and routes).
TRITON_POD_LABELS = {"app.kubernetes.io/name": "triton"}
"""Every Triton pod of the serving layer."""
ENVOY_PROXY_LABELS = {
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
}
"""Labels Envoy Gateway puts on the proxy pods it runs for a Gateway."""
ENVOY_CONTROLLER_LABELS = {"control-plane": "envoy-gateway"}
"""Labels of the Envoy Gateway controller's pods (its Helm chart)."""
METRICS_ADAPTER_LABELS = {"app.kubernetes.io/name": "prometheus-adapter"}
"""The Prometheus adapter's pods (its Helm chart), which the API server calls."""
KUBE_DNS_LABELS = {"k8s-app": "kube-dns"}
"""CoreDNS's pods in kube-system (kubeadm's)."""

# Ports.
API_SERVER_PORT = 6443
"""The Kubernetes API server, on the control-plane hosts and the VIP."""
KUBERNETES_SERVICE_PORT = 443
"""The `kubernetes` Service in front of the API server."""
DNS_PORT = 53
TRITON_HTTP_PORT = 8000
TRITON_GRPC_PORT = 8001
TRITON_METRICS_PORT = 8002
GATEWAY_HTTPS_PORT = 443
"""The gateway's listener: callers, and other sites' gateways failing over, connect here."""
ENVOY_LISTENER_PORT = 10443
"""Envoy Gateway binds a listener on port 443 to container port 10443 (privileged ports
+10000), so the proxies run without NET_BIND_SERVICE."""
ENVOY_METRICS_PORT = 19001
ENVOY_XDS_PORT = 18000
"""The Envoy Gateway controller serves the proxies' configuration (xDS) here."""
PROMETHEUS_PORT = 9090
DCGM_EXPORTER_PORT = 9400
CERT_MANAGER_METRICS_PORT = 9402
METALLB_METRICS_PORT = 7472
CEPH_MON_PORTS = (3300, 6789)
"""Ceph monitors: msgr2 and the legacy protocol, on the storage hosts."""
CEPH_DAEMON_PORTS = (6800, 7300)
"""The range Ceph's OSDs and managers bind in (`ms_bind_port_min`/`max`), on the storage hosts."""
KUBEFLOW_WEBHOOK_PORT = 9443
CERT_MANAGER_WEBHOOK_PORT = 10250
METALLB_WEBHOOK_PORT = 9443

METRICS_PORTS = {
    INFERENCE: (TRITON_METRICS_PORT,),
    GATEWAY: (ENVOY_METRICS_PORT,),
    GPU_OPERATOR: (DCGM_EXPORTER_PORT,),
    CERT_MANAGER: (CERT_MANAGER_METRICS_PORT,),
    METALLB: (METALLB_METRICS_PORT,),
}
"""What the monitoring namespace scrapes: namespace → metrics ports."""
METRICS_PODS = {GATEWAY: ENVOY_PROXY_LABELS}
"""Where only some pods of a namespace serve the metrics (by label); elsewhere, all do."""
WEBHOOK_PORTS = {
    KUBEFLOW: (KUBEFLOW_WEBHOOK_PORT,),
    CERT_MANAGER: (CERT_MANAGER_WEBHOOK_PORT,),
    METALLB: (METALLB_WEBHOOK_PORT,),
}
"""Webhooks the API server calls: namespace → their container ports."""
API_CLIENT_NAMESPACES = (
    GPU_OPERATOR,
    CALICO_OPERATOR,
    KUBEFLOW,
    CERT_MANAGER,
    METALLB,
    MONITORING,
    TRAINING,
)
"""Namespaces whose pods talk to the API server."""
