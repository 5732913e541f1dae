"""The process worker's job configuration: a flow run as a local subprocess.

The process gets an argument list (never a shell), a working directory and an
environment computed by :meth:`ProcessJobConfiguration.build_environment`: by default
the worker's environment updated with the configured ``env``, as the reference does;
with ``inherit_env=False`` only a few basics (:data:`MINIMAL_ENV_NAMES`) plus ``env``, so
secrets in the worker's environment stay out of flow runs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Final, Self, final

import attrs

from .._core._models import Deployment, Flow, FlowRun, WorkPool
from ._job_config import BaseJobConfiguration
from ._job_fields import flag_validator, to_working_dir
from ._variables import BaseVariables, ProcessVariables

__all__ = ["MINIMAL_ENV_NAMES", "ProcessJobConfiguration"]

#: The variables a process started with ``inherit_env=False`` still gets from the worker:
#: what programs need to be found and to run (Windows needs its SYSTEMROOT and friends).
MINIMAL_ENV_NAMES: Final = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
        "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT",
    }
)  # fmt: skip


@final
@attrs.frozen(kw_only=True)
class ProcessJobConfiguration(BaseJobConfiguration):
    """How the process worker starts a flow run as a local subprocess.

    Args:
        command: see :class:`BaseJobConfiguration`. There is no built-in default: the
            worker refuses a configuration whose command is still None after
            :meth:`prepare_for_flow_run` (a deployment normally carries one).
        env: see :class:`BaseJobConfiguration`; a None value removes that variable from
            the inherited environment too.
        labels: see :class:`BaseJobConfiguration`.
        name: see :class:`BaseJobConfiguration`.
        stream_output: copy the process's output to the worker's printer.
        working_dir: where the process starts (a relative path is resolved against the
            current directory now); None means a new temporary directory per run.
        inherit_env: start from the worker's whole environment (the reference
            behaviour); False passes only :data:`MINIMAL_ENV_NAMES` plus ``env``, so the
            worker's secrets stay out of the flow run.
    """

    variables_class: ClassVar[type[BaseVariables]] = ProcessVariables

    stream_output: bool = attrs.field(default=True, validator=flag_validator)
    working_dir: Path | None = attrs.field(default=None, converter=to_working_dir)
    inherit_env: bool = attrs.field(default=True, validator=flag_validator)

    @classmethod
    def validate_working_dir(cls, value: str | os.PathLike[str] | None) -> Path | None:
        """Turn a working directory setting into an absolute path, or None.

        Args:
            value: a path, a string, ``""`` or None.

        Returns:
            None for ``""`` and None; the path itself when absolute; otherwise the path
            resolved against the current directory.

        Raises:
            InvalidArgument: the value is not a path.
        """
        return to_working_dir(value)

    def prepare_for_flow_run(
        self,
        flow_run: FlowRun,
        deployment: Deployment | None = None,
        flow: Flow | None = None,
        work_pool: WorkPool | None = None,
        worker_name: str | None = None,
        worker_id: uuid.UUID | str | None = None,
    ) -> Self:
        """As :meth:`BaseJobConfiguration.prepare_for_flow_run`, keeping None env values.

        A None value in the configured env still means "unset this inherited variable"
        for :meth:`build_environment`, so it is kept rather than left out.
        """
        prepared = super().prepare_for_flow_run(
            flow_run, deployment, flow, work_pool, worker_name, worker_id
        )
        unset = {key: None for key, value in self.env.items() if value is None}
        return attrs.evolve(prepared, env={**prepared.env, **unset}) if unset else prepared

    def build_environment(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Compute the environment of the flow-run process.

        Args:
            environ: the worker's environment (default: ``os.environ``).

        Returns:
            ``environ`` (all of it, or only :data:`MINIMAL_ENV_NAMES` when
            ``inherit_env`` is False) updated with ``env``: configured values win and a
            None value removes the variable.
        """
        source = os.environ if environ is None else environ
        if self.inherit_env:
            result = dict(source)
        else:
            result = {key: value for key, value in source.items() if key in MINIMAL_ENV_NAMES}
        for key, value in self.env.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = value
        return result
