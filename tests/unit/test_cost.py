"""The monthly cost estimate, from prod's inventory and its example prices."""

import pytest

from components.cost import HOURS_PER_MONTH, site_cost, stack_cost
from components.plan import make_plan


def test_energy_and_hardware_of_one_site(prod_config):
    cost = site_cost(make_plan(prod_config).sites["dc-a"], prod_config.cost)
    # 12 servers × 500 W, 16 A100 × 400 W and 12 V100 × 300 W at 70 % of board power.
    assert cost.it_kw == pytest.approx((12 * 500 + 16 * 400 * 0.7 + 12 * 300 * 0.7) / 1000)
    assert cost.facility_kw == pytest.approx(cost.it_kw * 1.35)
    assert cost.energy_per_month == pytest.approx(cost.facility_kw * HOURS_PER_MONTH * 0.24)
    # 12 × 18,000 + 16 × 16,000 + 12 × 4,000 over 48 months.
    assert cost.hardware_per_month == pytest.approx((216_000 + 256_000 + 48_000) / 48)


def test_price_per_million_tokens_at_full_load(prod_config):
    cost = site_cost(make_plan(prod_config).sites["dc-a"], prod_config.cost)
    # Replicas at rest: 3 of r1-qwen-32b and 4 of r1-llama-8b, at their estimated rates.
    assert cost.tokens_per_second_at_rest == pytest.approx(
        3 * (2 * 2039 * 0.5 / (32.8 * 4) * 2 * 16) + 4 * (900 * 0.5 / (8.03 * 4) * 2 * 16)
    )
    tokens_per_month = cost.tokens_per_second_at_rest * HOURS_PER_MONTH * 3600
    assert cost.per_million_tokens == pytest.approx(cost.total_per_month / tokens_per_month * 1e6)


def test_stack_output_sums_the_sites(prod_config):
    output = stack_cost(make_plan(prod_config), prod_config.cost)
    assert set(output["sites"]) == {"dc-a", "dc-b"}
    sites_total = sum(site["totalPerMonth"] for site in output["sites"].values())
    assert abs(output["totalPerMonth"] - sites_total) <= 1  # each figure rounded on its own
    assert output["currency"] == "EUR"


def test_without_prices_only_energy_counts(prod_config):
    free = prod_config.cost.model_copy(update={"server_price": 0, "gpu_prices": {}})
    unserved = make_plan(prod_config.model_copy(update={"models": []}))
    cost = site_cost(unserved.sites["dc-a"], free)
    assert cost.hardware_per_month == 0
    assert cost.per_million_tokens is None  # nothing served, no price per token
