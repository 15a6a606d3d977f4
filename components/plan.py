"""The plan: what the program derives from a validated config, computed once by `make_plan`
and frozen. Platform, Site, the layers' components and the cost model read it instead of
deriving the same facts again (hosts by role, iperf3 peers, failover peers, serving plans and
their problems, capacities, GPU shares, the count of active sites, cost inputs).

Pure: no Pulumi here. The arithmetic stays with the layer that owns it (`serving.capacity`
sizes replicas, `inventory` counts GPUs); this module calls it once per site and keeps the
results. Layers' pure planning modules never import this one."""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from components.config import Host, PlatformConfig, Site
from components.inventory import api_endpoint, gpu_inventory
from components.metal.peers import peer_ring
from components.serving.capacity import (
    GpuShare,
    Problem,
    ServingPlan,
    canary_ceiling_warning,
    gpu_share,
    plan_site,
)


def failover_peers(site: Site, sites: list[Site]) -> tuple[Site, ...]:
    """The other active sites, whose gateways take this site's traffic when its models are
    down (none for a DR site)."""
    if site.role != "active":
        return ()
    return tuple(s for s in sites if s.role == "active" and s.name != site.name and s.load_balancer)


@dataclass(frozen=True)
class SitePlan:
    """One site's derived facts."""

    spec: Site
    """The validated site config."""
    index: int
    """Its position in `sites`."""
    control_planes: tuple[Host, ...]
    """Control-plane hosts, in config order: the first one runs `kubeadm init`."""
    workers: tuple[Host, ...]
    """Worker hosts that are not control planes too: they join once the control plane is
    complete."""
    iperf_peers: Mapping[str, str]
    """Host → the host whose iperf3 server it measures its link against (a ring)."""
    api_endpoint: str
    """The Kubernetes API server URL behind the site's VIP."""
    gpus: Mapping[str, int]
    """GPUs per model across the site's hosts."""
    failover_peers: tuple[Site, ...]
    """The other active sites whose gateways take over this site's models."""
    serving: Mapping[str, ServingPlan]
    """Model name → its replicas, ceiling, share and estimate at this site."""
    capacity_problems: tuple[Problem, ...]
    """What does not fit or carry the load here; a valid config has none."""
    dr_warnings: tuple[str, ...]
    """What a DR site cannot carry after a failover: warnings, not errors."""
    canary_warnings: tuple[str, ...] = ()
    """Canaries that lower their stable deployment's autoscaling ceiling here: warnings."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def config_path(self) -> str:
        """Where config declares the site, e.g. `sites[1]`."""
        return f"sites[{self.index}]"

    @property
    def active(self) -> bool:
        return self.spec.role == "active"

    @property
    def first_control_plane(self) -> Host:
        return self.control_planes[0]

    @property
    def idle_gpus(self) -> dict[str, int]:
        """GPU model → GPUs of the site's inference hosts that no deployment here is placed
        on: bought and powered, serving nothing."""
        used = {plan.deployment.gpu_model for plan in self.serving.values()}
        idle: dict[str, int] = {}
        for host in self.spec.hosts:
            if host.gpu and host.node_pool == "inference" and host.gpu.model not in used:
                idle[host.gpu.model] = idle.get(host.gpu.model, 0) + host.gpu.count
        return idle

    @property
    def tokens_per_second_at_rest(self) -> float:
        """What the replicas at rest generate when fully busy (the cost model's input)."""
        return sum(p.replicas * p.estimate.tokens_per_second for p in self.serving.values())

    def summary(self) -> dict[str, object]:
        """What the site exports and what a DR stack reads back through its StackReference."""
        site = self.spec
        return {
            "name": site.name,
            "jurisdiction": site.jurisdiction,
            "region": site.region,
            "zone": site.zone,
            "role": site.role,
            "apiEndpoint": self.api_endpoint,
            "hosts": len(site.hosts),
            "gpus": dict(self.gpus),
        }


@dataclass(frozen=True)
class PlatformPlan:
    """The whole stack's derived facts."""

    sites: Mapping[str, SitePlan]
    """By site name, in config order."""
    active_sites: int
    """At rest each active site carries its share of the load; each carries all of it alone."""
    jurisdictions: tuple[str, ...]
    """Sorted, without repeats."""
    gpu_shares: Mapping[str, GpuShare]
    """GPU model of a deployment at some site → what one pod gets when it asks for one of its
    GPUs."""
    capacity_problems: tuple[Problem, ...]
    """Every site's capacity problems, each said once (the same at every site is one)."""


def make_plan(config: PlatformConfig) -> PlatformPlan:
    """The plan of a config that passed validation up to its capacity checks (every model
    placed on GPUs that run it and hold it): capacity problems are part of the plan, for
    validation to report (`capacity_problems`)."""
    active = sum(1 for site in config.sites if site.role == "active")
    sites: dict[str, SitePlan] = {}
    for index, site in enumerate(config.sites):
        serving, problems = plan_site(site, config.models, config.kubernetes, active)
        control_planes = tuple(site.hosts_with_role("control-plane"))
        sites[site.name] = SitePlan(
            spec=site,
            index=index,
            control_planes=control_planes,
            workers=tuple(
                h for h in site.hosts_with_role("worker") if "control-plane" not in h.roles
            ),
            iperf_peers=MappingProxyType(peer_ring([host.name for host in site.hosts])),
            api_endpoint=api_endpoint(site),
            gpus=MappingProxyType(gpu_inventory(site.hosts)),
            failover_peers=failover_peers(site, config.sites),
            serving=MappingProxyType(serving),
            capacity_problems=tuple(problems),
            dr_warnings=_dr_warnings(site, config, serving),
            canary_warnings=tuple(
                w for plan in serving.values() if (w := canary_ceiling_warning(site.name, plan))
            ),
        )
    return PlatformPlan(
        sites=MappingProxyType(sites),
        active_sites=active,
        jurisdictions=tuple(sorted({site.jurisdiction for site in config.sites})),
        gpu_shares=MappingProxyType(
            {
                m: gpu_share(config.kubernetes, m)
                for m in sorted(
                    {d.at_site(site.name).gpu_model for d in config.models for site in config.sites}
                )
            }
        ),
        capacity_problems=_once_each(p for s in sites.values() for p in s.capacity_problems),
    )


def _dr_warnings(
    site: Site, config: PlatformConfig, serving: Mapping[str, ServingPlan]
) -> tuple[str, ...]:
    if site.role != "dr":
        return ()
    warnings = []
    for model in config.models:
        plan = serving.get(model.name)
        if plan is not None and plan.capacity_rps < model.requests_per_second:
            warnings.append(
                f"DR site {site.name} serves an estimated {plan.capacity_rps:.1f} of "
                f"{model.name}'s {model.requests_per_second:g} requests/s at its ceiling "
                f"({plan.capacity_rps / model.requests_per_second:.0%}) after a failover"
            )
    return tuple(warnings)


def _once_each(problems) -> tuple[Problem, ...]:
    seen: set[tuple[int, str, str]] = set()
    kept = []
    for p in problems:
        if (p.index, p.field, p.problem) not in seen:
            seen.add((p.index, p.field, p.problem))
            kept.append(p)
    return tuple(kept)
