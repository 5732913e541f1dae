"""The process worker's job configuration: a flow run as a local subprocess.

The process gets an argument list (never a shell), a working directory and an
environment computed by :meth:`ProcessJobConfiguration.build_environment`: by default
the worker's environment updated with the configured ``env``, as the reference does;
with ``inherit_env=False`` only a few basics (:data:`MINIMAL_ENV_NAMES`) plus ``env``, so
secrets in the worker's environment stay out of flow runs; ``inherit_env_names`` narrows
what is inherited to the names it lists. Both are the work pool's to set: job variables
may narrow them, never widen them.
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
from ._job_fields import flag_validator, to_env_names, to_working_dir
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
        inherit_env_names: if not None, only these names are inherited from the
            worker's environment (of those ``inherit_env`` lets through); ``env`` is
            set whatever it says. None (the default) means no restriction.

    When rendered from a work pool's template
    (:meth:`~BaseJobConfiguration.from_template_and_values`), ``inherit_env`` and
    ``inherit_env_names`` cannot be widened by job variables: ``inherit_env`` is True
    only if the template alone (its job configuration with its variables' defaults)
    gives True, and ``inherit_env_names`` is the intersection of what the job variables
    give with what the template alone gives (None on one side: the other side).
    """

    variables_class: ClassVar[type[BaseVariables]] = ProcessVariables
    _CEILING_FIELDS: ClassVar[tuple[str, ...]] = ("inherit_env", "inherit_env_names")

    stream_output: bool = attrs.field(default=True, validator=flag_validator)
    working_dir: Path | None = attrs.field(default=None, converter=to_working_dir)
    inherit_env: bool = attrs.field(default=True, validator=flag_validator)
    inherit_env_names: tuple[str, ...] | None = attrs.field(default=None, converter=to_env_names)

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

    @classmethod
    def _within(cls, configuration: Self, ceiling: Self | None) -> Self:
        """Narrow ``inherit_env`` and ``inherit_env_names`` to the pool's ``ceiling``."""
        if ceiling is None:
            return configuration
        names, limit = configuration.inherit_env_names, ceiling.inherit_env_names
        if limit is not None:
            allowed = frozenset(limit)
            names = limit if names is None else tuple(n for n in names if n in allowed)
        return attrs.evolve(
            configuration,
            inherit_env=configuration.inherit_env and ceiling.inherit_env,
            inherit_env_names=names,
        )

    def build_environment(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Compute the environment of the flow-run process.

        Args:
            environ: the worker's environment (default: ``os.environ``).

        Returns:
            ``environ`` (all of it, or only :data:`MINIMAL_ENV_NAMES` when
            ``inherit_env`` is False; then only the names in ``inherit_env_names`` when
            that is not None) updated with ``env``: configured values win and a None
            value removes the variable.
        """
        source = os.environ if environ is None else environ
        allowed = None if self.inherit_env_names is None else frozenset(self.inherit_env_names)
        result = {
            key: value
            for key, value in source.items()
            if (self.inherit_env or key in MINIMAL_ENV_NAMES)
            and (allowed is None or key in allowed)
        }
        for key, value in self.env.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = value
        return result
