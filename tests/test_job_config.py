"""Job configurations: templates, rendering (section 7.2) and preparing for a flow run."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest

from orchestrator import InvalidArgument, TemplateError
from orchestrator._core._models import Deployment, Flow, FlowRun, WorkPool
from orchestrator._pools._job_config import TEMPLATE_METADATA_KEY, BaseJobConfiguration
from orchestrator._pools._process_config import ProcessJobConfiguration
from orchestrator._pools._templating import find_placeholders
from orchestrator._pools._variables import BaseVariables, ProcessVariables

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FLOW_ID = uuid.UUID(int=0xF10)
FLOW_RUN_ID = uuid.UUID(int=0xF1)
DEPLOYMENT_ID = uuid.UUID(int=0xDE)
POOL_ID = uuid.UUID(int=0x9001)
WORKER_ID = uuid.UUID(int=0x3)


def make_flow_run(**fields: Any) -> FlowRun:
    defaults: dict[str, Any] = {
        "id": FLOW_RUN_ID,
        "name": "brave-otter",
        "flow_id": FLOW_ID,
        "deployment_id": DEPLOYMENT_ID,
        "work_pool_name": "local",
        "work_queue_name": "default",
        "parameters": {"x": 1},
        "tags": frozenset({"b", "a"}),
        "created": T0,
        "updated": T0,
    }
    return FlowRun(**{**defaults, **fields})


FLOW = Flow(id=FLOW_ID, name="etl", created=T0)
DEPLOYMENT = Deployment(
    id=DEPLOYMENT_ID,
    name="nightly",
    flow_id=FLOW_ID,
    work_pool_name="local",
    command=["python", "etl.py"],
    created=T0,
    updated=T0,
)
POOL = WorkPool(id=POOL_ID, name="local", created=T0, updated=T0)


def template(job_configuration: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {
        "job_configuration": job_configuration,
        "variables": {"type": "object", "properties": properties},
    }


# --- json_template and the default base job template ----------------------------------------


def test_json_template_maps_each_field_to_its_placeholder() -> None:
    assert BaseJobConfiguration.json_template() == {
        "command": "{{ command }}",
        "env": "{{ env }}",
        "labels": "{{ labels }}",
        "name": "{{ name }}",
    }
    assert ProcessJobConfiguration.json_template() == {
        "command": "{{ command }}",
        "env": "{{ env }}",
        "labels": "{{ labels }}",
        "name": "{{ name }}",
        "stream_output": "{{ stream_output }}",
        "working_dir": "{{ working_dir }}",
        "inherit_env": "{{ inherit_env }}",
        "inherit_env_names": "{{ inherit_env_names }}",
    }


@attrs.frozen(kw_only=True)
class _ImageConfiguration(BaseJobConfiguration):
    image: str = attrs.field(default="python", metadata={TEMPLATE_METADATA_KEY: "{{ img }}"})
    resources: dict[str, Any] = attrs.field(
        factory=dict, metadata={TEMPLATE_METADATA_KEY: {"cpu": "{{ cpu }}", "memory": "1Gi"}}
    )


def test_a_field_may_declare_its_own_template() -> None:
    json_template = _ImageConfiguration.json_template()
    assert json_template["image"] == "{{ img }}"
    assert json_template["resources"] == {"cpu": "{{ cpu }}", "memory": "1Gi"}
    json_template["resources"]["cpu"] = "changed"
    assert _ImageConfiguration.json_template()["resources"]["cpu"] == "{{ cpu }}"
    config = _ImageConfiguration.from_template_and_values(
        {"job_configuration": _ImageConfiguration.json_template()}, {"img": "alpine", "cpu": 2}
    )
    assert (config.image, config.resources) == ("alpine", {"cpu": 2, "memory": "1Gi"})


@attrs.frozen(kw_only=True)
class _UndeclaredTemplateConfiguration(BaseJobConfiguration):
    image: str = attrs.field(default="python", metadata={TEMPLATE_METADATA_KEY: None})


def test_a_field_declaring_a_none_template_gets_the_default_placeholder() -> None:
    json_template = _UndeclaredTemplateConfiguration.json_template()
    assert json_template["image"] == "{{ image }}"
    config = _UndeclaredTemplateConfiguration.from_template_and_values(
        {"job_configuration": json_template}, {"image": "alpine"}
    )
    assert config.image == "alpine"


def test_default_base_job_template_describes_every_variable() -> None:
    base = ProcessJobConfiguration.default_base_job_template()
    properties = base["variables"]["properties"]
    assert base["variables"]["type"] == "object"
    assert base["job_configuration"] == ProcessJobConfiguration.json_template()
    placeholders = {p.name for p in find_placeholders(base["job_configuration"])}
    assert placeholders == set(properties)
    assert properties["env"] == {
        "type": "object",
        "additionalProperties": {"type": ["string", "null"]},
        "description": "Environment variables set for the flow-run process; a null value "
        "unsets one.",
        "default": {},
    }
    assert properties["working_dir"]["type"] == ["string", "null"]
    assert "default" not in properties["working_dir"]
    for spec in properties.values():
        assert spec["description"]


@pytest.mark.parametrize(
    ("configuration", "variables"),
    [(BaseJobConfiguration, BaseVariables), (ProcessJobConfiguration, ProcessVariables)],
)
def test_schema_defaults_are_the_configuration_defaults(
    configuration: type[BaseJobConfiguration], variables: type[BaseVariables]
) -> None:
    base = configuration.default_base_job_template()
    assert base["variables"] == variables.json_schema()
    from_defaults = configuration.from_template_and_values(base, {}, strict=True)
    assert from_defaults == configuration()


def test_the_default_template_is_new_every_time() -> None:
    first = ProcessJobConfiguration.default_base_job_template()
    first["variables"]["properties"]["env"]["default"]["LEAK"] = "1"
    first["job_configuration"]["name"] = "changed"
    assert ProcessJobConfiguration.default_base_job_template() != first


# --- from_template_and_values: the catalogue of 7.2 -------------------------------------------

BASE = ProcessJobConfiguration.json_template()


def render(job_configuration: dict[str, Any], values: dict[str, Any], **properties: Any) -> Any:
    return ProcessJobConfiguration.from_template_and_values(
        template(job_configuration, **properties), values
    )


def test_defaults_fill_unset_variables() -> None:
    config = render(
        BASE,
        {},
        command={"default": "python flow.py"},
        name={"default": "job"},
        stream_output={"default": False},
        labels={"default": {"team": "data"}},
    )
    assert (config.command, config.name) == (("python", "flow.py"), "job")
    assert (config.stream_output, config.labels) == (False, {"team": "data"})


def test_none_defaults_are_ignored_so_the_class_default_applies() -> None:
    config = render(
        {**BASE, "labels": {"x": "v-{{ name }}"}},
        {},
        stream_output={"default": None},
        name={"default": None},
    )
    assert (config.stream_output, config.labels) == (True, {"x": "v-"})


def test_unused_variables_are_ignored() -> None:
    config = render({"name": "{{ name }}"}, {"name": "n", "unused": {"deep": [1]}, "other": 2})
    assert config == ProcessJobConfiguration(name="n")


def test_a_command_variable_not_in_the_template_has_no_effect() -> None:
    config = render({"name": "{{ name }}"}, {"command": "echo hi"}, command={"default": "x"})
    assert config.command is None


def test_overrides_replace_defaults() -> None:
    config = render(
        BASE,
        {"command": ["python", "other.py"], "stream_output": False, "labels": {"b": "2"}},
        command={"default": "python flow.py"},
        stream_output={"default": True},
        labels={"default": {"a": "1"}},
    )
    assert config.command == ("python", "other.py")
    assert (config.stream_output, config.labels) == (False, {"b": "2"})


def test_nested_templates_lists_and_hard_coded_primitives() -> None:
    job = {
        "command": ["python", "-m", "{{ module }}", "--retries={{ retries }}"],
        "env": {"LEVEL": "{{ log.level }}", "FIXED": "yes", "COUNT": 3},
        "labels": {"team": "{{ team }}", "env": "prod"},
        "name": "{{ team }}-job",
        "stream_output": False,
        "working_dir": "/srv/{{ team }}",
    }
    config = render(job, {"module": "etl", "retries": 2, "log": {"level": "DEBUG"}, "team": "d"})
    assert config == ProcessJobConfiguration(
        command=("python", "-m", "etl", "--retries=2"),
        env={"LEVEL": "DEBUG", "FIXED": "yes", "COUNT": "3"},
        labels={"team": "d", "env": "prod"},
        name="d-job",
        stream_output=False,
        working_dir=Path("/srv/d"),
    )


@pytest.mark.parametrize("command", ["", None, []])
def test_empty_and_none_commands_become_none(command: Any) -> None:
    assert render(BASE, {"command": command}, command={"default": "x"}).command is None


def test_a_whole_placeholder_keeps_its_value_type() -> None:
    config = render(BASE, {"command": ["sleep", "1"], "stream_output": False})
    assert (config.command, config.stream_output) == (("sleep", "1"), False)


def test_dotted_env_keys_merge_with_nested_and_base_env() -> None:
    config = render(
        {**BASE, "env": {"BASE": "b", "SHARED": "base"}},
        {"env": {"NESTED": "n", "BOTH": "plain"}, "env.DOTTED": "d", "env.BOTH": "dotted"},
        env={"default": {"DEFAULT": "x", "SHARED": "default"}},
    )
    assert config.env == {
        "BASE": "b",
        "SHARED": "default",
        "DEFAULT": "x",
        "NESTED": "n",
        "BOTH": "plain",  # the nested dict wins over the dotted key (Prefect's order)
        "DOTTED": "d",
    }


@pytest.mark.parametrize("order", ["dotted first", "nested first"])
def test_the_nested_env_wins_over_the_dotted_form_as_in_prefect(order: str) -> None:
    items = [("env.FOO", "from_dot"), ("env", {"FOO": "from_nested"})]
    values = dict(items if order == "dotted first" else items[::-1])
    for job_configuration in (BASE, {**BASE, "env": {"FOO": "base"}}):
        assert render(job_configuration, values).env == {"FOO": "from_nested"}


def test_env_defaults_replace_an_env_placeholder() -> None:
    config = render(BASE, {"env.A": "1"}, env={"default": {"D": "d", "A": "0"}})
    assert config.env == {"D": "d", "A": "1"}


def test_values_env_merges_into_a_template_env_dict_values_winning() -> None:
    config = render({"env": {"A": "t", "B": "{{ b }}"}}, {"env": {"A": "v", "C": 3}, "b": "x"})
    assert config.env == {"A": "v", "B": "x", "C": "3"}


def test_dotted_keys_nest_and_plain_keys_win_and_deep_merge_when_both_are_dicts() -> None:
    job = {"name": "{{ a.b.c }}/{{ a.b.d }}/{{ a.b.e }}/{{ s }}", "labels": {"x": "{{ t.u }}"}}
    values = {"a.b.c": "1", "a.b.e": "3", "a": {"b": {"c": "0", "d": "2"}}, "s.x": 1, "s": "p"}
    assert render(job, values).name == "0/2/3/p"
    assert render(job, {"t": {"u": "plain"}, "t.u": "dotted"}).labels == {"x": "plain"}


def test_environment_placeholders_use_the_injected_environ() -> None:
    config = ProcessJobConfiguration.from_template_and_values(
        template({**BASE, "env": {"HOME": "{{ $HOME }}", "P": "{{ $HOME }}/x"}}),
        {},
        environ={"HOME": "/home/ada"},
    )
    assert config.env == {"HOME": "/home/ada", "P": "/home/ada/x"}


def test_strict_mode_names_every_unresolved_placeholder() -> None:
    job = {
        **BASE,
        "command": ["python", "{{ scirpt }}"],
        "env": {"TOKEN": "{{ prefect.variables.token }}", "USER": "{{ $NOBODY }}"},
        "name": "{{ team }}-job",
    }
    with pytest.raises(TemplateError) as caught:
        ProcessJobConfiguration.from_template_and_values(
            ProcessJobConfiguration.default_base_job_template() | {"job_configuration": job},
            {},
            strict=True,
            environ={},
        )
    assert str(caught.value).startswith(
        "the job template has 4 unresolved placeholders: "
        "{{ scirpt }} at command[1] (no value given); "
        "{{ prefect.variables.token }} at env.TOKEN (block and variable references are not "
        "supported); {{ $NOBODY }} at env.USER (environment variable not set); "
        "{{ team }} at name (no value given)."
    )


def test_lenient_mode_drops_or_blanks_what_strict_mode_refuses() -> None:
    job = {"command": ["python", "{{ scirpt }}"], "name": "{{ team }}-job", "labels": {}}
    assert render(job, {}) == ProcessJobConfiguration(command=("python",), name="-job")


def test_inputs_are_not_mutated() -> None:
    base = template(
        {"env": {"A": "{{ a }}"}, "command": "{{ command }}"}, env={"default": {"D": "1"}}
    )
    values = {"env": {"V": "2"}, "env.W": "3", "a": "x", "command": ["run"]}
    base_before, values_before = copy.deepcopy(base), copy.deepcopy(values)
    config = ProcessJobConfiguration.from_template_and_values(base, values)
    assert config.env == {"A": "x", "D": "1", "V": "2", "W": "3"}
    assert (base, values) == (base_before, values_before)


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ([], "a base job template must be a mapping with 'job_configuration' and 'variables'"),
        ("{{ x }}", "must be a mapping .*, not str"),
        ({}, "job_configuration must be a mapping, not None; start from Process"),
        ({"job_configuration": ["x"]}, "job_configuration must be a mapping, not \\['x'\\]"),
        ({"job_configuration": {}, "variables": []}, "variables must be a mapping whose"),
        ({"job_configuration": {}, "variables": {"properties": []}}, "variables must be"),
        ({"job_configuration": {}, "variables": {"properties": {"a": 1}}}, "variables must"),
        (
            {"job_configuration": {"imgae": "x", "name": "n", "cpu": 1}},
            "job_configuration has 'cpu', 'imgae', which ProcessJobConfiguration does not "
            "have; its fields are command, env, labels, name, stream_output, working_dir, "
            "inherit_env",
        ),
    ],
)
def test_malformed_templates_are_refused(base: Any, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        ProcessJobConfiguration.from_template_and_values(base, {})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["env"], "job variable values must be a mapping, not \\['env'\\]"),
        ({1: "x"}, "job variable names must be strings, not 1"),
        ({"env..A": "x"}, "job variable 'env..A' has an empty part between its dots"),
        ({"env.": "x"}, "job variable 'env.' has an empty part"),
        ({"env": "A=1"}, "the env variable must be a mapping, not 'A=1'"),
        (
            {"env": {"FOO": {"nested": 1}}},
            "the rendered job configuration is not a valid ProcessJobConfiguration: env value "
            "for 'FOO' is \\{'nested': 1\\} \\(dict\\)",
        ),
        ({"command": {"a": 1}}, "not a valid ProcessJobConfiguration: command must be a list"),
        ({"stream_output": "no"}, "stream_output must be true or false, not 'no'"),
    ],
)
def test_bad_values_are_refused(values: Any, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render({**BASE, "env": {"BASE": "1"}}, values)


def test_a_non_mapping_env_default_is_refused() -> None:
    with pytest.raises(TemplateError, match="the default of the env variable is not a mapping"):
        render(BASE, {}, env={"default": "A=1"})


def test_a_non_mapping_env_rendered_into_a_placeholder_is_refused() -> None:
    with pytest.raises(TemplateError, match="env must be a mapping of names to strings"):
        render(BASE, {"env": "A=1"})


# --- prepare_for_flow_run -------------------------------------------------------------------

ATTRIBUTION_ENV = {
    "ORCHESTRATOR_FLOW_RUN_ID": str(FLOW_RUN_ID),
    "ORCHESTRATOR_FLOW_RUN_NAME": "brave-otter",
    "ORCHESTRATOR_FLOW_ID": str(FLOW_ID),
    "ORCHESTRATOR_FLOW_NAME": "etl",
    "ORCHESTRATOR_DEPLOYMENT_ID": str(DEPLOYMENT_ID),
    "ORCHESTRATOR_DEPLOYMENT_NAME": "nightly",
    "ORCHESTRATOR_WORK_POOL_NAME": "local",
    "ORCHESTRATOR_WORKER_NAME": "worker-1",
    "ORCHESTRATOR_WORKER_ID": str(WORKER_ID),
}
ATTRIBUTION_LABELS = {
    "orchestrator/flow-run-id": str(FLOW_RUN_ID),
    "orchestrator/flow-run-name": "brave-otter",
    "orchestrator/work-pool-name": "local",
    "orchestrator/worker-name": "worker-1",
    "orchestrator/flow-id": str(FLOW_ID),
    "orchestrator/flow-name": "etl",
    "orchestrator/deployment-id": str(DEPLOYMENT_ID),
    "orchestrator/deployment-name": "nightly",
}


C = TypeVar("C", bound=BaseJobConfiguration)


def prepare(config: C, **records: Any) -> C:
    everything: dict[str, Any] = {
        "deployment": DEPLOYMENT,
        "flow": FLOW,
        "work_pool": POOL,
        "worker_name": "worker-1",
        "worker_id": WORKER_ID,
    }
    return config.prepare_for_flow_run(make_flow_run(), **{**everything, **records})


def test_prepare_adds_attribution_env_and_labels_in_order() -> None:
    prepared = prepare(BaseJobConfiguration(command="run"))
    assert list(prepared.env.items()) == list(ATTRIBUTION_ENV.items())
    assert list(prepared.labels.items()) == list(ATTRIBUTION_LABELS.items())
    assert (prepared.name, prepared.command) == ("brave-otter", ("run",))


def test_prepare_with_only_the_flow_run_sets_what_the_run_knows() -> None:
    prepared = BaseJobConfiguration().prepare_for_flow_run(make_flow_run())
    assert prepared.env == {
        "ORCHESTRATOR_FLOW_RUN_ID": str(FLOW_RUN_ID),
        "ORCHESTRATOR_FLOW_RUN_NAME": "brave-otter",
        "ORCHESTRATOR_FLOW_ID": str(FLOW_ID),
        "ORCHESTRATOR_DEPLOYMENT_ID": str(DEPLOYMENT_ID),
        "ORCHESTRATOR_WORK_POOL_NAME": "local",
    }
    assert prepared.labels == {
        "orchestrator/flow-run-id": str(FLOW_RUN_ID),
        "orchestrator/flow-run-name": "brave-otter",
        "orchestrator/work-pool-name": "local",
        "orchestrator/flow-id": str(FLOW_ID),
        "orchestrator/deployment-id": str(DEPLOYMENT_ID),
    }
    assert prepared.command is None


def test_configured_env_and_labels_win_and_none_drops_a_variable() -> None:
    config = BaseJobConfiguration(
        env={"ORCHESTRATOR_FLOW_NAME": "mine", "ORCHESTRATOR_WORKER_ID": None, "X": "1"},
        labels={"orchestrator/flow-name": "mine", "team": "d"},
    )
    prepared = prepare(config)
    expected_env = {**ATTRIBUTION_ENV, "ORCHESTRATOR_FLOW_NAME": "mine", "X": "1"}
    del expected_env["ORCHESTRATOR_WORKER_ID"]
    assert prepared.env == expected_env
    assert prepared.labels == {**ATTRIBUTION_LABELS, "orchestrator/flow-name": "mine", "team": "d"}


def test_prepare_returns_a_new_configuration_and_leaves_this_one() -> None:
    config = ProcessJobConfiguration(env={"X": "1"}, name="n", working_dir="/srv")
    prepared = prepare(config)
    assert config == ProcessJobConfiguration(env={"X": "1"}, name="n", working_dir="/srv")
    assert prepared is not config
    assert (prepared.working_dir, prepared.stream_output) == (Path("/srv"), True)


def test_context_placeholders_render_at_prepare_time() -> None:
    config = BaseJobConfiguration(
        name="{{ ctx.flow.name }}-{{ ctx.flow_run.name }}",
        command=["python", "{{ ctx.deployment.name }}.py", "--x={{ ctx.flow_run.parameters.x }}"],
        env={"POOL": "{{ ctx.work_pool.name }}/{{ ctx.work_pool.type }}", "OFF": None},
        labels={"worker": "{{ ctx.worker.name }}:{{ ctx.worker.id }}"},
    )
    prepared = prepare(config)
    assert prepared.name == "etl-brave-otter"
    assert prepared.command == ("python", "nightly.py", "--x=1")
    assert prepared.env["POOL"] == "local/process"
    assert "OFF" not in prepared.env
    assert prepared.labels["worker"] == f"worker-1:{WORKER_ID}"


def test_context_placeholders_survive_rendering_for_prepare_time() -> None:
    config = ProcessJobConfiguration.from_template_and_values(
        template({"name": "{{ ctx.flow_run.name }}-{{ suffix }}"}), {"suffix": "x"}, strict=True
    )
    assert config.name == "{{ ctx.flow_run.name }}-x"
    assert prepare(config).name == "brave-otter-x"


def test_unknown_context_fields_are_refused_at_prepare_time() -> None:
    with pytest.raises(TemplateError, match=r"\{\{ ctx.flow.nmae \}\} names no context field"):
        prepare(BaseJobConfiguration(name="{{ ctx.flow.nmae }}"))


def test_context_fields_of_records_not_given_render_empty() -> None:
    config = BaseJobConfiguration(name="[{{ ctx.deployment.name }}]")
    assert config.prepare_for_flow_run(make_flow_run()).name == "[]"


@pytest.mark.parametrize("name", [None, "", "{{ ctx.flow.name }}"])
def test_an_empty_name_becomes_the_flow_run_name(name: str | None) -> None:
    prepared = BaseJobConfiguration(name=name).prepare_for_flow_run(make_flow_run())
    assert prepared.name == "brave-otter"


def test_command_precedence_configured_then_deployment_then_none() -> None:
    assert prepare(BaseJobConfiguration(command="mine")).command == ("mine",)
    assert prepare(BaseJobConfiguration()).command == ("python", "etl.py")
    assert prepare(ProcessJobConfiguration(), deployment=None).command is None
    commandless = attrs.evolve(DEPLOYMENT, command=None)
    assert prepare(ProcessJobConfiguration(), deployment=commandless).command is None


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"flow": attrs.evolve(FLOW, id=uuid.UUID(int=9))}, "is not the flow of flow run"),
        (
            {"deployment": attrs.evolve(DEPLOYMENT, id=uuid.UUID(int=9))},
            "is not the deployment of flow run",
        ),
        ({"work_pool": attrs.evolve(POOL, name="other")}, "'other' is not the pool of flow run"),
    ],
)
def test_records_of_another_run_are_refused(records: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        prepare(BaseJobConfiguration(), **records)


def test_the_process_configuration_keeps_unset_markers() -> None:
    config = ProcessJobConfiguration(env={"SECRET": None, "ORCHESTRATOR_WORKER_ID": None})
    prepared = prepare(config)
    expected = {**ATTRIBUTION_ENV, "SECRET": None, "ORCHESTRATOR_WORKER_ID": None}
    assert prepared.env == expected
    assert prepared.build_environment({"SECRET": "s", "PATH": "/bin"}) == {
        "PATH": "/bin",
        **{key: value for key, value in ATTRIBUTION_ENV.items() if key != "ORCHESTRATOR_WORKER_ID"},
    }
