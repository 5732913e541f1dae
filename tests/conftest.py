"""Shared pytest configuration: every async test runs on both asyncio and trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend of an async test: each one runs once per backend."""
    backend: str = request.param
    return backend
