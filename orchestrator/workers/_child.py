"""What a flow-run process started by a process worker uses to learn its parameters.

The worker writes the flow run's parameters as a JSON object to a file in the
process's working directory and names that file in the environment variable
:data:`ENV_PARAMETERS_FILE`; :func:`read_flow_run_parameters` reads it back::

    import orchestrator

    parameters = orchestrator.read_flow_run_parameters()
    print(f"hello {parameters['name']}")
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .._core._checks_objects import check_mapping
from .._core._errors import WorkerError

__all__ = ["ENV_PARAMETERS_FILE", "PARAMETERS_FILE_NAME", "read_flow_run_parameters"]

#: The environment variable naming the JSON file that holds a flow run's parameters.
ENV_PARAMETERS_FILE: Final = "ORCHESTRATOR_FLOW_RUN_PARAMETERS_FILE"
#: The name of that file inside the process's working directory.
PARAMETERS_FILE_NAME: Final = ".orchestrator-flow-run-parameters.json"


def read_flow_run_parameters(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the parameters of the flow run this process executes.

    Call it in a process started by a :class:`~orchestrator.ProcessWorker`.

    Args:
        environ: where to look the file's name up (default: ``os.environ``).

    Returns:
        The flow run's parameters (an empty dict when it has none).

    Raises:
        InvalidArgument: ``environ`` is not a mapping with string keys.
        WorkerError: the process was not started by a process worker (the variable is
            not set), or the file is missing or does not hold a JSON object.
    """
    source = os.environ if environ is None else check_mapping(environ, "environ")
    name = source.get(ENV_PARAMETERS_FILE)
    if not name:
        raise WorkerError(
            f"{ENV_PARAMETERS_FILE} is not set: this process was not started by a process "
            "worker, so it has no flow-run parameters to read"
        )
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkerError(f"cannot read the flow-run parameters file {name!r}: {exc}") from exc
    try:
        parameters = json.loads(text)
    except ValueError as exc:
        raise WorkerError(f"the flow-run parameters file {name!r} is not JSON: {exc}") from exc
    if not isinstance(parameters, dict):
        raise WorkerError(
            f"the flow-run parameters file {name!r} holds {type(parameters).__name__}, "
            "not a JSON object"
        )
    return parameters
