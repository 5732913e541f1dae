"""Job variables cannot read the worker's environment, nor widen what a flow run inherits.

The worker's environment here always holds ``SECRET_TOKEN``. A pool's operator may read
it in the pool's base template (``{{ $SECRET_TOKEN }}``); deployments and flow runs,
through their job variables and parameters, never can: in every template form the
secret reaches neither the rendered configuration nor the environment
``build_environment`` computes for the child, and the pool's ``inherit_env=False`` and
allow-list hold whatever the job variables say. The end-to-end cases run a real
``ProcessWorker`` and a real subprocess that prints its environment.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import anyio
import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import Orchestrator, StateType, TemplateError, VirtualClock
from orchestrator._core._models import Deployment, Flow, FlowRun, WorkPool
from orchestrator._pools._process_config import ProcessJobConfiguration
from orchestrator.workers._process_worker import ProcessWorker

SECRET: Final = "s3cr3t-XYZZY-42"
READ: Final = "{{ $SECRET_TOKEN }}"
ENVIRON: Final = {
    "SECRET_TOKEN": SECRET,
    "OPERATOR_VALUE": "op-ok",
    "PATH": os.defpath,
    "HOME": "/home/worker",
}
T0: Final = datetime(2026, 1, 1, tzinfo=UTC)
FLOW: Final = Flow(id=uuid.UUID(int=0xF10), name="etl", created=T0)
POOL: Final = WorkPool(id=uuid.UUID(int=0x9001), name="local", created=T0, updated=T0)
DEPLOYMENT: Final = Deployment(
    id=uuid.UUID(int=0xDE),
    name="nightly",
    flow_id=FLOW.id,
    work_pool_name="local",
    command=["python", "etl.py"],
    created=T0,
    updated=T0,
)


def flow_run(**parameters: Any) -> FlowRun:
    return FlowRun(
        id=uuid.UUID(int=0xF1),
        name="brave-otter",
        flow_id=FLOW.id,
        deployment_id=DEPLOYMENT.id,
        work_pool_name="local",
        parameters=parameters,
        created=T0,
        updated=T0,
    )


def pool_template(job_configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default process template with inherit_env off, ``job_configuration`` on top."""
    base = ProcessJobConfiguration.default_base_job_template()
    base["variables"]["properties"]["inherit_env"]["default"] = False
    base["job_configuration"].update(job_configuration or {})
    return base


def everything(config: ProcessJobConfiguration) -> str:
    """All of a configuration as text, env values included (its repr hides them)."""
    return str(attrs.asdict(config))


def child_environment(config: ProcessJobConfiguration, **parameters: Any) -> dict[str, str]:
    prepared = config.prepare_for_flow_run(flow_run(**parameters), DEPLOYMENT, FLOW, POOL)
    return prepared.build_environment(ENVIRON)


def assert_no_secret(config: ProcessJobConfiguration, **parameters: Any) -> None:
    assert SECRET not in everything(config)
    environment = child_environment(config, **parameters)
    assert SECRET not in str(environment)
    assert "SECRET_TOKEN" not in environment


# Each form: (the pool's job_configuration, the job variables, where READ must be found
# kept as text in the rendered configuration).
FORMS: Final[dict[str, tuple[dict[str, Any], dict[str, Any], Any]]] = {
    "mapping env": (
        {"env": {"BASE": "b"}},
        {"env": {"X": READ}},
        lambda c: c.env == {"BASE": "b", "X": READ},
    ),
    "mapping env, dotted key": (
        {"env": {"BASE": "b"}},
        {"env.X": READ},
        lambda c: c.env == {"BASE": "b", "X": READ},
    ),
    "mapping env overriding the operator's entry": (
        {"env": {"X": "{{ $OPERATOR_VALUE }}"}},
        {"env": {"X": f"pre-{READ}"}},
        lambda c: c.env == {"X": f"pre-{READ}"},
    ),
    "placeholder env": ({}, {"env": {"X": READ}}, lambda c: c.env == {"X": READ}),
    "placeholder env, dotted key": ({}, {"env.X": READ}, lambda c: c.env == {"X": READ}),
    "list command, whole variable": (
        {},
        {"command": ["echo", READ, f"--t={READ}"]},
        lambda c: c.command == ("echo", READ, f"--t={READ}"),
    ),
    "list command, placeholders in items": (
        {"command": ["python", "{{ script }}", "--token={{ token }}"]},
        {"script": READ, "token": READ},
        lambda c: c.command == ("python", READ, f"--token={READ}"),
    ),
    "string command, whole variable": (
        {},
        {"command": f"echo {READ}"},
        lambda c: c.command == ("echo", "{{", "$SECRET_TOKEN", "}}"),
    ),
    "string command, placeholder inside": (
        {"command": "echo {{ x }}"},
        {"x": READ},
        lambda c: c.command == ("echo", "{{", "$SECRET_TOKEN", "}}"),
    ),
    "name": ({}, {"name": READ}, lambda c: c.name == READ),
    "name inside text": (
        {"name": "job-{{ name }}"}, {"name": READ}, lambda c: c.name == "job-" + READ
    ),
    "labels, whole variable": ({}, {"labels": {"a": READ}}, lambda c: c.labels == {"a": READ}),
    "labels, dotted key": ({}, {"labels.a": READ}, lambda c: c.labels == {"a": READ}),
    "labels, placeholder inside": (
        {"labels": {"team": "t-{{ team }}"}},
        {"team": READ},
        lambda c: c.labels == {"team": "t-" + READ},
    ),
    "nested path": (
        {"name": "{{ deep.list[1].value }}", "labels": {"x": "<{{ deep.list[1].value }}>"}},
        {"deep": {"list": [0, {"value": READ}]}},
        lambda c: (c.name, c.labels) == (READ, {"x": f"<{READ}>"}),
    ),
    "nested path, dotted key": (
        {"name": "{{ deep.value }}"},
        {"deep.value": READ},
        lambda c: c.name == READ,
    ),
    "working_dir": ({}, {"working_dir": f"/srv/{READ}"}, lambda c: READ in str(c.working_dir)),
}  # fmt: skip


@pytest.mark.parametrize("form", FORMS)
def test_a_job_variable_reading_the_environment_is_kept_as_text(form: str) -> None:
    job_configuration, values, kept = FORMS[form]
    # The job variables also try to turn inheritance on: the pool says off.
    config = ProcessJobConfiguration.from_template_and_values(
        pool_template(job_configuration), {**values, "inherit_env": True}, environ=ENVIRON
    )
    assert kept(config)
    assert config.inherit_env is False
    assert_no_secret(config)


@pytest.mark.parametrize("form", FORMS)
def test_strict_mode_refuses_a_job_variable_reading_the_environment(form: str) -> None:
    job_configuration, values, _ = FORMS[form]
    with pytest.raises(TemplateError) as caught:
        ProcessJobConfiguration.from_template_and_values(
            pool_template(job_configuration), values, strict=True, environ=ENVIRON
        )
    message = str(caught.value)
    assert message.startswith(
        "job variables cannot read the worker's environment: {{ $SECRET_TOKEN }} at "
    )
    assert "Only the work pool's base job template may use {{ $NAME }}" in message
    assert SECRET not in message


def test_strict_mode_names_every_read_and_where_it_stands() -> None:
    values = {"env.X": READ, "command": ["a", "{{$HOME}}"], "deep": {"k": [f"x{READ}"]}}
    with pytest.raises(TemplateError) as caught:
        ProcessJobConfiguration.from_template_and_values(
            pool_template(), values, strict=True, environ=ENVIRON
        )
    assert str(caught.value).startswith(
        "job variables cannot read the worker's environment: {{ $SECRET_TOKEN }} at env.X; "
        "{{$HOME}} at command[1]; {{ $SECRET_TOKEN }} at deep.k[0]. "
    )


def test_job_variables_are_not_rendered_against_other_variables_either() -> None:
    base = pool_template({"env": {"T": "{{ token }}"}})
    base["variables"]["properties"]["token"] = {"type": "string", "default": "t"}
    values = {"env": {"COPY": "{{ token }}", "PATHY": "{{ env.T }}"}}
    config = ProcessJobConfiguration.from_template_and_values(base, values, environ=ENVIRON)
    assert config.env == {"T": "t", "COPY": "{{ token }}", "PATHY": "{{ env.T }}"}


def test_the_operator_s_own_environment_placeholders_still_work() -> None:
    base = pool_template(
        {
            "env": {"TOKEN": READ, "MIXED": "v={{ $OPERATOR_VALUE }}/{{ x }}"},
            "command": ["run", "--home={{ $HOME }}", "{{ x }}"],
            "labels": {"who": "{{ $OPERATOR_VALUE }}"},
            "name": "{{ $OPERATOR_VALUE }}-{{ x }}",
        }
    )
    base["variables"]["properties"]["env"]["default"] = {"FROM_DEFAULT": "{{ $OPERATOR_VALUE }}"}
    base["variables"]["properties"]["x"] = {"type": "string", "default": "dx"}
    config = ProcessJobConfiguration.from_template_and_values(base, {"x": READ}, environ=ENVIRON)
    assert config.env == {
        "TOKEN": SECRET,
        "MIXED": f"v=op-ok/{READ}",
        "FROM_DEFAULT": "op-ok",
    }
    assert config.command == ("run", "--home=/home/worker", READ)
    assert (config.labels, config.name) == ({"who": "op-ok"}, f"op-ok-{READ}")
    environment = child_environment(config)
    assert (environment["TOKEN"], environment["FROM_DEFAULT"]) == (SECRET, "op-ok")
    # Strict mode refuses the job variable, not the operator's placeholders.
    assert ProcessJobConfiguration.from_template_and_values(
        base, {"x": "plain"}, strict=True, environ=ENVIRON
    ).env == {"TOKEN": SECRET, "MIXED": "v=op-ok/plain", "FROM_DEFAULT": "op-ok"}


def test_an_environment_value_put_in_place_is_not_rendered_again() -> None:
    environ = {**ENVIRON, "TRICKY": "{{ x }}{{ $SECRET_TOKEN }}"}
    base = pool_template({"env": {"T": "{{ $TRICKY }}"}, "name": "{{ $TRICKY }}"})
    config = ProcessJobConfiguration.from_template_and_values(base, {"x": "1"}, environ=environ)
    assert (config.env["T"], config.name) == (environ["TRICKY"], environ["TRICKY"])


def test_context_rendering_at_prepare_time_is_no_route_to_the_environment() -> None:
    base = pool_template({"name": "{{ ctx.flow_run.parameters.p }}"})
    values = {
        "env": {"P": "{{ ctx.flow_run.parameters.p }}", "Q": "{{ ctx.flow_run.parameters.q.r }}"},
        "command": ["run", "{{ ctx.flow_run.parameters.p }}"],
        "labels": {"p": "<{{ ctx.flow_run.parameters.p }}>"},
    }
    config = ProcessJobConfiguration.from_template_and_values(base, values, environ=ENVIRON)
    parameters = {"p": READ, "q": {"r": "{{ ctx.flow_run.parameters.p }}"}}
    prepared = config.prepare_for_flow_run(flow_run(**parameters), DEPLOYMENT, FLOW, POOL)
    assert prepared.name == READ
    assert prepared.command == ("run", READ)
    assert prepared.labels["p"] == f"<{READ}>"
    environment = prepared.build_environment(ENVIRON)
    assert (environment["P"], environment["Q"]) == (READ, "{{ ctx.flow_run.parameters.p }}")
    assert SECRET not in everything(prepared) + str(environment)
    assert "SECRET_TOKEN" not in environment


# --- Hypothesis: whatever job variables and parameters say, the secret stays out ------------

FRAGMENTS: Final = (
    READ, READ, READ, "{{$SECRET_TOKEN}}", "{{ ", " }}", "{{", "}}", "$SECRET_TOKEN",
    "SECRET_TOKEN",
    "{{ ctx.flow_run.parameters.p }}", "{{ ctx.flow_run.parameters }}", "{{ x }}",
    "{{ env.X }}", "{{ $OPERATOR_VALUE }}", "a", " ", "=", ".",
)  # fmt: skip
texts = st.lists(st.sampled_from(FRAGMENTS), max_size=4).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | texts,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["X", "Y", "p", "q", "value"]), children, max_size=3)
    ),
    max_leaves=12,
)
env_values = st.dictionaries(st.sampled_from(["X", "SECRET_TOKEN", "BASE"]), texts, max_size=3)
#: Each job variable a form reads, with values of the shapes it takes (and any other).
job_variables = st.fixed_dictionaries(
    {},
    optional={
        "env": env_values | json_values,
        "env.X": texts,
        "env.SECRET_TOKEN": texts,
        "command": st.lists(texts, min_size=1, max_size=3) | texts,
        "name": texts,
        "labels": env_values,
        "labels.a": texts,
        "x": texts,
        "deep": st.fixed_dictionaries({"list": st.lists(json_values, max_size=3)}) | json_values,
        "deep.value": texts,
        "script": texts,
        "token": texts,
        "team": texts,
        "inherit_env": st.booleans() | json_values,
        "inherit_env_names": st.lists(st.sampled_from(sorted(ENVIRON)), max_size=3),
        "working_dir": texts,
        "stream_output": st.booleans(),
    },
)
forms = st.sampled_from([form for form, _, _ in FORMS.values()])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    form=forms,
    deployment_variables=job_variables,
    run_variables=job_variables,
    parameters=st.dictionaries(st.sampled_from(["p", "q"]), json_values, max_size=2),
    strict=st.booleans(),
)
def test_no_job_variables_and_parameters_yield_the_secret(
    form: dict[str, Any],
    deployment_variables: dict[str, Any],
    run_variables: dict[str, Any],
    parameters: dict[str, Any],
    strict: bool,
) -> None:
    values = {**deployment_variables, **run_variables}
    assert SECRET not in what_comes_of(form, values, parameters, strict)


def what_comes_of(
    form: dict[str, Any], values: dict[str, Any], parameters: dict[str, Any], strict: bool
) -> str:
    """The rendered configuration and the child's environment as text, or the refusal."""
    try:
        config = ProcessJobConfiguration.from_template_and_values(
            pool_template(form), values, strict=strict, environ=ENVIRON
        )
        assert config.inherit_env is False
        environment = child_environment(config, **parameters)  # may refuse a ctx field
    except TemplateError as error:
        return str(error)
    return everything(config) + str(environment)


# --- end to end: a ProcessWorker and a real child process ---------------------------------

PRINT_ENVIRONMENT: Final = "import json, os; print(json.dumps(dict(os.environ)))"


async def run_one(
    base_job_template: dict[str, Any],
    deployment_variables: dict[str, Any],
    run_variables: dict[str, Any],
    *,
    strict: bool = False,
) -> tuple[list[str], FlowRun]:
    """Run one flow run of a deployment on a real ProcessWorker; its output and the run."""
    orch = Orchestrator(clock=VirtualClock(T0), seed=3)
    orch.create_work_pool("pool", base_job_template=base_job_template)
    flow = orch.create_flow("flow")
    deployment = orch.create_deployment(
        flow.id,
        "d",
        work_pool_name="pool",
        command=[sys.executable, "-c", PRINT_ENVIRONMENT],
        job_variables=deployment_variables,
    )
    run = orch.create_flow_run_from_deployment(deployment.id, job_variables=run_variables)
    lines: list[str] = []
    worker = ProcessWorker(orch, "pool", environ=ENVIRON, strict_templates=strict)
    with anyio.fail_after(20):
        await worker.start(run_once=True, printer=lines.append)
    return lines, orch.read_flow_run(run.id)


async def test_a_real_child_gets_neither_the_secret_nor_inheritance() -> None:
    base = pool_template({"env": {"BASE": "b", "OPERATOR": "{{ $OPERATOR_VALUE }}"}})
    lines, run = await run_one(
        base,
        {"env": {"FROM_DEPLOYMENT": READ}, "inherit_env": True},
        {
            "env.FROM_RUN": f"x{READ}",
            "inherit_env": True,
            "inherit_env_names": ["SECRET_TOKEN", "PATH"],
        },
    )
    assert run.state_type is StateType.COMPLETED
    [line] = lines
    assert SECRET not in line
    child = json.loads(line)
    assert "SECRET_TOKEN" not in child
    assert (child["BASE"], child["OPERATOR"]) == ("b", "op-ok")
    assert (child["FROM_DEPLOYMENT"], child["FROM_RUN"]) == (READ, f"x{READ}")
    assert child["PATH"] == os.defpath  # a basic, still inherited
    assert "HOME" not in child  # the run's allow-list narrowed the basics


async def test_a_real_child_is_held_to_the_pool_s_allow_list() -> None:
    base = ProcessJobConfiguration.default_base_job_template()  # inherit_env on
    base["variables"]["properties"]["inherit_env_names"]["default"] = ["PATH", "OPERATOR_VALUE"]
    lines, run = await run_one(
        base, {"inherit_env_names": None}, {"inherit_env_names": ["SECRET_TOKEN", "PATH"]}
    )
    assert run.state_type is StateType.COMPLETED
    [line] = lines
    child = json.loads(line)
    assert "SECRET_TOKEN" not in child
    assert SECRET not in line
    assert child["PATH"] == os.defpath
    assert "OPERATOR_VALUE" not in child  # allowed by the pool, narrowed out by the run


async def test_a_strict_worker_crashes_a_run_whose_job_variables_read_the_environment() -> None:
    lines, run = await run_one(pool_template(), {}, {"command": ["echo", READ]}, strict=True)
    assert lines == []
    assert run.state_type is StateType.CRASHED
    assert run.state is not None
    message = str(run.state.message)
    assert message.startswith(
        "Failed to submit flow run to infrastructure: job variables cannot read the worker's "
        "environment: {{ $SECRET_TOKEN }} at command[1]."
    )
    assert SECRET not in message
