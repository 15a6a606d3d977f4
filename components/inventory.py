"""Pure summaries of the inventory that components export and later layers size against."""

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


def site_summary(site: Site) -> dict[str, object]:
    """What a site exports and what a DR stack reads back through its StackReference."""
    return {
        "name": site.name,
        "jurisdiction": site.jurisdiction,
        "region": site.region,
        "zone": site.zone,
        "role": site.role,
        "apiEndpoint": api_endpoint(site),
        "hosts": len(site.hosts),
        "gpus": gpu_inventory(site.hosts),
    }
