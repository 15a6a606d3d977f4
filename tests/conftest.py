"""Shared fixtures: each real stack's validated config and recorded graph, made once per
test session (the config models are frozen and the graphs are only read: share them)."""

import functools

import pytest

from components.config import PlatformConfig
from components.stack_config import validate_config
from offline.evaluate import evaluate
from offline.graph import Graph
from tests.stacks import raw_stack_config


@functools.cache
def _graph(stack: str) -> Graph:
    return evaluate(stack)


@functools.cache
def _config(stack: str) -> PlatformConfig:
    return validate_config(raw_stack_config(stack), stack)


@pytest.fixture(scope="session")
def stack_graph():
    """`stack_graph("prod")`: the recorded graph of a stack file in the project."""
    return _graph


@pytest.fixture(scope="session")
def prod_graph(stack_graph) -> Graph:
    return stack_graph("prod")


@pytest.fixture(scope="session")
def dr_graph(stack_graph) -> Graph:
    return stack_graph("dr")


@pytest.fixture(scope="session")
def stack_config():
    """`stack_config("prod")`: the validated config of a stack file in the project."""
    return _config


@pytest.fixture(scope="session")
def prod_config(stack_config) -> PlatformConfig:
    return stack_config("prod")


@pytest.fixture(scope="session")
def dr_config(stack_config) -> PlatformConfig:
    return stack_config("dr")
