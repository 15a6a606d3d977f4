"""The monitoring layer's config."""

from pydantic import Field

from components.config.base import Model


class Monitoring(Model):
    """Prometheus/Grafana settings."""

    retention_days: int = Field(default=30, ge=1, le=3650)
    scrape_interval_seconds: int = Field(default=30, ge=5, le=300)
    idle_gpu_utilization_percent: int = Field(default=15, ge=1, le=100)
    """Below this GPU utilization a serving deployment counts as idle (guide: 15 %)."""
    idle_minutes: int = Field(default=30, ge=5, le=60)
    """How long it must stay idle before it is scaled down (guide: 30 min); at most an hour,
    the longest stabilization window a HorizontalPodAutoscaler accepts."""
