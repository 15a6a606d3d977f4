"""The deepseek-onprem policy pack: `pulumi preview --policy-pack policies
--policy-pack-config policies/config/<stack>.json`. Only builds the pack; the rules live in
`deepseek_policies`."""

from deepseek_policies.pack import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="deepseek-onprem",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
