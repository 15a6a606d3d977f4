"""Shared fixtures: the recorded graph of a stack, evaluated once per test session."""

import functools

import pytest

from offline.evaluate import evaluate
from offline.graph import Graph


@functools.cache
def _graph(stack: str) -> Graph:
    return evaluate(stack)


@pytest.fixture(scope="session")
def stack_graph():
    """`stack_graph("prod")`: the recorded graph of a stack file in the project."""
    return _graph


@pytest.fixture(scope="session")
def prod(stack_graph) -> Graph:
    return stack_graph("prod")


@pytest.fixture(scope="session")
def dr(stack_graph) -> Graph:
    return stack_graph("dr")
