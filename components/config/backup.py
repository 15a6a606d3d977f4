"""Data protection config (3-2-1)."""

from pydantic import Field

from components.config.base import Model


class Backup(Model):
    """3-2-1 data protection: copies, media, and one copy off site."""

    schedule: str = Field(
        default="0 2 * * *", pattern=r"^([0-9A-Za-z*/,?-]+ ){4}[0-9A-Za-z*/,?-]+$"
    )
    """Cron expression of five fields separated by single spaces (it reaches a manifest)."""
    retention_days: int = Field(default=30, ge=1, le=3650)
    copies: int = Field(default=3, ge=3, le=10)
    media: int = Field(default=2, ge=2, le=10)
