"""Kept for importers of the old module: the checks live in `components.validation`, one
module per layer."""

from components.validation import (
    ConfigError,
    ConfigIssue,
    check_inventory,
    check_stack_reference,
)

__all__ = ["ConfigError", "ConfigIssue", "check_inventory", "check_stack_reference"]
