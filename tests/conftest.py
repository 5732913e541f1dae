"""Shared pytest configuration and the fixtures the rule tests share.

Every async test runs on both asyncio and trio. ``clock`` and ``services`` serve the
rule tests, which drive rules without an orchestrator; a test file that needs another
clock (say, one starting at a fixed date) defines its own ``clock``, which wins.
"""

from __future__ import annotations

import pytest

from orchestrator import VirtualClock
from tests.helpers import StubServices


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend of an async test: each one runs once per backend."""
    backend: str = request.param
    return backend


@pytest.fixture
def clock() -> VirtualClock:
    """A fresh virtual clock at its default start."""
    return VirtualClock()


@pytest.fixture
def services() -> StubServices:
    """Rule services over fresh, empty policy tables."""
    return StubServices()
