"""A tiny flow run, started by a process worker: it reads its parameters and greets.

The worker runs ``python hello_flow.py`` in a fresh working directory; the flow run's
parameters arrive as a JSON file that ``orchestrator.read_flow_run_parameters()`` reads.
The exit status decides the run's final state: 0 is Completed, anything else Crashed.
"""

from __future__ import annotations

import os
import sys

import orchestrator


def main() -> int:
    """Greet whoever the parameters name; exit with the requested status."""
    parameters = orchestrator.read_flow_run_parameters()
    name = parameters.get("name", "world")
    run_id = os.environ.get("ORCHESTRATOR_FLOW_RUN_ID", "?")
    print(f"hello, {name}! (flow run {run_id[:8]})")
    return int(parameters.get("exit_code", 0))


if __name__ == "__main__":
    sys.exit(main())
