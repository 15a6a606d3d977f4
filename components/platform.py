"""The whole stack: its sites and what crosses them (DR link to prod, exports)."""

from dataclasses import dataclass

import pulumi

from components.config import PlatformConfig, PlatformSecrets
from components.plan import PlatformPlan
from components.site import Site, SiteArgs


@dataclass(frozen=True)
class PlatformArgs:
    """Inputs of a `Platform`."""

    config: PlatformConfig
    """The validated stack config."""
    plan: PlatformPlan
    """What the program derives from it (`make_plan`), computed once."""
    secrets: PlatformSecrets
    """Secret config, handed down to the children that need it."""


class Platform(pulumi.ComponentResource):
    """The DeepSeek platform of one stack (`deepseek:platform:Platform`)."""

    sites: dict[str, Site]
    """The stack's sites, by name in config."""
    site_summaries: pulumi.Output[list[dict[str, object]]]
    """What each site exports (the `sites` stack output, which a DR stack reads)."""
    replication_source_sites: pulumi.Output[list[dict[str, object]]] | None
    """A DR stack's view of the sites it receives data from (None on an active stack)."""

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        config = args.config
        super().__init__("deepseek:platform:Platform", name, None, opts)

        # Built in rollout order (each site's changes wait for the previous site's);
        # keyed by the site's name, in config order.
        built: dict[str, Site] = {}
        after: tuple[pulumi.Resource, ...] = ()
        for site_name in config.rollout.site_order or list(args.plan.sites):
            built[site_name] = Site(
                f"{name}-{site_name}",
                SiteArgs(config, args.plan.sites[site_name], args.secrets, after),
                pulumi.ResourceOptions(parent=self),
            )
            after = built[site_name].rollout.tails
        self.sites = {site_name: built[site_name] for site_name in args.plan.sites}
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
                "siteSummaries": self.site_summaries,
                "replicationSourceSites": self.replication_source_sites,
            }
        )
