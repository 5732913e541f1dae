"""Job-template placeholders: finding them, filling them, strict mode, context fields."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orchestrator import TemplateError
from orchestrator._pools._templating import (
    Placeholder,
    PlaceholderKind,
    apply_values,
    find_placeholders,
    render_context,
)

VARIABLE = PlaceholderKind.VARIABLE
ENVIRONMENT = PlaceholderKind.ENVIRONMENT
CONTEXT = PlaceholderKind.CONTEXT
REFERENCE = PlaceholderKind.REFERENCE


# --- find_placeholders -------------------------------------------------------------------


def test_find_placeholders_lists_each_once_in_order_with_its_kind() -> None:
    template = {
        "command": ["run", "{{ script }}", "--n={{n}}"],
        "env": {"HOME": "{{ $HOME }}", "AGAIN": "{{ script }}", "N": 3, "OFF": None},
        "name": "{{ ctx.flow_run.name }}-{{ prefect.blocks.secret.token }}",
        "var": "{{  orchestrator.variables.region  }}",
    }
    assert find_placeholders(template) == (
        Placeholder("{{ script }}", "script", VARIABLE),
        Placeholder("{{n}}", "n", VARIABLE),
        Placeholder("{{ $HOME }}", "$HOME", ENVIRONMENT),
        Placeholder("{{ ctx.flow_run.name }}", "ctx.flow_run.name", CONTEXT),
        Placeholder("{{ prefect.blocks.secret.token }}", "prefect.blocks.secret.token", REFERENCE),
        Placeholder(
            "{{  orchestrator.variables.region  }}", "orchestrator.variables.region", REFERENCE
        ),
    )


def test_placeholder_names_allow_letters_digits_and_underscore_dot_dash_brackets_dollar() -> None:
    text = "{{ a_B-9.c[0]$ }} {{ a b }} {{ a+b }} {{}} { x } {{ ok }}"
    assert [p.name for p in find_placeholders(text)] == ["a_B-9.c[0]$", "ok"]


def test_find_placeholders_ignores_keys_and_non_strings() -> None:
    assert find_placeholders({"{{ key }}": 1, "x": 2.5, "y": True, "z": (None,)}) == ()


# --- apply_values: whole-string placeholders -----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [5, 2.5, True, None, "text", ["a", 1], {"k": [1, 2]}],
    ids=["int", "float", "bool", "none", "str", "list", "dict"],
)
def test_a_string_that_is_one_placeholder_becomes_the_raw_value(value: object) -> None:
    assert apply_values({"x": "{{ v }}"}, {"v": value}) == {"x": value}


def test_placeholder_spaces_are_optional() -> None:
    assert apply_values(["{{v}}", "{{   v }}", "{{ v}}"], {"v": 1}) == [1, 1, 1]


def test_dotted_paths_and_list_indexes() -> None:
    values = {"a": {"b": [10, {"c": "deep"}], "d-e": "dash"}, "m": [[1, 2], [3]]}
    template = ["{{ a.b[0] }}", "{{ a.b[1].c }}", "{{ a.b.1.c }}", "{{ m[1][0] }}", "{{ a.d-e }}"]
    assert apply_values(template, values) == [10, "deep", "deep", 3, "dash"]


def test_a_missing_whole_placeholder_drops_its_key_or_list_item() -> None:
    template = {"keep": "{{ a }}", "drop": "{{ missing }}", "items": ["{{ a }}", "{{ b.c }}"]}
    assert apply_values(template, {"a": 1, "b": {}}) == {"keep": 1, "items": [1]}


@pytest.mark.parametrize(
    "name",
    ["a[5]", "a[x]", "a.0.z", "s[0]", "n.x", "a[-1]", "a[]", "a..b", "a[²]"],
)
def test_paths_that_lead_nowhere_are_missing(name: str) -> None:
    values = {"a": [1, 2], "s": "text", "n": None}
    assert apply_values({"x": "{{ " + name + " }}", "y": 0}, values) == {"y": 0}


def test_a_template_that_is_one_missing_placeholder_gives_none() -> None:
    assert apply_values("{{ nothing }}", {}) is None


# --- apply_values: embedded placeholders ---------------------------------------------------


def test_embedded_placeholders_become_text_and_missing_ones_empty() -> None:
    values = {"n": 3, "flag": False, "none": None, "obj": {"k": 1}}
    template = {
        "one": "n={{ n }}",
        "several": "{{ n }}/{{flag}}/{{ none }}/{{ obj }}",
        "repeat": "{{ n }}{{ n }}",
        "missing": "[{{ gone }}]",
        "two": "{{ n }}{{ gone }}",
    }
    assert apply_values(template, values) == {
        "one": "n=3",
        "several": "3/False/None/{'k': 1}",
        "repeat": "33",
        "missing": "[]",
        "two": "3",
    }


def test_values_are_not_rendered_again() -> None:
    assert apply_values("x{{ a }}", {"a": "{{ b }}", "b": 1}) == "x{{ b }}"
    assert apply_values("{{ a }}", {"a": "{{ b }}", "b": 1}) == "{{ b }}"


def test_environment_placeholders_read_the_given_environ() -> None:
    environ = {"HOME": "/home/ada", "EMPTY": ""}
    template = {"h": "{{ $HOME }}", "p": "{{ $HOME }}/bin:{{$EMPTY}}", "m": "{{ $NOT_SET }}"}
    assert apply_values(template, {"HOME": "variable"}, environ=environ) == {
        "h": "/home/ada",
        "p": "/home/ada/bin:",
        "m": "",
    }


def test_environment_placeholders_default_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_TEMPLATING_TEST", "from-os")
    assert apply_values("{{ $ORCH_TEMPLATING_TEST }}", {}) == "from-os"


def test_context_placeholders_and_references_are_left_as_written() -> None:
    template = {
        "ctx": "{{ ctx.flow_run.name }}",
        "block": "{{ prefect.blocks.secret.token }}",
        "mixed": "{{ orchestrator.variables.region }}-{{ n }}-{{ ctx.flow.name }}",
        "ref": {"$ref": {"block_document_id": "123"}},
    }
    assert apply_values(template, {"n": 1, "ctx": {"flow_run": {"name": "x"}}}) == {
        "ctx": "{{ ctx.flow_run.name }}",
        "block": "{{ prefect.blocks.secret.token }}",
        "mixed": "{{ orchestrator.variables.region }}-1-{{ ctx.flow.name }}",
        "ref": {"$ref": {"block_document_id": "123"}},
    }


def test_primitives_are_untouched_and_structures_walked() -> None:
    template: dict[str, Any] = {
        "i": 1,
        "f": 1.5,
        "b": False,
        "n": None,
        "t": ("{{ v }}", 2),
        "d": {"e": []},
    }
    assert apply_values(template, {"v": "x"}) == {
        "i": 1,
        "f": 1.5,
        "b": False,
        "n": None,
        "t": ["x", 2],
        "d": {"e": []},
    }


def test_the_input_is_never_mutated() -> None:
    template: dict[str, Any] = {
        "a": ["{{ v }}", "{{ missing }}", {"b": "{{ v }}-x"}],
        "c": {"d": "{{ missing }}"},
    }
    values: dict[str, Any] = {"v": [1, 2]}
    template_before, values_before = copy.deepcopy(template), copy.deepcopy(values)
    result = apply_values(template, values)
    assert result == {"a": [[1, 2], {"b": "[1, 2]-x"}], "c": {}}
    assert template == template_before
    assert values == values_before
    assert result["a"] is not template["a"]
    assert result["c"] is not template["c"]


def test_a_template_with_a_non_json_type_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"holds a set at a\[1\]; a template may hold only"):
        apply_values({"a": [1, {2}]}, {})


# --- strict mode ------------------------------------------------------------------------------


def test_strict_mode_names_every_unresolved_placeholder_and_where_it_is() -> None:
    template = {
        "command": ["run", "{{ imgae }}", "--tag={{ tag }}"],
        "env": {"HOME": "{{ $NO_SUCH_VAR }}", "TOKEN": "{{ prefect.blocks.secret.t }}"},
        "secret": {"$ref": {"block_document_id": "1"}},
        "ok": "{{ image }}",
        "later": "{{ ctx.flow_run.name }}",
    }
    with pytest.raises(TemplateError) as caught:
        apply_values(template, {"image": "python"}, strict=True, environ={})
    assert str(caught.value) == (
        "the job template has 5 unresolved placeholders: "
        "{{ imgae }} at command[1] (no value given); "
        "{{ tag }} at command[2] (no value given); "
        "{{ $NO_SUCH_VAR }} at env.HOME (environment variable not set); "
        "{{ prefect.blocks.secret.t }} at env.TOKEN "
        "(block and variable references are not supported); "
        '{"$ref": ...} at secret (block references are not supported). '
        "Give each variable a value or a default, set the environment variables, "
        "or fix the placeholder's spelling"
    )


def test_strict_mode_with_one_unresolved_placeholder_uses_the_singular() -> None:
    with pytest.raises(TemplateError, match=r"has 1 unresolved placeholder: \{\{ x \}\} at the "):
        apply_values("{{ x }}", {}, strict=True)


def test_strict_mode_lets_optional_names_go_without_a_value() -> None:
    template = {"dir": "{{ working_dir }}", "name": "job-{{ name }}", "n": "{{ n }}"}
    rendered = apply_values(template, {"n": 1}, strict=True, optional=("working_dir", "name"))
    assert rendered == {"name": "job-", "n": 1}


def test_optional_names_do_not_excuse_paths_below_them() -> None:
    with pytest.raises(TemplateError, match=r"\{\{ settings.image \}\} at x \(no value given\)"):
        apply_values({"x": "{{ settings.image }}"}, {}, strict=True, optional=("settings",))


def test_strict_mode_renders_like_lenient_mode_when_everything_resolves() -> None:
    template = {"a": "{{ v }}", "b": "{{ $E }}-{{ v }}", "c": [1, "{{ w.x }}"]}
    values = {"v": 2, "w": {"x": None}}
    expected = {"a": 2, "b": "e-2", "c": [1, None]}
    assert apply_values(template, values, strict=True, environ={"E": "e"}) == expected
    assert apply_values(template, values, environ={"E": "e"}) == expected


# --- render_context ---------------------------------------------------------------------------

CONTEXT_VALUES: dict[str, dict[str, object]] = {
    "flow_run": {"name": "brave-otter", "parameters": {"x": [1, 2]}, "deployment_id": None},
    "flow": {"name": "etl"},
}


def test_render_context_fills_context_fields_as_text() -> None:
    template = {
        "name": "{{ ctx.flow.name }}/{{ctx.flow_run.name}}",
        "whole": "{{ ctx.flow_run.parameters.x[1] }}",
        "list": ["{{ ctx.flow_run.parameters }}", 3],
        "none": "[{{ ctx.flow_run.deployment_id }}]",
        "nowhere": "[{{ ctx.flow_run.parameters.y }}]",
        "other": "{{ name }} {{ $HOME }}",
    }
    assert render_context(template, CONTEXT_VALUES) == {
        "name": "etl/brave-otter",
        "whole": "2",
        "list": ["{'x': [1, 2]}", 3],
        "none": "[]",
        "nowhere": "[]",
        "other": "{{ name }} {{ $HOME }}",
    }


@pytest.mark.parametrize(
    "text", ["{{ ctx.flow.nmae }}", "{{ ctx.flw.name }}", "{{ ctx.flow }}", "{{ ctx. }}"]
)
def test_render_context_refuses_unknown_fields(text: str) -> None:
    message = (
        "names no context field; the known fields are: ctx.flow_run.name, "
        "ctx.flow_run.parameters, ctx.flow_run.deployment_id, ctx.flow.name"
    )
    with pytest.raises(TemplateError, match=message):
        render_context(f"x-{text}", CONTEXT_VALUES)


def test_render_context_leaves_non_strings_and_the_input_alone() -> None:
    template: dict[str, Any] = {"a": ["{{ ctx.flow.name }}"], "n": None, "i": 4}
    before = copy.deepcopy(template)
    assert render_context(template, CONTEXT_VALUES) == {"a": ["etl"], "n": None, "i": 4}
    assert template == before
