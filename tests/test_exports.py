"""The public face: ``__all__`` lists exactly the public names, and nothing private leaks."""

from __future__ import annotations

import importlib
import inspect

import pytest

import orchestrator

PUBLIC_MODULES = [
    "orchestrator",
    "orchestrator.executors",
    "orchestrator.filters",
    "orchestrator.policies",
    "orchestrator.testing",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_matches_public_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name not in {"annotations", "TYPE_CHECKING"}
    }
    assert exported == public


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_a_sorted_tuple(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert isinstance(module.__all__, tuple)
    assert list(module.__all__) == sorted(module.__all__)


def test_public_objects_show_the_public_module() -> None:
    for name in orchestrator.__all__:
        value = getattr(orchestrator, name)
        module = getattr(value, "__module__", None)
        if module is not None and module.startswith("orchestrator"):
            assert module == "orchestrator", name


def test_public_objects_have_docstrings() -> None:
    for name in orchestrator.__all__:
        value = getattr(orchestrator, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_classes_not_meant_for_subclassing_are_final() -> None:
    # Observer, Rule, Clock and the error bases are made to be subclassed; the rest are final.
    open_for_subclassing = {
        "BaseJobConfiguration",
        "Clock",
        "Executor",
        "InvalidArgument",
        "JournalError",
        "Observer",
        "OrchestratorError",
        "Rule",
        "Serializer",
    }
    for name in orchestrator.__all__:
        value = getattr(orchestrator, name)
        if inspect.isclass(value) and name not in open_for_subclassing:
            if issubclass(value, tuple):  # NamedTuples cannot be marked final
                continue
            assert getattr(value, "__final__", False), f"{name} should be @final"
