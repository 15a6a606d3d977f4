"""What every in-cluster component of a site is built with, in one frozen value: the site's
plan, its cluster's provider, the namespaces the baseline made, the mirrors and the site's
resource name. Site makes one after the cluster and its baseline exist, and builds each layer's
component from it; each component's Args is this context, its own
layer's config section, the secrets it needs and the Outputs of other layers."""

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi_kubernetes as k8s

from components.config import Mirrors, Site
from components.plan import SitePlan


@dataclass(frozen=True)
class SiteContext:
    """A site's cluster, as its in-cluster components see it."""

    plan: SitePlan
    """The site's derived facts (its config is `plan.spec`)."""
    provider: k8s.Provider
    """The site cluster's provider: every in-cluster resource goes through it."""
    namespaces: Mapping[str, k8s.core.v1.Namespace]
    """The namespaces the baseline created, by name (`contracts`)."""
    mirrors: Mirrors
    """Where images and charts come from."""
    name: str
    """The site's resource name (`<platform>-<site>`): its components' names start with it."""

    @property
    def site(self) -> Site:
        return self.plan.spec

    def namespace(self, name: str) -> k8s.core.v1.Namespace:
        """The Namespace resource, for a child's `depends_on`."""
        return self.namespaces[name]
