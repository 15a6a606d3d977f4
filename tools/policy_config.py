"""Writes the policy pack's config, `policies/config/<stack>.json` (what
`pulumi preview --policy-pack-config` reads): the hand-owned bounds of
`policies/config/bounds/<stack>.json` (jurisdictions, regions, registries, storage classes,
domains: whoever owns the guard rail edits them; a stack change never grants itself
permission) merged with the lists derived from the stack config (node, pod and service
networks, load-balancer pools, client networks, each site's RGW and its backup targets'),
each checked to lie inside the bounds' `networkBounds`.

    python -m tools.policy_config prod dr          # write
    python -m tools.policy_config --check prod dr  # exit 1 when a committed file differs

`--readme` also rewrites the rule table of README.md's "Policy pack" section from the pack
itself (name, level, what each rule protects and the config it reads).
"""

import argparse
import ipaddress
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

from components.config import PlatformConfig
from components.storage import ceph_spec
from offline.__main__ import _platform_config
from offline.stack_files import PROJECT_DIR

CONFIG_DIR = PROJECT_DIR / "policies" / "config"


class BoundsError(ValueError):
    """A derived list falls outside the hand-owned bounds."""


def platform_config(stack: str, project_dir: Path = PROJECT_DIR) -> PlatformConfig:
    """The stack's validated config, read as the program reads it."""
    return _platform_config(stack, project_dir)


def _sorted(networks) -> list[str]:
    unique = {ipaddress.ip_network(str(n), strict=False) for n in networks}
    return [
        str(n) for n in sorted(unique, key=lambda n: (n.version, n.network_address, n.prefixlen))
    ]


def derived_lists(config: PlatformConfig) -> dict[str, list[str]]:
    """What the stack config says about its own networks, by the policy key that reads it."""
    nodes, pools, egress, clients = [], [], [], []
    for site in config.sites:
        network = site.network
        nodes.append(network.node_cidr)
        egress += [network.node_cidr, network.pod_cidr, network.service_cidr]
        egress += list(network.egress_allow_list)
        if site.load_balancer:
            pools += list(site.load_balancer.addresses)
        if site.model_store:
            egress += list(site.model_store.networks)
    if config.gateway:
        clients += list(config.gateway.client_networks)
        egress += list(config.gateway.identity_provider.networks)
    egress += pools
    return {
        "allowedNodeNetworks": _sorted(nodes),
        "allowedLoadBalancerPools": _sorted(pools),
        "allowedEgressCidrs": _sorted(egress),
        "allowedIngressCidrs": _sorted(nodes + clients),
    }


def rgw_endpoint(config: PlatformConfig, site_name: str) -> str | None:
    """A site's RGW as Velero's s3Url names it: the endpoint the Ceph layer serves on the
    site's RGW virtual IP and port (`ceph_spec.rgw_endpoint`, which `CephCluster` reports)."""
    site = next(s for s in config.sites if s.name == site_name)
    if site.storage is None:
        return None
    return ceph_spec.rgw_endpoint(site.storage.rgw_virtual_ip, config.storage.rgw.port)


def derived_endpoints(config: PlatformConfig) -> dict[str, dict[str, list[str]]]:
    """Site → the S3 endpoints its backups may go to (its `backup.targets` RGW), and site → its
    own RGW (where its backups must not go), for the backup-location rule."""
    own = {
        site.name: [endpoint]
        for site in config.sites
        if (endpoint := rgw_endpoint(config, site.name)) is not None
    }
    targets = config.backup.targets if config.backup else {}
    backups = {
        source: own[target]
        for source, target in sorted(targets.items())
        if target in own and target != source
    }
    return {"backupEndpoints": backups, "siteEndpoints": own}


BACKUP_LOCATION_POLICY = "backup-locations-at-target-sites"
REPLICATION_POLICY = "replication-targets-in-jurisdiction"

# Which policy reads each derived list.
DERIVED_FOR = {
    "allowedNodeNetworks": ["remote-steps-on-site-hosts"],
    "allowedLoadBalancerPools": ["load-balancer-addresses-in-site-pools"],
    "allowedEgressCidrs": ["egress-within-allow-list"],
    "allowedIngressCidrs": ["ingress-from-named-peers"],
}


def read_bounds(stack: str, config_dir: Path = CONFIG_DIR) -> dict:
    return json.loads((config_dir / "bounds" / f"{stack}.json").read_text())


def generate(stack: str, project_dir: Path = PROJECT_DIR, config_dir: Path = CONFIG_DIR) -> dict:
    """The pack config of a stack: its bounds' policies plus the derived lists; refuses a
    derived network outside `networkBounds`."""
    bounds = read_bounds(stack, config_dir)
    limits = [ipaddress.ip_network(n) for n in bounds.get("networkBounds") or []]
    policies = json.loads(json.dumps(bounds.get("policies") or {}))
    config = platform_config(stack, project_dir)
    for key, networks in derived_lists(config).items():
        outside = [
            n
            for n in networks
            if not any(ipaddress.ip_network(n).subnet_of(limit) for limit in limits)
        ]
        if outside:
            raise BoundsError(
                f"stack '{stack}': {key} {', '.join(outside)} lies outside the networkBounds of "
                f"policies/config/bounds/{stack}.json ({', '.join(map(str, limits)) or 'none'}); "
                "change the stack config, or have the bounds' owner widen them"
            )
        for policy in DERIVED_FOR[key]:
            policies.setdefault(policy, {})[key] = networks
    for key, by_site in derived_endpoints(config).items():
        for site, endpoints in by_site.items():
            for endpoint in endpoints:
                address = ipaddress.ip_address(urlsplit(endpoint).hostname)
                if not any(address in limit for limit in limits):
                    raise BoundsError(
                        f"stack '{stack}': {key} of {site}, {endpoint}, lies outside the "
                        f"networkBounds of policies/config/bounds/{stack}.json "
                        f"({', '.join(map(str, limits)) or 'none'}); change the stack config, "
                        "or have the bounds' owner widen them"
                    )
        policies.setdefault(BACKUP_LOCATION_POLICY, {})[key] = by_site
    # Every site's RGW is one of the stack's own stores, wherever a URL names it.
    stores = derived_endpoints(config)["siteEndpoints"]
    policies.setdefault(REPLICATION_POLICY, {})["allowedObjectStores"] = sorted(
        {endpoint for endpoints in stores.values() for endpoint in endpoints}
    )
    return {name: policies[name] for name in sorted(policies)}


README = PROJECT_DIR / "README.md"
TABLE_START = "<!-- policy table: generated by python -m tools.policy_config --readme -->"
TABLE_END = "<!-- end of policy table -->"


def rule_table() -> str:
    """The pack's rules as a Markdown table, read from the policies themselves."""
    sys.path.insert(0, str(PROJECT_DIR / "policies"))
    from deepseek_policies.pack import POLICIES
    from pulumi_policy import EnforcementLevel, StackValidationPolicy

    lines = [
        "| policy | level | judges | what it protects, and how | config it reads |",
        "|---|---|---|---|---|",
    ]
    for policy in POLICIES:
        level = policy.enforcement_level or EnforcementLevel.MANDATORY
        scope = "the stack" if isinstance(policy, StackValidationPolicy) else "each resource"
        keys = sorted((policy.config_schema.properties if policy.config_schema else {}) or {})
        config = ", ".join(f"`{k}`" for k in keys) or "nothing"
        lines.append(
            f"| `{policy.name}` | {level.value} | {scope} | {policy.description} | {config} |"
        )
    return "\n".join([TABLE_START, *lines, TABLE_END])


def readme_with_table(text: str) -> str:
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    return text[:start] + rule_table() + text[end:]


def render(config: dict) -> str:
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.policy_config", description=__doc__)
    parser.add_argument("stacks", nargs="+")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--readme", action="store_true", help="also the README's rule table")
    args = parser.parse_args(argv)
    drift = False
    if args.readme:
        text = README.read_text()
        if args.check and readme_with_table(text) != text:
            print(
                "README.md's policy table differs from the pack; run: "
                "python -m tools.policy_config --readme prod dr",
                file=sys.stderr,
            )
            drift = True
        elif not args.check:
            README.write_text(readme_with_table(text))
            print("wrote the policy table of README.md")
    for stack in args.stacks:
        try:
            text = render(generate(stack))
        except BoundsError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        path = CONFIG_DIR / f"{stack}.json"
        if args.check:
            if not path.exists() or path.read_text() != text:
                print(
                    f"{path.relative_to(PROJECT_DIR)} differs from its bounds and stack config; "
                    f"run: python -m tools.policy_config {stack}",
                    file=sys.stderr,
                )
                drift = True
            else:
                print(f"{path.relative_to(PROJECT_DIR)}: up to date")
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(PROJECT_DIR)}")
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
