"""The whole stack: its sites and what crosses them (DR link to prod, exports)."""

import pulumi

from components.config import PlatformConfig
from components.site import Site, SiteArgs
from components.stack_config import PlatformSecrets


class PlatformArgs:
    """Inputs of a `Platform`."""

    def __init__(self, config: PlatformConfig, secrets: PlatformSecrets) -> None:
        self.config = config
        """The validated stack config."""
        self.secrets = secrets
        """Secret config, handed down to the children that need it."""


class Platform(pulumi.ComponentResource):
    """The DeepSeek platform of one stack (`deepseek:platform:Platform`)."""

    sites: dict[str, Site]
    site_summaries: pulumi.Output[list[dict[str, object]]]
    replication_source_sites: pulumi.Output[list[dict[str, object]]] | None

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        config = args.config
        super().__init__("deepseek:platform:Platform", name, None, opts)

        # Keyed by the site's name in config.
        self.sites = {
            spec.name: Site(
                f"{name}-{spec.name}",
                SiteArgs(
                    spec,
                    f"sites[{index}]",
                    config.mirrors,
                    config.ssh,
                    config.preflight,
                    config.nvidia,
                    config.kubernetes,
                    args.secrets,
                    models=config.models,
                    serving=config.serving,
                    monitoring=config.monitoring,
                    active_sites=sum(1 for s in config.sites if s.role == "active"),
                    sites=config.sites,
                    gateway=config.gateway,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for index, spec in enumerate(config.sites)
        }
        self.site_summaries = pulumi.Output.all(
            *(site.summary for site in self.sites.values())
        ).apply(list)

        self.replication_source_sites = None
        if config.replication is not None:
            # The DR stack reads what prod exports (its sites, their jurisdictions and
            # endpoints) instead of repeating it in its own config.
            source = pulumi.StackReference(
                f"{name}-replication-source",
                stack_name=config.replication.source_stack,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.replication_source_sites = source.get_output("sites")

        self.register_outputs(
            {
                "sites": self.site_summaries,
                "replicationSourceSites": self.replication_source_sites,
            }
        )
