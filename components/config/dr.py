"""The disaster-recovery stack's config: where its data comes from."""

from pydantic import Field

from components.config.base import Model


class Replication(Model):
    """For a DR stack: the stack whose data it receives."""

    source_stack: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """Fully qualified stack name, e.g. 'organization/deepseek-onprem/prod'."""
