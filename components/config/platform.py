"""The whole stack config, one field per `deepseek-onprem:<key>`."""

from pydantic import Field

from components.config.base import Model
from components.config.cost import Cost
from components.config.dr import Replication
from components.config.gateway import Gateway
from components.config.kubernetes import Kubernetes
from components.config.metal import Host, Nvidia, Preflight, Ssh
from components.config.mirrors import Mirrors
from components.config.monitoring import Monitoring
from components.config.rollout import Rollout
from components.config.serving import ModelDeployment, Serving
from components.config.site import Site
from components.config.storage import Backup, Storage


class PlatformConfig(Model):
    """The whole stack config: one field per `deepseek-onprem:<key>`."""

    sites: list[Site] = Field(min_length=1)
    mirrors: Mirrors
    ssh: Ssh = Ssh()
    preflight: Preflight = Preflight()
    nvidia: Nvidia = Nvidia()
    kubernetes: Kubernetes = Kubernetes()
    models: list[ModelDeployment] = []
    serving: Serving = Serving()
    gateway: Gateway | None = None
    monitoring: Monitoring = Monitoring()
    cost: Cost = Cost()
    replication: Replication | None = None
    rollout: Rollout = Rollout()
    storage: Storage = Storage()
    backup: Backup | None = None

    @property
    def all_hosts(self) -> list[tuple[Site, Host]]:
        return [(site, host) for site in self.sites for host in site.hosts]


CONFIG_KEYS = tuple(field.alias or name for name, field in PlatformConfig.model_fields.items())
