"""Job-template variables: what a deployment or a flow run may set, described as a schema.

Each variables class lists the variables of one worker type with their defaults; its
:meth:`~BaseVariables.json_schema` is the ``variables`` part of that type's default base
job template, written by hand (no schema generator) so it reads as documentation.
"""

from __future__ import annotations

import copy
from typing import Any, final

import attrs

__all__ = ["BaseVariables", "ProcessVariables"]


def _schema(description: str, **keywords: Any) -> dict[str, Any]:
    """Field metadata: the JSON-schema keywords that describe one variable."""
    return {"schema": {**keywords, "description": description}}


@attrs.frozen(kw_only=True)
class BaseVariables:
    """The variables every job template offers.

    Args:
        name: a name for the flow-run infrastructure.
        env: environment variables for the flow-run process.
        labels: labels for the infrastructure.
        command: the command that starts the flow run.
    """

    name: str | None = attrs.field(
        default=None,
        metadata=_schema(
            "Name given to the flow-run infrastructure; may use {{ ctx.flow_run.name }} and "
            "{{ ctx.flow.name }}. Empty means the flow run's name.",
            type=["string", "null"],
        ),
    )
    env: dict[str, str | None] = attrs.field(
        factory=dict,
        metadata=_schema(
            "Environment variables set for the flow-run process; a null value unsets one.",
            type="object",
            additionalProperties={"type": ["string", "null"]},
        ),
    )
    labels: dict[str, str] = attrs.field(
        factory=dict,
        metadata=_schema(
            "Labels attached to the flow-run infrastructure.",
            type="object",
            additionalProperties={"type": "string"},
        ),
    )
    command: list[str] | str | None = attrs.field(
        default=None,
        metadata=_schema(
            "The program and its arguments that start the flow run, as a list or as a "
            "string split like a POSIX shell would (never run through a shell).",
            type=["array", "string", "null"],
            items={"type": "string"},
        ),
    )

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """Describe the variables as a JSON schema.

        Returns:
            ``{"type": "object", "properties": {name: {type, description, default}}}``,
            new on every call; a variable whose default is None has no ``default``.
        """
        properties: dict[str, Any] = {}
        for field in attrs.fields(cls):
            spec = copy.deepcopy(field.metadata["schema"])
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            if default is not None:
                spec["default"] = default
            properties[field.name] = spec
        return {"type": "object", "properties": properties}


@final
@attrs.frozen(kw_only=True)
class ProcessVariables(BaseVariables):
    """The variables of a process work pool: the base ones plus how to run the process.

    Args:
        name: see :class:`BaseVariables`.
        env: see :class:`BaseVariables`.
        labels: see :class:`BaseVariables`.
        command: see :class:`BaseVariables`.
        stream_output: copy the process output to the worker.
        working_dir: the directory the process starts in.
        inherit_env: pass the worker's whole environment to the process.
        inherit_env_names: pass only these names of the worker's environment.
    """

    stream_output: bool = attrs.field(
        default=True,
        metadata=_schema(
            "Copy the flow-run process's output to the worker's printer.",
            type="boolean",
        ),
    )
    working_dir: str | None = attrs.field(
        default=None,
        metadata=_schema(
            "Directory the flow-run process starts in; a new temporary directory when unset.",
            type=["string", "null"],
            format="path",
        ),
    )
    inherit_env: bool = attrs.field(
        default=True,
        metadata=_schema(
            "Start the process from the worker's whole environment. When false, only PATH, "
            "HOME, locale, temporary-directory and Windows system variables are passed, plus env. "
            "Job variables cannot turn it on when the work pool's template turns it off.",
            type="boolean",
        ),
    )
    inherit_env_names: list[str] | None = attrs.field(
        default=None,
        metadata=_schema(
            "Names of the worker's environment variables the process may inherit (of those "
            "inherit_env lets through); null means no restriction. Job variables may only "
            "narrow what the work pool's template allows.",
            type=["array", "null"],
            items={"type": "string"},
        ),
    )
