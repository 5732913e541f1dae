"""The process job configuration: its own fields and the flow-run process's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import InvalidArgument
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
