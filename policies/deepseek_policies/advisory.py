"""Advice, not blocking: serving workloads without probes or disruption budgets (judges in
`rules/advisory.py`)."""

from pulumi_policy import EnforcementLevel

from deepseek_policies.common import resource_policy, stack_policy
from deepseek_policies.common import schema as _schema
from deepseek_policies.rules.advisory import SERVING, judge_pdb, judge_probes

probes = resource_policy(
    "serving-has-probes",
    "Keeps broken replicas out of the Service: serving containers (servingNamespaces) have "
    "readiness and liveness probes.",
    judge_probes,
    _schema(servingNamespaces=SERVING),
    EnforcementLevel.ADVISORY,
)

pdb = stack_policy(
    "serving-has-disruption-budget",
    "Keeps serving through drains: serving workloads (servingNamespaces) have a "
    "PodDisruptionBudget.",
    judge_pdb,
    _schema(servingNamespaces=SERVING),
    EnforcementLevel.ADVISORY,
)

POLICIES = [probes, pdb]
