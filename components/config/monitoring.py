"""The monitoring layer's config: today only what the serving autoscaler reads. Retention,
scrape interval and the idle-GPU threshold arrive with the monitoring layer (issue 18);
until then `components.config.not_built` refuses them."""

from pydantic import Field

from components.config.base import Model


class Monitoring(Model):
    """What the serving layer's idle scale-down reads."""

    idle_minutes: int = Field(default=30, ge=5, le=60)
    """How long a serving deployment must stay idle before it is scaled down (guide: 30 min);
    at most an hour, the longest stabilization window a HorizontalPodAutoscaler accepts."""
