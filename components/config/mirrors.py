"""Internal mirrors: the only sources of images, charts and OS packages."""

from pydantic import Field, field_validator

from components.config.base import FieldError, Model
from components.config.urls import AptUrl, ChartRepositoryUrl, InternalDomain, RegistryReference


class Mirrors(Model):
    """Internal mirrors: the only sources of images, charts and OS packages."""

    internal_domains: list[InternalDomain] = Field(min_length=1)
    """The allow-list: DNS suffixes of the bank's own names. Every mirror, repository,
    registry, model store and identity provider host must be one of them or below one."""
    image_registry: RegistryReference
    """Registry host (and optional path prefix) without a scheme."""
    chart_repository: ChartRepositoryUrl
    apt_mirror: AptUrl
    kubernetes_apt_repo: AptUrl
    """Mirror of the Kubernetes package repository for the pinned minor version."""
    ceph_apt_repo: AptUrl | None = None
    """Mirror of Ceph's package repository for the release of `storage.cephVersion` (e.g.
    https://apt.bank.internal/ceph/debian-reef, as download.ceph.com/debian-reef): cephadm and
    ceph-common on the storage hosts come from it, at the Ceph image's version. Required when
    a site has storage hosts."""

    @field_validator("image_registry")
    @classmethod
    def _lower_case_repository(cls, value: str) -> str:
        if value != value.lower():
            raise FieldError("has upper-case letters", "registry paths are lower case")
        return value
