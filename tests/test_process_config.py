"""The process job configuration: its own fields and the flow-run process's environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator import InvalidArgument, TemplateError
from orchestrator._pools._process_config import MINIMAL_ENV_NAMES, ProcessJobConfiguration


def test_working_dir_becomes_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert ProcessJobConfiguration(working_dir=str(tmp_path)).working_dir == tmp_path
    assert ProcessJobConfiguration(working_dir="sub/dir").working_dir == tmp_path / "sub/dir"
    assert ProcessJobConfiguration(working_dir=Path("rel")).working_dir == tmp_path / "rel"
    assert ProcessJobConfiguration(working_dir="").working_dir is None
    assert ProcessJobConfiguration.validate_working_dir("x") == tmp_path / "x"
    assert ProcessJobConfiguration.validate_working_dir(None) is None
    with pytest.raises(InvalidArgument, match="working_dir must be a path or None, not 3"):
        ProcessJobConfiguration(working_dir=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["stream_output", "inherit_env"])
def test_process_flags_must_be_booleans(field: str) -> None:
    with pytest.raises(InvalidArgument, match=f"{field} must be true or false, not 'yes'"):
        ProcessJobConfiguration(**{field: "yes"})  # type: ignore[arg-type]


# --- build_environment ----------------------------------------------------------------------

WORKER_ENV = {"PATH": "/usr/bin", "HOME": "/home/w", "AWS_SECRET": "s3cret", "LANG": "C.UTF-8"}


def test_the_environment_inherits_the_worker_and_configured_values_win() -> None:
    config = ProcessJobConfiguration(env={"HOME": "/srv", "NEW": "1", "AWS_SECRET": None})
    assert config.build_environment(WORKER_ENV) == {
        "PATH": "/usr/bin",
        "HOME": "/srv",
        "LANG": "C.UTF-8",
        "NEW": "1",
    }


def test_without_inheritance_only_the_basics_and_the_configured_env_pass() -> None:
    config = ProcessJobConfiguration(env={"NEW": "1", "LANG": None}, inherit_env=False)
    worker_env = {**WORKER_ENV, "SYSTEMROOT": "C:\\Windows", "TMPDIR": "/tmp", "path": "no"}
    assert config.build_environment(worker_env) == {
        "PATH": "/usr/bin",
        "HOME": "/home/w",
        "SYSTEMROOT": "C:\\Windows",
        "TMPDIR": "/tmp",
        "NEW": "1",
    }


def test_the_basics_are_what_programs_need_to_run() -> None:
    assert {"PATH", "HOME", "LANG", "SYSTEMROOT"} <= MINIMAL_ENV_NAMES
    assert not any("SECRET" in name or "TOKEN" in name for name in MINIMAL_ENV_NAMES)


def test_the_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_PROCESS_TEST", "inherited")
    monkeypatch.setenv("ORCH_PROCESS_TEST_GONE", "x")
    config = ProcessJobConfiguration(env={"ORCH_PROCESS_TEST_GONE": None})
    environment = config.build_environment()
    assert environment["ORCH_PROCESS_TEST"] == "inherited"
    assert "ORCH_PROCESS_TEST_GONE" not in environment
    isolated = ProcessJobConfiguration(inherit_env=False).build_environment()
    assert "ORCH_PROCESS_TEST" not in isolated


# --- inherit_env_names: the allow-list of inherited variables --------------------------------


def test_the_allow_list_narrows_what_is_inherited_and_env_is_still_set() -> None:
    worker_env = {**WORKER_ENV, "TMPDIR": "/tmp", "CONFIG": "c"}
    everything = ProcessJobConfiguration(inherit_env_names=["PATH", "CONFIG", "NOT_SET"])
    assert everything.build_environment(worker_env) == {"PATH": "/usr/bin", "CONFIG": "c"}
    basics = ProcessJobConfiguration(
        inherit_env=False,
        inherit_env_names=("PATH", "CONFIG", "OWN"),
        env={"OWN": "mine", "AWS_SECRET": "given"},
    )
    # CONFIG is allowed but not one of the basics; OWN and AWS_SECRET are the run's own values.
    assert basics.build_environment(worker_env) == {
        "PATH": "/usr/bin",
        "OWN": "mine",
        "AWS_SECRET": "given",
    }
    nothing = ProcessJobConfiguration(inherit_env_names=[], env={"A": "1"})
    assert nothing.build_environment(worker_env) == {"A": "1"}


def test_the_allow_list_is_kept_as_a_tuple_in_order_each_name_once() -> None:
    assert ProcessJobConfiguration().inherit_env_names is None
    config = ProcessJobConfiguration(inherit_env_names=["PATH", "HOME", "PATH"])
    assert config.inherit_env_names == ("PATH", "HOME")
    assert ProcessJobConfiguration(inherit_env_names={"b", "a"}).inherit_env_names == ("a", "b")
    assert ProcessJobConfiguration(inherit_env_names=iter(["X"])).inherit_env_names == ("X",)


@pytest.mark.parametrize(
    ("names", "error", "message"),
    [
        (
            "PATH",
            TypeError,
            "inherit_env_names must be None or a list of environment variable names, such as "
            "['PATH', 'HOME'], not the string 'PATH'",
        ),
        ({"PATH": 1}, TypeError, "inherit_env_names must be None or a list .*, got {'PATH': 1}"),
        (3, TypeError, "inherit_env_names must be None or a list .*, got 3"),
        (["PATH", 3], TypeError, "inherit_env_names must be .*, got 3 at index 1"),
        ([""], ValueError, "inherit_env_names must be a list of non-empty names without '=', "
         "got '' at index 0"),
        (["A=B"], ValueError, "got 'A=B' at index 0"),
    ],
)  # fmt: skip
def test_a_bad_allow_list_is_refused_naming_it(
    names: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message).replace("\\.\\*", ".*")) as e:
        ProcessJobConfiguration(inherit_env_names=names)  # type: ignore[arg-type]
    assert isinstance(e.value, error)


# --- job variables may narrow what the pool's template allows, never widen it ---------------


def pool_template(**defaults: Any) -> dict[str, Any]:
    base = ProcessJobConfiguration.default_base_job_template()
    for name, default in defaults.items():
        base["variables"]["properties"][name]["default"] = default
    return base


def render(base: dict[str, Any], values: dict[str, Any]) -> ProcessJobConfiguration:
    return ProcessJobConfiguration.from_template_and_values(base, values, environ=WORKER_ENV)


@pytest.mark.parametrize(
    ("pool", "job", "expected"),
    [(True, None, True), (True, False, False), (True, True, True), (False, None, False),
     (False, True, False), (False, False, False)],
)  # fmt: skip
def test_job_variables_cannot_turn_inheritance_on(
    pool: bool, job: bool | None, expected: bool
) -> None:
    values = {} if job is None else {"inherit_env": job}
    config = render(pool_template(inherit_env=pool), values)
    assert config.inherit_env is expected
    assert ("AWS_SECRET" in config.build_environment(WORKER_ENV)) is expected


def test_a_hard_coded_or_undeclared_pool_setting_is_a_ceiling_too() -> None:
    base = pool_template()
    base["job_configuration"]["inherit_env"] = False
    assert render(base, {"inherit_env": True}).inherit_env is False
    base["job_configuration"]["inherit_env_names"] = ["PATH"]
    assert render(base, {"inherit_env_names": ["PATH", "AWS_SECRET"]}).inherit_env_names == (
        "PATH",
    )
    # No default declared: the class default (True) is what the pool allows.
    assert render(pool_template(), {"inherit_env": True}).inherit_env is True


@pytest.mark.parametrize(
    ("pool", "job", "expected"),
    [
        (None, None, None),
        (None, ["A", "B"], ("A", "B")),
        (["A", "B"], None, ("A", "B")),
        (["A", "B"], ["B", "C"], ("B",)),
        (["A"], [], ()),
        ([], ["A"], ()),
    ],
)
def test_job_variables_narrow_the_allow_list_to_its_intersection_with_the_pool_s(
    pool: list[str] | None, job: list[str] | None, expected: tuple[str, ...] | None
) -> None:
    base = pool_template() if pool is None else pool_template(inherit_env_names=pool)
    values = {} if job is None else {"inherit_env_names": job}
    assert render(base, values).inherit_env_names == expected


def test_a_pool_template_whose_own_settings_are_invalid_is_refused() -> None:
    message = (
        "the work pool's base job template is not a valid ProcessJobConfiguration: "
        "inherit_env must be true or false, not 'no'"
    )
    with pytest.raises(TemplateError, match=message):
        render(pool_template(inherit_env="no"), {"inherit_env": False})


def test_the_allow_list_is_a_variable_of_the_default_template() -> None:
    base = ProcessJobConfiguration.default_base_job_template()
    assert base["job_configuration"]["inherit_env_names"] == "{{ inherit_env_names }}"
    spec = base["variables"]["properties"]["inherit_env_names"]
    assert (spec["type"], spec["items"]) == (["array", "null"], {"type": "string"})
    assert "default" not in spec
    with pytest.raises(TemplateError, match="inherit_env_names must be None or a list"):
        render(base, {"inherit_env_names": "PATH"})
