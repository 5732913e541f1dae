"""Job configuration fields: what each setting accepts and how it is normalised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator import InvalidArgument
from orchestrator._pools._job_config import BaseJobConfiguration
from orchestrator._pools._process_config import ProcessJobConfiguration


def test_defaults() -> None:
    config = ProcessJobConfiguration()
    assert (config.command, config.env, config.labels, config.name) == (None, {}, {}, None)
    assert (config.stream_output, config.working_dir, config.inherit_env) == (True, None, True)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("python -m pkg --name 'a b'", ("python", "-m", "pkg", "--name", "a b")),
        (["sleep", 5, 0.5, Path("/x/y")], ("sleep", "5", "0.5", "/x/y")),
        (("a",), ("a",)),
        ("", None),
        ("   ", None),
        ([], None),
        (None, None),
    ],
)
def test_command_is_an_argument_tuple_or_none(command: Any, expected: Any) -> None:
    assert BaseJobConfiguration(command=command).command == expected


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("python -c 'unclosed", "cannot be split into arguments"),
        (["python", None], "command argument 1 is None; every argument must be a string"),
        (["python", True], "command argument 1 is True"),
        (["python", ["-c"]], "command argument 1 is \\['-c'\\]"),
        ({"python": 1}, "command must be a list of arguments or a string, not dict"),
    ],
)
def test_bad_commands_are_refused(command: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        BaseJobConfiguration(command=command)


def test_env_values_are_stringified_and_none_kept() -> None:
    config = BaseJobConfiguration(env={"A": "a", "N": 3, "F": 1.5, "B": True, "U": None})
    assert config.env == {"A": "a", "N": "3", "F": "1.5", "B": "True", "U": None}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FOO": {"a": 1}}, "env value for 'FOO' is \\{'a': 1\\} \\(dict\\); it must be a string"),
        ({"FOO": [1]}, "env value for 'FOO' is \\[1\\] \\(list\\)"),
        ({"FOO": "a\0b"}, "env value for 'FOO'"),
        ({"A=B": "x"}, "env name 'A=B' must be a non-empty string without '='"),
        ({"": "x"}, "env name '' must be"),
        ({1: "x"}, "env name 1 must be"),
        ("A=1", "env must be a mapping of names to strings, not 'A=1'"),
    ],
)
def test_bad_env_is_refused_naming_the_key(env: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        BaseJobConfiguration(env=env)


def test_labels_are_strings_and_refuse_none() -> None:
    assert BaseJobConfiguration(labels={"n": 1, "s": "x"}).labels == {"n": "1", "s": "x"}
    with pytest.raises(InvalidArgument, match=r"labels value for 'k' is None .* it must be a "):
        BaseJobConfiguration(labels={"k": None})


def test_name_must_be_text() -> None:
    with pytest.raises(InvalidArgument, match="name must be a string or None, not 3"):
        BaseJobConfiguration(name=3)  # type: ignore[arg-type]


def test_env_values_are_hidden_from_the_repr() -> None:
    config = BaseJobConfiguration(env={"API_KEY": "s3cret", "OFF": None})
    assert repr(config) == (
        "BaseJobConfiguration(command=None, env={'API_KEY': ***, 'OFF': None}, labels={}, "
        "name=None)"
    )
