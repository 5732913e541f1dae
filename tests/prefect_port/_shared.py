"""Tasks and helpers the ported flow and task modules share (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

from orchestrator import Orchestrator, task


@task
def identity(x: Any) -> Any:
    return x


@task
async def identity_async(x: Any) -> Any:
    return x


@task
def fails() -> None:
    raise ValueError("Fail task!")


def only_run(orchestrator: Orchestrator, name: str) -> Any:
    (run,) = [
        r for r in orchestrator.read_flow_runs() if orchestrator.read_flow(r.flow_id).name == name
    ]
    return run
