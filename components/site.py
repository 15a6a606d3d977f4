"""One data center: the component that the layers of a site (hosts, Kubernetes, Ceph,
serving, monitoring, gateway) hang under."""

import pulumi

from components.config import Mirrors, Ssh
from components.config import Site as SiteSpec
from components.inventory import api_endpoint, gpu_inventory, site_summary
from components.stack_config import PlatformSecrets


class SiteArgs:
    """Inputs of a `Site`."""

    def __init__(
        self, spec: SiteSpec, mirrors: Mirrors, ssh: Ssh, secrets: PlatformSecrets
    ) -> None:
        self.spec = spec
        """The validated site config."""
        self.mirrors = mirrors
        """Internal mirrors every host and workload pulls from."""
        self.ssh = ssh
        """SSH user and port for host bring-up."""
        self.secrets = secrets
        """Secret config; passed to the children that need it, never stored as props."""


class Site(pulumi.ComponentResource):
    """A data center of the platform (`deepseek:site:Site`)."""

    name: str
    api_endpoint: pulumi.Output[str]
    gpus: pulumi.Output[dict[str, int]]
    summary: pulumi.Output[dict[str, object]]

    def __init__(
        self, name: str, args: SiteArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec = args.spec
        super().__init__(
            "deepseek:site:Site",
            name,
            {"jurisdiction": spec.jurisdiction, "region": spec.region, "role": spec.role},
            opts,
        )
        self.name = name
        self.api_endpoint = pulumi.Output.from_input(api_endpoint(spec))
        self.gpus = pulumi.Output.from_input(gpu_inventory(spec.hosts))
        self.summary = pulumi.Output.from_input(site_summary(spec))
        self.register_outputs(
            {"apiEndpoint": self.api_endpoint, "gpus": self.gpus, "summary": self.summary}
        )
