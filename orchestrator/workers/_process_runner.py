"""One flow-run process from start to exit: working directory, parameters, output, stop.

:func:`run_flow_run_process` is the body of :meth:`ProcessWorker.run
<orchestrator.ProcessWorker.run>`; the worker's loop and its state proposals live
elsewhere, so this module only deals with the operating system.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.abc

from .._core._errors import WorkerError
from .._core._models import FlowRun
from .._core._wakeup import wait_for_any
from .._pools._process_config import ProcessJobConfiguration
from ._child import ENV_PARAMETERS_FILE
from ._output import DEFAULT_MAX_LINE_BYTES
from ._processes import FlowRunProcess, start_process
from ._run_states import ProcessWorkerResult, RunHandle

__all__ = ["run_flow_run_process"]

#: How long, in real seconds, output is still read after a process exited (a process it
#: left behind may hold the pipe open).
_OUTPUT_DRAIN_SECONDS: Final = 2.0
Printer = Callable[..., None]


async def run_flow_run_process(
    flow_run: FlowRun,
    configuration: ProcessJobConfiguration,
    handle: RunHandle,
    *,
    environ: Mapping[str, str] | None,
    grace_seconds: float,
    printer: Printer,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    kill_leftovers: bool = True,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> ProcessWorkerResult:
    """Run the process of ``flow_run`` as ``configuration`` says; stop it when ``handle`` trips.

    ``grace_seconds`` and ``kill_leftovers`` are as in
    :func:`~orchestrator.workers._processes.start_process`.

    Raises:
        WorkerError: there is no command, the parameters are not JSON, the working
            directory cannot be prepared, or the process cannot be started.
    """
    command = configuration.command
    if not command:
        raise WorkerError(
            f"flow run {flow_run.id} has no command: give its deployment a command or "
            "set the job variable 'command'"
        )
    try:
        parameters = json.dumps(dict(flow_run.parameters), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise WorkerError(f"the flow run's parameters cannot be sent as JSON: {exc}") from exc
    workdir: Path | None = None
    process: FlowRunProcess | None = None
    parameters_file: Path | None = None
    try:
        if configuration.working_dir is None:
            workdir = Path(tempfile.mkdtemp(prefix="orchestrator-flow-run-"))
        cwd = workdir if workdir is not None else configuration.working_dir
        assert cwd is not None
        parameters_file = cwd / f".orchestrator-flow-run-{flow_run.id}.json"
        await anyio.Path(parameters_file).write_text(parameters, encoding="utf-8")
        environment = configuration.build_environment(environ)
        environment[ENV_PARAMETERS_FILE] = str(parameters_file)
        process = await start_process(
            command,
            cwd=cwd,
            env=environment,
            capture_output=configuration.stream_output,
            grace_seconds=grace_seconds,
            kill_leftovers=kill_leftovers,
        )
        task_status.started(process.pid)
        output = functools.partial(process.stream_output, printer, max_line_bytes=max_line_bytes)
        status = await _wait_or_stop(process, handle, configuration, output)
        return ProcessWorkerResult(identifier=str(process.pid), status_code=status)
    except OSError as exc:
        raise WorkerError(f"cannot prepare the flow run's working directory: {exc}") from exc
    finally:
        with anyio.CancelScope(shield=True):
            if process is not None:
                await process.aclose()
            if workdir is not None:
                await anyio.to_thread.run_sync(functools.partial(shutil.rmtree, workdir, True))
            elif parameters_file is not None:
                await anyio.Path(parameters_file).unlink(missing_ok=True)


async def _wait_or_stop(
    process: FlowRunProcess,
    handle: RunHandle,
    configuration: ProcessJobConfiguration,
    stream_output: Callable[[], Coroutine[Any, Any, None]],
) -> int:
    """Wait for the process to exit, stopping it if ``handle`` trips or we are cancelled."""
    async with anyio.create_task_group() as group:
        if configuration.stream_output:
            group.start_soon(stream_output)
        try:
            while True:
                seen = handle.signal.generation
                if handle.cancel_requested:
                    status = await process.terminate()
                    break
                await wait_for_any([(handle.signal, seen)], until=process.wait)
                if process.returncode is not None and not handle.cancel_requested:
                    status = process.returncode
                    break
        except anyio.get_cancelled_exc_class():
            await process.terminate()
            raise
        await process.end_leftovers()  # what it left behind, if it exited on its own
        # Whatever the process left behind may hold its output open: read a little longer.
        group.cancel_scope.deadline = anyio.current_time() + _OUTPUT_DRAIN_SECONDS
    return status
