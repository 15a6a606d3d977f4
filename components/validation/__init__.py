"""Cross-field validation of a stack config that passed its per-field checks, one module per
layer, as Kubespray's inventory checks are: every problem is a `ConfigIssue` naming the path,
the value and the fix, and all of them are reported at once. Pure: nothing here talks to
Pulumi (except `ConfigError`, a `RunError` so `pulumi up` prints it without a traceback).
"""

from components.config import PlatformConfig
from components.validation.backup import check_backup_targets
from components.validation.data_lake import check_data_lake
from components.validation.dr import check_stack_reference, check_stack_shape
from components.validation.gateway import check_gateway
from components.validation.issues import ConfigError, ConfigIssue, issues_from_validation_error
from components.validation.kubernetes import check_kubernetes
from components.validation.metal import check_hosts
from components.validation.mirrors import check_mirrors
from components.validation.rollout import check_rollout
from components.validation.serving import check_serving
from components.validation.site import check_sites
from components.validation.storage import check_storage
from components.validation.versions import check_pinned_versions

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "check_inventory",
    "check_stack_reference",
    "issues_from_validation_error",
]


def check_inventory(config: PlatformConfig) -> list[ConfigIssue]:
    """Every cross-field problem of a config that passed the per-field checks."""
    return [
        *check_sites(config),
        *check_hosts(config),
        *check_mirrors(config),
        *check_kubernetes(config),
        *check_storage(config),
        *check_data_lake(config),
        *check_backup_targets(config),
        *check_stack_shape(config),
        *check_gateway(config),
        *check_pinned_versions(config),
        *check_serving(config),
        *check_rollout(config),
    ]
