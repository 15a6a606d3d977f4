"""Pure summaries of the inventory that the plan computes once (`plan.SitePlan` exports them)."""

from collections import Counter

from components import contracts
from components.config import Host, Site


def gpu_inventory(hosts: list[Host]) -> dict[str, int]:
    """GPUs per model across the given hosts, e.g. {'A100-80GB': 16, 'V100-32GB': 12}."""
    counts: Counter[str] = Counter()
    for host in hosts:
        if host.gpu:
            counts[host.gpu.model] += host.gpu.count
    return dict(sorted(counts.items()))


def api_endpoint(site: Site) -> str:
    """The Kubernetes API server URL behind the site's VIP."""
    return f"https://{site.network.api_vip}:{contracts.API_SERVER_PORT}"
