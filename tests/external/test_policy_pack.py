"""The policy pack through its real analyzer server, started as the CLI starts it: zero
violations on the real stacks, every mutation of prod caught by the intended rule (`make bench`
prints how long the pack takes over prod)."""

import pytest

from offline.policy import policy_server, render
from tests.policy_mutations import CASES


@pytest.fixture(scope="module")
def prod_server():
    with policy_server("prod") as server:
        yield server


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_the_real_stacks_pass(stack, stack_graph):
    with policy_server(stack) as server:
        violations = server.analyze(stack_graph(stack))
    assert violations == [], render(violations)


def test_the_corpus_has_a_case_for_every_policy(prod_server):
    names = {p.name for p in prod_server.info.policies}
    assert len(CASES) >= 90
    assert {case.policy for case in CASES} == names


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_mutation_is_caught_by_its_rule(case, prod_graph, prod_server):
    mutated = case.mutate(prod_graph)
    violations = prod_server.analyze(mutated.graph, mutated.analyze)
    assert {(v.policy, v.urn) for v in violations} == {(case.policy, mutated.target)}, render(
        violations
    )
    for violation in violations:
        # One sentence after the policy's description: what, on which resource, the fix.
        finding = violation.message.splitlines()[-1]
        assert finding.endswith(".") and ";" in finding, finding
