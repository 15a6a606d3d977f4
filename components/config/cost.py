"""Inputs of the monthly cost estimate."""

from typing import Annotated

from pydantic import Field

from components.config.base import GpuModelName, Model


class Cost(Model):
    """Inputs of the monthly cost estimate: the bank's own prices, not list prices."""

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    # Upper bounds leave room for any currency and keep the estimate's arithmetic finite.
    energy_price_per_kwh: float = Field(default=0.25, ge=0, le=1_000_000)
    pue: float = Field(default=1.4, ge=1.0, le=3.0)
    """Power usage effectiveness of the data centers (facility power / IT power)."""
    gpu_power_fraction: float = Field(default=0.7, gt=0, le=1.0)
    """Average GPU draw as a share of board power."""
    server_watts: int = Field(default=500, ge=0, le=100_000)
    """Average draw of one server without its GPUs (CPUs, memory, disks, NICs, fans)."""
    server_price: float = Field(default=0, ge=0, le=1e12)
    """Purchase price of one server without GPUs; 0 leaves hardware out of the estimate."""
    gpu_prices: dict[GpuModelName, Annotated[float, Field(ge=0, le=1e12)]] = {}
    """Purchase price per GPU, by GPU model."""
    amortization_years: int = Field(default=4, ge=1, le=10)
