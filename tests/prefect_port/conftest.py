"""Fixtures of the ported flow and task modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator import Orchestrator, VirtualClock


@pytest.fixture
def orchestrator() -> Iterator[Orchestrator]:
    orch = Orchestrator(VirtualClock())
    with orch:
        yield orch
