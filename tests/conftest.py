"""Shared fixtures: the recorded graph of a stack, evaluated once per test session."""

import functools
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from offline.evaluate import evaluate  # noqa: E402
from offline.graph import Graph  # noqa: E402


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
