"""Where a pod could run, decided from config alone: each host as the node it registers as
(labels and taints from kubeadm.py, GPU resources from the device plugin's sharing profile),
and a pod spec's node selector, required node affinity, tolerations and GPU requests checked
against them, as the scheduler's filters would. Pure: preview says a workload can never start
before anything is deployed."""

from dataclasses import dataclass

from components.catalog import mig_instances
from components.config import Host, Kubernetes, Site
from components.kubernetes.kubeadm import node_labels, node_taints


@dataclass(frozen=True)
class NodeFacts:
    """One host as the scheduler sees its node."""

    name: str
    labels: dict[str, str]
    taints: tuple[dict[str, str], ...]
    gpu_resources: dict[str, int]
    """Extended resources the device plugin advertises: `nvidia.com/gpu` or a MIG profile's."""


def gpu_resources(kubernetes: Kubernetes, host: Host) -> dict[str, int]:
    """What the device plugin advertises on the host, per its GPU model's sharing profile
    (gpu_operator.py configures the plugin from the same profile)."""
    if not host.gpu:
        return {}
    profile = kubernetes.gpu_sharing.get(host.gpu.model)
    if profile is None or profile.mode == "exclusive":
        return {"nvidia.com/gpu": host.gpu.count}
    if profile.mode == "time-slicing":
        return {"nvidia.com/gpu": host.gpu.count * profile.replicas}
    if not profile.mig_profile:
        return {}  # validation refuses a MIG mode without a profile
    instance = profile.mig_profile.removeprefix("all-")
    # The catalog's count per GPU (1g.20gb: 4, not 7 // 1); validation refuses a profile the
    # GPU model does not have.
    per_gpu = mig_instances(host.gpu.model, profile.mig_profile) or 0
    return {f"nvidia.com/mig-{instance}": host.gpu.count * per_gpu}


def site_nodes(site: Site, kubernetes: Kubernetes) -> list[NodeFacts]:
    """The site's hosts that run pods (workers; control planes keep their taint)."""
    return [
        NodeFacts(
            host.name,
            node_labels(site, host),
            tuple(node_taints(host)),
            gpu_resources(kubernetes, host),
        )
        for host in site.hosts
        if "worker" in host.roles or "control-plane" in host.roles
    ]


def _expression_holds(expression: dict, labels: dict[str, str]) -> bool:
    key, operator = expression["key"], expression["operator"]
    values = expression.get("values", [])
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    # Gt/Lt compare integers.
    try:
        value, bound = int(labels[key]), int(values[0])
    except (KeyError, ValueError, IndexError):
        return False
    return value > bound if operator == "Gt" else value < bound


def _tolerated(taint: dict[str, str], tolerations: list[dict]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") not in (None, "", taint["effect"]):
            continue
        if toleration.get("operator") == "Exists":
            if toleration.get("key") in (None, "", taint["key"]):
                return True
        elif toleration.get("key") == taint["key"] and toleration.get("value", "") == taint.get(
            "value", ""
        ):
            return True
    return False


def why_not(pod: dict, node: NodeFacts) -> list[str]:
    """Why `pod` (a pod spec) cannot run on `node`; empty when it can (one pod, empty node)."""
    reasons = []
    for key, value in sorted(pod.get("nodeSelector", {}).items()):
        if node.labels.get(key) != value:
            found = node.labels.get(key)
            reasons.append(f"{key}={found}" if found is not None else f"no label {key}")
    required = (
        pod.get("affinity", {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", {})
        .get("nodeSelectorTerms")
    )
    if required and not any(
        all(_expression_holds(e, node.labels) for e in term.get("matchExpressions", []))
        for term in required
    ):
        reasons.append("no required node-affinity term matches its labels")
    for taint in node.taints:
        if taint["effect"] in ("NoSchedule", "NoExecute") and not _tolerated(
            taint, pod.get("tolerations", [])
        ):
            reasons.append(f"taint {taint['key']}:{taint['effect']} not tolerated")
    for resource, amount in sorted(_gpu_requests(pod).items()):
        offered = node.gpu_resources.get(resource, 0)
        if offered < amount:
            reasons.append(f"{resource} {offered} < {amount}")
    return reasons


def pods_per_node(pod: dict, node: NodeFacts) -> int:
    """How many copies of `pod` the empty node holds (0 when it cannot run there)."""
    if why_not(pod, node):
        return 0
    requests = _gpu_requests(pod)
    if not requests:
        return 1_000_000  # nothing counted limits it here (CPU and memory are not in config)
    return min(node.gpu_resources[r] // amount for r, amount in requests.items())


def _gpu_requests(pod: dict) -> dict[str, int]:
    requests: dict[str, int] = {}
    for container in pod.get("containers", []):
        resources = container.get("resources", {})
        wanted = {**resources.get("limits", {}), **resources.get("requests", {})}
        for resource, amount in wanted.items():
            if resource.startswith("nvidia.com/"):
                requests[resource] = requests.get(resource, 0) + int(amount)
    return requests


def unschedulable(
    workload: str, pod: dict, replicas: int, site: Site, nodes: list[NodeFacts]
) -> str | None:
    """A sentence saying why `replicas` copies of `pod` cannot all run at `site`: what each
    GPU host lacks, and the hosts it would need (those with the GPUs for one pod, whatever
    their labels, and how many more); None when they fit."""
    capacity = sum(pods_per_node(pod, node) for node in nodes)
    if capacity >= replicas:
        return None
    requests = _gpu_requests(pod)
    wants = ", ".join(
        [f"{k}={v}" for k, v in sorted(pod.get("nodeSelector", {}).items())]
        + [f"{r}: {n}" for r, n in sorted(requests.items())]
    )
    lacking = "; ".join(
        f"{node.name}: {', '.join(why_not(pod, node))}"
        for node in nodes
        if node.gpu_resources and why_not(pod, node)
    )
    candidates = [
        node.name
        for node in nodes
        if requests and all(node.gpu_resources.get(r, 0) >= n for r, n in requests.items())
    ]
    short = replicas - len(candidates)
    return (
        f"{workload} at site {site.name}: {replicas} pod(s), each needing {wants}, fit "
        f"{capacity} time(s) on its hosts ({lacking or 'no GPU hosts'}). It needs {replicas} "
        f"host(s) with those labels and GPUs; candidates with the GPUs: "
        f"{', '.join(candidates) or 'none'}"
        + (f", and {short} more like them" if short > 0 else "")
    )
