"""Job configurations: what a worker needs to start one flow run, built from a template.

A work pool holds a *base job template*: ``{"job_configuration": {...}, "variables":
{"type": "object", "properties": {...}}}``. The job configuration maps each field of a
configuration class to a value or a placeholder; the variables describe, JSON-schema
style, what may fill those placeholders and their defaults. A deployment or a flow run
gives values for the variables; :meth:`BaseJobConfiguration.from_template_and_values`
renders the template with them, and :meth:`~BaseJobConfiguration.prepare_for_flow_run`
adds what only the flow run knows (ids and names, as environment variables and labels).

Configurations are frozen values: preparing one returns a new one.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Self

import attrs

from .._core._errors import ArgumentValueError, InvalidArgument, TemplateError
from .._core._models import Deployment, Flow, FlowRun, WorkPool
from ._job_fields import env_repr, job_name_validator, to_command, to_env, to_labels
from ._job_values import pool_defaults, render_job_template
from ._templating import apply_values, render_context
from ._variables import BaseVariables

__all__ = [
    "ENV_DEPLOYMENT_ID",
    "ENV_DEPLOYMENT_NAME",
    "ENV_FLOW_ID",
    "ENV_FLOW_NAME",
    "ENV_FLOW_RUN_ID",
    "ENV_FLOW_RUN_NAME",
    "ENV_WORKER_ID",
    "ENV_WORKER_NAME",
    "ENV_WORK_POOL_NAME",
    "TEMPLATE_METADATA_KEY",
    "BaseJobConfiguration",
]

# The environment variables a flow-run process finds about itself. The child-side
# helpers read these names; set them nowhere else.
ENV_FLOW_RUN_ID: Final = "ORCHESTRATOR_FLOW_RUN_ID"
ENV_FLOW_RUN_NAME: Final = "ORCHESTRATOR_FLOW_RUN_NAME"
ENV_FLOW_ID: Final = "ORCHESTRATOR_FLOW_ID"
ENV_FLOW_NAME: Final = "ORCHESTRATOR_FLOW_NAME"
ENV_DEPLOYMENT_ID: Final = "ORCHESTRATOR_DEPLOYMENT_ID"
ENV_DEPLOYMENT_NAME: Final = "ORCHESTRATOR_DEPLOYMENT_NAME"
ENV_WORK_POOL_NAME: Final = "ORCHESTRATOR_WORK_POOL_NAME"
ENV_WORKER_NAME: Final = "ORCHESTRATOR_WORKER_NAME"
ENV_WORKER_ID: Final = "ORCHESTRATOR_WORKER_ID"

#: The ``attrs`` field-metadata key with which a field declares its own template.
TEMPLATE_METADATA_KEY: Final = "template"

# (fact, environment variable) and (fact, label), lowest precedence first.
_ENV_FACTS: Final = (
    ("flow_run_id", ENV_FLOW_RUN_ID),
    ("flow_run_name", ENV_FLOW_RUN_NAME),
    ("flow_id", ENV_FLOW_ID),
    ("flow_name", ENV_FLOW_NAME),
    ("deployment_id", ENV_DEPLOYMENT_ID),
    ("deployment_name", ENV_DEPLOYMENT_NAME),
    ("work_pool_name", ENV_WORK_POOL_NAME),
    ("worker_name", ENV_WORKER_NAME),
    ("worker_id", ENV_WORKER_ID),
)
_LABEL_FACTS: Final = (
    ("flow_run_id", "orchestrator/flow-run-id"),
    ("flow_run_name", "orchestrator/flow-run-name"),
    ("work_pool_name", "orchestrator/work-pool-name"),
    ("worker_name", "orchestrator/worker-name"),
    ("flow_id", "orchestrator/flow-id"),
    ("flow_name", "orchestrator/flow-name"),
    ("deployment_id", "orchestrator/deployment-id"),
    ("deployment_name", "orchestrator/deployment-name"),
)


def _facts(
    flow_run: FlowRun,
    deployment: Deployment | None,
    flow: Flow | None,
    work_pool: WorkPool | None,
    worker_name: str | None,
    worker_id: uuid.UUID | str | None,
) -> dict[str, str | None]:
    """What is known about a flow run's surroundings, as text (None when unknown)."""
    if flow is not None and flow.id != flow_run.flow_id:
        raise ArgumentValueError(f"flow {flow.id} is not the flow of flow run {flow_run.id}")
    if deployment is not None and flow_run.deployment_id not in (None, deployment.id):
        raise ArgumentValueError(
            f"deployment {deployment.id} is not the deployment of flow run {flow_run.id}"
        )
    if work_pool is not None and flow_run.work_pool_name not in (None, work_pool.name):
        raise ArgumentValueError(
            f"work pool {work_pool.name!r} is not the pool of flow run {flow_run.id}"
        )
    deployment_id = deployment.id if deployment is not None else flow_run.deployment_id
    return {
        "flow_run_id": str(flow_run.id),
        "flow_run_name": flow_run.name,
        "flow_id": str(flow_run.flow_id),
        "flow_name": None if flow is None else flow.name,
        "deployment_id": None if deployment_id is None else str(deployment_id),
        "deployment_name": None if deployment is None else deployment.name,
        "work_pool_name": work_pool.name if work_pool is not None else flow_run.work_pool_name,
        "worker_name": worker_name,
        "worker_id": None if worker_id is None else str(worker_id),
    }


def _context(
    flow_run: FlowRun, facts: Mapping[str, str | None], work_pool: WorkPool | None
) -> dict[str, dict[str, object]]:
    """The ``{{ ctx.<section>.<field> }}`` namespace rendered at prepare time."""
    return {
        "flow_run": {
            "id": flow_run.id,
            "name": flow_run.name,
            "flow_id": flow_run.flow_id,
            "deployment_id": flow_run.deployment_id,
            "work_pool_name": flow_run.work_pool_name,
            "work_queue_name": flow_run.work_queue_name,
            "parameters": flow_run.parameters,
            "tags": sorted(flow_run.tags),
            "labels": flow_run.labels,
        },
        "flow": {"id": facts["flow_id"], "name": facts["flow_name"]},
        "deployment": {"id": facts["deployment_id"], "name": facts["deployment_name"]},
        "work_pool": {
            "name": facts["work_pool_name"],
            "type": None if work_pool is None else work_pool.type,
        },
        "worker": {"name": facts["worker_name"], "id": facts["worker_id"]},
    }


@attrs.frozen(kw_only=True)
class BaseJobConfiguration:
    """What every worker type needs to start a flow run; subclass it per worker type.

    Args:
        command: the program and its arguments, as a list (never run through a shell) or
            a string split like a POSIX shell would; ``""``, ``[]`` and None mean "none
            configured".
        env: environment variables for the flow-run process; numbers and booleans are
            turned into strings and None marks a variable to leave unset. The repr
            shows the names only, since values may be secrets.
        labels: labels for the infrastructure, str to str.
        name: a name for the infrastructure; ``{{ ctx.flow_run.name }}``-style fields are
            rendered by :meth:`prepare_for_flow_run`.

    Raises:
        InvalidArgument: a value of the wrong kind (a dict as an env value, a command
            argument that is not a string, ...), naming the field and the key.
    """

    #: The class describing the template variables, for :meth:`default_base_job_template`.
    variables_class: ClassVar[type[BaseVariables]] = BaseVariables
    #: Fields the pool's template alone bounds: job variables may narrow them, never widen
    #: them (see :meth:`_within`).
    _CEILING_FIELDS: ClassVar[tuple[str, ...]] = ()

    command: tuple[str, ...] | None = attrs.field(default=None, converter=to_command)
    env: dict[str, str | None] = attrs.field(factory=dict, converter=to_env, repr=env_repr)
    labels: dict[str, str] = attrs.field(factory=dict, converter=to_labels)
    name: str | None = attrs.field(default=None, validator=job_name_validator)

    @classmethod
    def json_template(cls) -> dict[str, Any]:
        """Map each field to its template: ``"{{ field }}"`` unless the field declares one.

        A field declares its own template (a string or a structure) with
        ``attrs.field(metadata={TEMPLATE_METADATA_KEY: ...})``; a declared None means
        "no template of its own", so the field gets ``"{{ field }}"`` as well.

        Returns:
            A new dict, field name to template, in field order.
        """
        templates = {}
        for field in attrs.fields(cls):
            declared = field.metadata.get(TEMPLATE_METADATA_KEY)
            default = f"{{{{ {field.name} }}}}"
            templates[field.name] = default if declared is None else copy.deepcopy(declared)
        return templates

    @classmethod
    def default_base_job_template(cls) -> dict[str, Any]:
        """Return the base job template a new work pool of this type starts with.

        Returns:
            ``{"job_configuration": cls.json_template(), "variables": <schema>}``, where the
            schema describes each variable's type, default and meaning.
        """
        return {
            "job_configuration": cls.json_template(),
            "variables": cls.variables_class.json_schema(),
        }

    @classmethod
    def from_template_and_values(
        cls,
        base_job_template: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        strict: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> Self:
        """Render a work pool's base job template with a deployment's or run's values.

        The variables start from the defaults in ``variables.properties`` (None defaults
        are ignored) and are updated with ``values``, where a dotted key such as
        ``"env.FOO"`` sets one entry of a nested dict (a plain ``"env"`` dict wins over
        dotted keys on a conflict). Env defaults and env values are merged into a
        template ``env`` that is a dict (values win). Then every placeholder is filled
        (see :func:`apply_values`): a placeholder with no value drops its key, so the
        field's default applies, or becomes ``""`` inside text.

        Only the operator's text, the template's ``job_configuration`` and the variables'
        defaults, is rendered; ``values`` are data, inserted as they stand, so a
        ``{{ $NAME }}`` in a job variable stays that literal text and never reads
        ``environ`` (see :mod:`._job_values`). Fields a subclass lists in
        ``_CEILING_FIELDS`` (the process worker's ``inherit_env`` and
        ``inherit_env_names``) are bounded by what the template alone gives: values may
        narrow them, never widen them.

        Args:
            base_job_template: ``{"job_configuration": {...}, "variables": {...}}``;
                never changed.
            values: the job variables.
            strict: raise instead of dropping or blanking an unresolved placeholder, or
                keeping a ``{{ $NAME }}`` of ``values`` as text. A declared variable
                without a value is not an error: its key is dropped.
            environ: the environment the template's ``{{ $NAME }}`` read (default:
                ``os.environ``).

        Returns:
            A new configuration.

        Raises:
            TemplateError: the template or the values are malformed, a
                ``job_configuration`` key is not a field of this class, a rendered value
                is invalid, or (strict mode) placeholders are unresolved or ``values``
                hold ``{{ $NAME }}`` placeholders, all named.
        """
        job_config, properties = cls._check_template(base_job_template)
        ceiling = cls._pool_ceiling(job_config, properties, environ)
        rendered = render_job_template(
            job_config, properties, values, strict=strict, environ=environ
        )
        try:
            return cls._within(cls(**rendered), ceiling)
        except InvalidArgument as exc:
            raise TemplateError(
                f"the rendered job configuration is not a valid {cls.__name__}: {exc}"
            ) from exc

    @classmethod
    def _pool_ceiling(
        cls,
        job_config: Mapping[str, Any],
        properties: Mapping[str, Mapping[str, Any]],
        environ: Mapping[str, str] | None,
    ) -> Self | None:
        """The configuration the pool's template alone gives for :attr:`_CEILING_FIELDS`.

        Only those fields are rendered, with the variables' defaults and no job variable;
        the other fields keep the class defaults. None when the class has no such field.
        """
        if not cls._CEILING_FIELDS:
            return None
        own = {key: job_config[key] for key in cls._CEILING_FIELDS if key in job_config}
        rendered = apply_values(
            own, pool_defaults(properties), environ=environ, optional=properties.keys()
        )
        try:
            return cls(**rendered)
        except InvalidArgument as exc:
            raise TemplateError(
                f"the work pool's base job template is not a valid {cls.__name__}: {exc}"
            ) from exc

    @classmethod
    def _within(cls, configuration: Self, ceiling: Self | None) -> Self:
        """Bring ``configuration`` within what the pool's template alone allows.

        The base class has nothing to bound; a subclass naming :attr:`_CEILING_FIELDS`
        narrows them here (job variables may narrow such a field, never widen it).
        """
        return configuration

    @classmethod
    def _check_template(
        cls, base_job_template: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Mapping[str, Mapping[str, Any]]]:
        """Validate the template's shape; return a deep copy of its job configuration."""
        if not isinstance(base_job_template, Mapping):
            raise TemplateError(
                "a base job template must be a mapping with 'job_configuration' and "
                f"'variables', not {type(base_job_template).__name__}"
            )
        job_config = base_job_template.get("job_configuration")
        if not isinstance(job_config, Mapping):
            raise TemplateError(
                f"the base job template's job_configuration must be a mapping, not "
                f"{job_config!r}; start from {cls.__name__}.default_base_job_template()"
            )
        fields = attrs.fields_dict(cls)
        unknown = sorted(repr(key) for key in job_config if key not in fields)
        if unknown:
            raise TemplateError(
                f"job_configuration has {', '.join(unknown)}, which {cls.__name__} does not "
                f"have; its fields are {', '.join(fields)}"
            )
        variables = base_job_template.get("variables", {})
        properties = variables.get("properties", {}) if isinstance(variables, Mapping) else None
        if not isinstance(properties, Mapping) or not all(
            isinstance(spec, Mapping) for spec in properties.values()
        ):
            raise TemplateError(
                "the base job template's variables must be a mapping whose 'properties' "
                f"map each variable name to a schema mapping, not {variables!r}"
            )
        return copy.deepcopy(dict(job_config)), properties

    def prepare_for_flow_run(
        self,
        flow_run: FlowRun,
        deployment: Deployment | None = None,
        flow: Flow | None = None,
        work_pool: WorkPool | None = None,
        worker_name: str | None = None,
        worker_id: uuid.UUID | str | None = None,
    ) -> Self:
        """Return this configuration completed for one flow run; this one is unchanged.

        * env: the attribution variables (``ORCHESTRATOR_FLOW_RUN_ID`` ... ``_WORKER_ID``,
          each only when known), then the configured env, which wins; variables whose
          value is None are left out.
        * labels: ``orchestrator/flow-run-id`` ... ``orchestrator/deployment-name`` (only
          when known), then the configured labels, which win.
        * ``{{ ctx.<section>.<field> }}`` placeholders in the name, command, env and
          labels are rendered; sections: ``flow_run``, ``flow``, ``deployment``,
          ``work_pool``, ``worker``.
        * name: the rendered name, or the flow run's name when that is empty.
        * command: the configured one, else the deployment's, else the class default.

        Args:
            flow_run: the run to execute.
            deployment: its deployment, if any.
            flow: its flow.
            work_pool: the pool it runs in.
            worker_name: the name of the worker starting it.
            worker_id: the id of the worker starting it.

        Returns:
            A new configuration.

        Raises:
            InvalidArgument: a record that does not belong to ``flow_run``.
            TemplateError: a ``ctx`` placeholder names an unknown field.
        """
        facts = _facts(flow_run, deployment, flow, work_pool, worker_name, worker_id)
        context = _context(flow_run, facts, work_pool)
        env: dict[str, str | None] = {name: facts[fact] for fact, name in _ENV_FACTS}
        env.update(render_context(self.env, context))
        labels = {label: facts[fact] for fact, label in _LABEL_FACTS}
        labels.update(render_context(self.labels, context))
        command = render_context(self.command, context) or self._default_command(deployment)
        return attrs.evolve(
            self,
            env={key: value for key, value in env.items() if value is not None},
            labels={key: value for key, value in labels.items() if value is not None},
            name=render_context(self.name or "", context) or flow_run.name,
            command=command,
        )

    def _default_command(self, deployment: Deployment | None) -> tuple[str, ...] | None:
        """The command used when none is configured; subclasses may give their own."""
        if deployment is None:
            return None
        return to_command(deployment.command)
