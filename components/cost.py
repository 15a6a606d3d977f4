"""What a stack costs to run each month, estimated from its inventory and the bank's prices
(`deepseek-onprem:cost`): energy at the data centers' PUE, and hardware written off over its
amortization period. Pure functions; the program exports the result as the `cost` output.

Energy: every server draws `serverWatts`, and every GPU `gpuPowerFraction` of its board power,
around the clock; times PUE, times 730 hours a month. The price per million tokens divides the
site's monthly cost by what its serving replicas at rest generate in a month when fully busy
(the throughput estimate of `serving.capacity`, from the plan): a floor, reached only at full
load."""

from dataclasses import dataclass, field

from components.catalog import GPU_MODELS
from components.config import Cost
from components.plan import PlatformPlan, SitePlan

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class SiteCost:
    site: str
    it_kw: float
    facility_kw: float
    energy_per_month: float
    hardware_per_month: float
    tokens_per_second_at_rest: float
    idle_gpus: dict[str, tuple[int, float]] = field(default_factory=dict)
    """GPU model → (GPUs of inference hosts no deployment here is placed on, what they cost
    a month: their energy and their purchase price written off)."""

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
            "idleGpus": {
                model: {"gpus": count, "perMonth": round(per_month)}
                for model, (count, per_month) in self.idle_gpus.items()
            },
        }

    def idle_warnings(self, currency: str) -> list[str]:
        """One warning per GPU model that no deployment at the site is placed on."""
        return [
            f"site {self.site}: {count} {model} GPUs serve no model (no deployment is placed "
            f"on {model} here) and cost an estimated {per_month:,.0f} {currency} a month: "
            f"place a model on them (models[].placements), or take them out"
            for model, (count, per_month) in self.idle_gpus.items()
        ]


def _energy_per_month(it_watts: float, cost: Cost) -> float:
    return it_watts / 1000 * cost.pue * HOURS_PER_MONTH * cost.energy_price_per_kwh


def gpus_per_month(gpu_model: str, count: int, cost: Cost) -> float:
    """What `count` GPUs of a model cost a month: their energy and their price written off."""
    watts = count * GPU_MODELS[gpu_model].tdp_watts * cost.gpu_power_fraction
    price = count * cost.gpu_prices.get(gpu_model, 0)
    return _energy_per_month(watts, cost) + price / (cost.amortization_years * 12)


def site_cost(plan: SitePlan, cost: Cost) -> SiteCost:
    site = plan.spec
    gpu_watts = sum(
        h.gpu.count * GPU_MODELS[h.gpu.model].tdp_watts * cost.gpu_power_fraction
        for h in site.hosts
        if h.gpu
    )
    it_kw = (len(site.hosts) * cost.server_watts + gpu_watts) / 1000
    facility_kw = it_kw * cost.pue
    energy = _energy_per_month(it_kw * 1000, cost)
    capex = len(site.hosts) * cost.server_price + sum(
        h.gpu.count * cost.gpu_prices.get(h.gpu.model, 0) for h in site.hosts if h.gpu
    )
    hardware = capex / (cost.amortization_years * 12)
    idle = {
        model: (count, gpus_per_month(model, count, cost))
        for model, count in sorted(plan.idle_gpus.items())
    }
    return SiteCost(
        site.name, it_kw, facility_kw, energy, hardware, plan.tokens_per_second_at_rest, idle
    )


def stack_cost(plan: PlatformPlan, cost: Cost) -> dict[str, object]:
    """The `cost` stack output: per site, and the stack's total per month."""
    per_site = [site_cost(site, cost) for site in plan.sites.values()]
    return {
        "sites": {c.site: c.to_output(cost.currency) for c in per_site},
        "totalPerMonth": round(sum(c.total_per_month for c in per_site)),
        "currency": cost.currency,
    }


def idle_gpu_warnings(plan: PlatformPlan, cost: Cost) -> list[str]:
    """Per site and GPU model, the GPUs no model uses, with what they cost a month."""
    return [
        warning
        for site in plan.sites.values()
        for warning in site_cost(site, cost).idle_warnings(cost.currency)
    ]
