"""What a stack costs to run each month, estimated from its inventory and the bank's prices
(`deepseek-onprem:cost`): energy at the data centers' PUE, and hardware written off over its
amortization period. Pure functions; the program exports the result as the `cost` output.

Energy: every server draws `serverWatts`, and every GPU `gpuPowerFraction` of its board power,
around the clock; times PUE, times 730 hours a month. The price per million tokens divides the
site's monthly cost by what its serving replicas at rest generate in a month when fully busy
(the throughput estimate of `serving.capacity`): a floor, reached only at full load."""

from dataclasses import dataclass

from components.catalog import GPU_MODELS
from components.config import Cost, Kubernetes, ModelDeployment, Site
from components.serving.capacity import plan_site

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class SiteCost:
    site: str
    it_kw: float
    facility_kw: float
    energy_per_month: float
    hardware_per_month: float
    tokens_per_second_at_rest: float

    @property
    def total_per_month(self) -> float:
        return self.energy_per_month + self.hardware_per_month

    @property
    def per_million_tokens(self) -> float | None:
        if self.tokens_per_second_at_rest <= 0:
            return None
        tokens = self.tokens_per_second_at_rest * HOURS_PER_MONTH * 3600
        return self.total_per_month / (tokens / 1e6)

    def to_output(self, currency: str) -> dict[str, object]:
        per_million = self.per_million_tokens
        return {
            "currency": currency,
            "itKilowatts": round(self.it_kw, 1),
            "facilityKilowatts": round(self.facility_kw, 1),
            "energyPerMonth": round(self.energy_per_month),
            "hardwarePerMonth": round(self.hardware_per_month),
            "totalPerMonth": round(self.total_per_month),
            "perMillionTokensAtFullLoad": None if per_million is None else round(per_million, 2),
        }


def site_cost(
    site: Site,
    cost: Cost,
    models: list[ModelDeployment],
    kubernetes: Kubernetes,
    active_sites: int,
) -> SiteCost:
    gpu_watts = sum(
        h.gpu.count * GPU_MODELS[h.gpu.model].tdp_watts * cost.gpu_power_fraction
        for h in site.hosts
        if h.gpu
    )
    it_kw = (len(site.hosts) * cost.server_watts + gpu_watts) / 1000
    facility_kw = it_kw * cost.pue
    energy = facility_kw * HOURS_PER_MONTH * cost.energy_price_per_kwh
    capex = len(site.hosts) * cost.server_price + sum(
        h.gpu.count * cost.gpu_prices.get(h.gpu.model, 0) for h in site.hosts if h.gpu
    )
    hardware = capex / (cost.amortization_years * 12)
    plans, _ = plan_site(site, models, kubernetes, active_sites) if models else ({}, [])
    tokens = sum(p.replicas * p.estimate.tokens_per_second for p in plans.values())
    return SiteCost(site.name, it_kw, facility_kw, energy, hardware, tokens)


def stack_cost(
    sites: list[Site], cost: Cost, models: list[ModelDeployment], kubernetes: Kubernetes
) -> dict[str, object]:
    """The `cost` stack output: per site, and the stack's total per month."""
    active = sum(1 for s in sites if s.role == "active")
    per_site = [site_cost(s, cost, models, kubernetes, active) for s in sites]
    return {
        "sites": {c.site: c.to_output(cost.currency) for c in per_site},
        "totalPerMonth": round(sum(c.total_per_month for c in per_site)),
        "currency": cost.currency,
    }
