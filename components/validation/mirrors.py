"""Rules about where things come from: every source outside the cluster (packages, images,
charts, weights, signing keys) is a host inside `mirrors.internalDomains`."""

import re
from collections.abc import Iterator

from components.config import PlatformConfig, inside_domains, public_registry, url_host
from components.storage.ceph_spec import ceph_release
from components.validation.issues import ConfigIssue


def check_mirrors(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _internal_hosts(config)
    yield from _ceph_repository(config)


# An in-cluster Service: `<service>.<namespace>.svc[.cluster.local]`.
_CLUSTER_SERVICE = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+\.svc(\.cluster\.local)?")


def _internal_hosts(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Everything pulled from outside the cluster (packages, images, charts, weights, signing
    keys) comes from a host inside `mirrors.internalDomains`: an allow-list, since a list of
    public names to refuse would let any other public host through."""
    domains = list(config.mirrors.internal_domains)
    sources: list[tuple[str, str, str]] = [
        ("mirrors.imageRegistry", config.mirrors.image_registry, "image registry"),
        ("mirrors.chartRepository", config.mirrors.chart_repository, "chart repository"),
        ("mirrors.aptMirror", config.mirrors.apt_mirror, "package mirror"),
        ("mirrors.kubernetesAptRepo", config.mirrors.kubernetes_apt_repo, "package mirror"),
    ]
    if config.mirrors.ceph_apt_repo is not None:
        sources.append(("mirrors.cephAptRepo", config.mirrors.ceph_apt_repo, "package mirror"))
    for s, site in enumerate(config.sites):
        if site.model_store is not None:
            sources.append(
                (f"sites[{s}].modelStore.endpoint", site.model_store.endpoint, "object store")
            )
    if config.gateway is not None:
        idp = config.gateway.identity_provider
        sources.append(("gateway.identityProvider.issuer", idp.issuer, "identity provider"))
        sources.append(("gateway.identityProvider.jwksUri", idp.jwks_uri, "identity provider"))
    prometheus = url_host(config.serving.prometheus_url)
    if not _CLUSTER_SERVICE.fullmatch(prometheus):
        sources.append(("serving.prometheusUrl", config.serving.prometheus_url, "Prometheus"))

    allowed = ", ".join(domains)
    for path, url, what in sources:
        host = url_host(url)
        if inside_domains(host, domains):
            continue
        public = f", and it is a public {what}" if public_registry(host) else ""
        yield ConfigIssue(
            path,
            url,
            f"host {host} is not inside the internal domains ({allowed}, "
            f"mirrors.internalDomains){public}",
            f"name the bank's internal {what} (a host under {allowed}); add a domain to "
            "mirrors.internalDomains only if the bank runs it",
        )


# Ceph's package repositories hold one release each, named in the path:
# `.../debian-reef` (download.ceph.com/debian-reef and its mirrors).
_CEPH_REPOSITORY_RELEASE = re.compile(r"/debian-([a-z]+)(/|$)")


def _ceph_repository(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Storage hosts install cephadm and ceph-common of the Ceph image's release from
    `mirrors.cephAptRepo`: without it there is no source of them, and a repository of another
    release has no package of the pinned version (every ceph-host-prep would fail)."""
    storage = [h.name for site in config.sites for h in site.hosts_with_role("storage")]
    repository = config.mirrors.ceph_apt_repo
    version = config.storage.ceph_version
    release = ceph_release(version)
    example = f"https://apt.{config.mirrors.internal_domains[0]}/ceph/debian-{release or 'reef'}"
    if repository is None:
        if storage:
            yield ConfigIssue(
                "mirrors.cephAptRepo",
                None,
                f"the storage hosts ({', '.join(storage)}) install cephadm and ceph-common "
                f"{version.removeprefix('v')} (storage.cephVersion) from Ceph's package "
                "repository, and no mirror of it is set",
                f"set mirrors.cephAptRepo to the internal mirror of Ceph's {release or ''} "
                f"repository, e.g. {example}",
            )
        return
    named = _CEPH_REPOSITORY_RELEASE.search(repository)
    if named and release and named.group(1) != release:
        yield ConfigIssue(
            "mirrors.cephAptRepo",
            repository,
            f"holds Ceph {named.group(1)} packages, but storage.cephVersion is {version} "
            f"({release})",
            f"point it at the {release} repository "
            f"({repository[: named.start(1)]}{release}{repository[named.end(1) :]}), "
            f"or pin a {named.group(1)} version",
        )
