"""``import orchestrator`` is lazy: the first public name asked for imports the package.

Each check runs in a fresh interpreter, since this one imported the package long ago.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run_fresh(code: str) -> str:
    """Run ``code`` in a new interpreter and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


LOADED = "sorted(m for m in sys.modules if m.split('.')[0] == 'orchestrator')"


def test_a_bare_import_loads_nothing_else_of_the_package() -> None:
    out = run_fresh(
        f"""
        import sys
        import orchestrator
        print({LOADED})
        print('anyio' in sys.modules, 'asyncio' in sys.modules)
        """
    )
    assert out.splitlines() == ["['orchestrator']", "False False"]


def test_the_first_public_name_loads_every_public_name() -> None:
    out = run_fresh(
        """
        import orchestrator
        first = orchestrator.Orchestrator
        print(first.__module__, first.__qualname__)
        names = vars(orchestrator)
        print(all(name in names for name in orchestrator.__all__))
        print(orchestrator.Completed.__module__, repr(orchestrator.StateType.COMPLETED))
        """
    )
    module, all_loaded, state = out.splitlines()
    assert module == "orchestrator Orchestrator"
    assert all_loaded == "True"
    assert state == "orchestrator StateType.COMPLETED"


def test_star_import_dir_and_from_import_see_the_public_names() -> None:
    out = run_fresh(
        """
        import orchestrator
        print(set(orchestrator.__all__) <= set(dir(orchestrator)))
        from orchestrator import task, VirtualClock
        print(task.__module__, VirtualClock.__name__)
        namespace = {}
        exec("from orchestrator import *", namespace)
        print(sorted(set(namespace) - {"__builtins__"}) == sorted(orchestrator.__all__))
        """
    )
    assert out.splitlines() == ["True", "orchestrator VirtualClock", "True"]


def test_public_submodules_import_by_attribute_and_alone() -> None:
    out = run_fresh(
        """
        import sys
        import orchestrator
        print(orchestrator.filters.__name__)
        print('orchestrator._public' in sys.modules)
        print(orchestrator.policies.__name__, orchestrator.workers.__name__)
        """
    )
    assert out.splitlines() == [
        "orchestrator.filters",
        # filters imports what it needs, not every public name
        "False",
        "orchestrator.policies orchestrator.workers",
    ]


@pytest.mark.parametrize("name", ["no_such_name", "_private", "__wrapped__"])
def test_an_unknown_name_is_an_attribute_error(name: str) -> None:
    out = run_fresh(
        f"""
        import sys
        import orchestrator
        try:
            getattr(orchestrator, {name!r})
        except AttributeError as error:
            print(error)
        print({LOADED} == ['orchestrator'])
        """
    )
    message, only_face = out.splitlines()
    assert message == f"module 'orchestrator' has no attribute {name!r}"
    # Private and dunder names (probes by inspect, doctest, pickle) never load the package.
    assert only_face == ("False" if name == "no_such_name" else "True")


def test_pickled_public_objects_load_back_in_a_fresh_interpreter() -> None:
    out = run_fresh(
        """
        import pickle, sys
        import orchestrator
        data = pickle.dumps((orchestrator.StateType.FAILED, orchestrator.Completed))
        print(data.count(b"orchestrator._"))
        """
    )
    assert out.strip() == "0"  # pickled under the public path, orchestrator.X
