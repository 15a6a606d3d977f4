"""Every policy of the pack, by concern."""

from deepseek_policies import advisory, baseline, egress, locality

POLICIES = [*locality.POLICIES, *egress.POLICIES, *baseline.POLICIES, *advisory.POLICIES]
