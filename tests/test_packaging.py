"""The distribution's name, its self-references and its classifiers agree with each other.

The distribution is ``inproc-orchestrator`` (``orchestrator`` is taken on PyPI); the
import package stays ``orchestrator``. Every place that names the distribution (the
``dev`` extra, the README, CI) uses that one name, and the classifiers list exactly the
Python versions CI runs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import orchestrator

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
NAME = "inproc-orchestrator"


def test_the_distribution_name_and_the_import_name() -> None:
    assert PROJECT["name"] == NAME
    assert PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["orchestrator"]
    assert Path(orchestrator.__file__).parent.name == "orchestrator"


def test_extras_name_the_distribution_itself() -> None:
    requirement_name = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\[")
    self_references = [
        match.group(1)
        for requirements in PROJECT["optional-dependencies"].values()
        for requirement in requirements
        if (match := requirement_name.match(requirement))
        and "orchestrator" in match.group(1).lower()
    ]
    assert self_references == [NAME]  # dev = ["inproc-orchestrator[test]", ...]


def test_the_classifiers_list_the_supported_pythons() -> None:
    classifiers = PROJECT["classifiers"]
    versions = sorted(
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    assert versions == ["3.11", "3.12", "3.13"]
    assert PROJECT["requires-python"] == ">=3.11"
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    assert {"Framework :: Pytest", "Typing :: Typed"} <= set(classifiers)
    # The license is the PEP 639 expression; "License ::" classifiers are deprecated by it.
    assert PROJECT["license"] == "MIT"
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_the_readme_and_ci_use_the_name_and_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert commands == [
        "pip install . && python examples/quickstart.py",
        "pip install '.[test,dask]' && python -m pytest",
    ]
    assert f"**`{NAME}`**" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    # CI installs the test and dask extras and runs the README's test command, on the
    # machine's Python and again on the newest supported one.
    install = "python -m pip install --quiet --disable-pip-version-check "
    assert ci.count(install + "'.[test,dask]'") == 1
    assert ci.count(install + '".[test,dask]"') == 1
    assert ci.count("python -m pytest -q -p no:randomly") == 2
    assert "newest supported Python, 3.13" in ci
