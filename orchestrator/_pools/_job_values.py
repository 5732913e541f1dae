"""Rendering a base job template with job variables, keeping who wrote what apart.

Two parties write what becomes a job configuration:

* the **operator** of a work pool writes its base job template: the
  ``job_configuration`` and the defaults of its ``variables``. The job configuration is
  a template: ``{{ name }}`` placeholders are filled with the variables and
  ``{{ $NAME }}`` placeholders read the worker's environment. The ``env`` default is
  merged into it and rendered with it; other defaults fill placeholders as they stand,
  as in the reference.
* **deployment authors and whoever creates a flow run** write job variables. Those are
  data, never template: a value is put where the operator's placeholder asks for it, as
  it stands. A ``{{ $NAME }}`` in a job variable is kept as that literal text (refused
  in strict mode), so job variables cannot read the worker's environment; a
  ``{{ name }}`` in one is kept as text as well. Only ``{{ ctx.* }}`` placeholders in
  them are filled later, when the job is prepared for its flow run, and those read the
  run's own records, never the environment.

This module also turns dotted job-variable names (``"env.FOO"``) into nested ones.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .._core._errors import TemplateError
from ._templating import Verbatim, apply_values, environment_reads

__all__ = ["normalise_values", "pool_defaults", "render_job_template"]


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def normalise_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn dotted job-variable names into nested dicts; plain names are applied after.

    ``{"env.FOO": "x"}`` becomes ``{"env": {"FOO": "x"}}``. When a plain name and dotted
    names both give a dict, the two are deep-merged and the plain (nested) form wins on
    a conflict: ``{"env.FOO": "dot", "env": {"FOO": "nested"}}`` gives ``"nested"``.
    Otherwise the plain name's value replaces what the dotted names built.

    Raises:
        TemplateError: ``values`` is not a mapping, a name is not a string, or a dotted
            name has an empty part.
    """
    if not isinstance(values, Mapping):
        raise TemplateError(f"job variable values must be a mapping, not {values!r}")
    nested: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise TemplateError(f"job variable names must be strings, not {key!r}")
        if "." not in key:
            plain[key] = value
            continue
        *parents, leaf = key.split(".")
        if not leaf or not all(parents):
            raise TemplateError(f"job variable {key!r} has an empty part between its dots")
        branch: dict[str, Any] = {leaf: value}
        for part in reversed(parents):
            branch = {part: branch}
        nested = _deep_merge(nested, branch)
    for key, value in plain.items():
        current = nested.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            nested[key] = _deep_merge(current, value)  # the plain, nested dict wins
        else:
            nested[key] = value
    return nested


def pool_defaults(properties: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The variables' defaults (copies), leaving out those whose default is None."""
    return {
        name: copy.deepcopy(spec["default"])
        for name, spec in properties.items()
        if spec.get("default") is not None
    }


def render_job_template(
    job_config: dict[str, Any],
    properties: Mapping[str, Mapping[str, Any]],
    values: Mapping[str, Any],
    *,
    strict: bool,
    environ: Mapping[str, str] | None,
) -> dict[str, Any]:
    """Render the operator's ``job_config`` with the defaults and the job variables.

    The env defaults are merged into a template ``env`` that is a mapping (or replace
    one that is not) and rendered with it, as the operator's text. The job variables'
    ``env`` is merged into a template ``env`` mapping too (its entries win), but as
    :class:`Verbatim` values: never rendered. Every other job variable reaches the
    configuration only through the operator's placeholders, which insert values as they
    stand.

    Args:
        job_config: a copy of the template's ``job_configuration``; it is changed.
        properties: the template's variable schemas, name to schema.
        values: the job variables (deployment's and flow run's, merged).
        strict: refuse unresolved placeholders, and ``{{ $NAME }}`` in job variables.
        environ: what the operator's ``{{ $NAME }}`` read (``os.environ`` when None).

    Returns:
        The rendered keyword arguments of the configuration.

    Raises:
        TemplateError: malformed values or env defaults; in strict mode, unresolved
            placeholders or job variables that try to read the environment.
    """
    variables = pool_defaults(properties)
    default_env = variables.get("env")
    if default_env:
        if not isinstance(default_env, Mapping):
            raise TemplateError(
                f"the default of the env variable is not a mapping: {default_env!r}"
            )
        template_env = job_config.get("env")
        job_config["env"] = (
            {**template_env, **default_env} if isinstance(template_env, Mapping) else default_env
        )
    job_values = normalise_values(values)
    reads = environment_reads(job_values) if strict else []
    if reads:
        raise TemplateError(
            "job variables cannot read the worker's environment: "
            + "; ".join(reads)
            + ". Only the work pool's base job template may use {{ $NAME }}; give the "
            "value itself, or ask the pool's operator to put the placeholder in the template"
        )
    variables.update(job_values)
    job_env = job_values.get("env")
    template_env = job_config.get("env")
    if job_env and isinstance(template_env, Mapping):
        if not isinstance(job_env, Mapping):
            raise TemplateError(f"the env variable must be a mapping, not {job_env!r}")
        verbatim = {key: Verbatim(value) for key, value in job_env.items()}
        job_config["env"] = {**template_env, **verbatim}
    rendered: dict[str, Any] = apply_values(
        job_config, variables, strict=strict, environ=environ, optional=properties.keys()
    )
    return rendered
