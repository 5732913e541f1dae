"""The package's layers, checked from its source code.

The package is laid out in wings: one subpackage per layer, plus a few top-level modules.
Lowest first::

    _core  <  _rules, _store, _queues, _pools  <  policies, filters, executors  <  _engine
           <  _display  <  workers  <  testing

An import may point down this order, never up, and never sideways between wings on the
same level unless the table below says so. ``MAY_IMPORT`` is that table: it reads like the
layer table of the README. Every test here reads the source with :mod:`ast` and imports
nothing of the package.

What counts as an import: every ``import`` and ``from ... import`` statement, including
the ones inside functions (a lazy import is still a dependency). Imports inside an
``if TYPE_CHECKING:`` block are left out: they exist for the type checker only.

Also checked: only a few modules sit at the top of the package, every wing's docstring
says what it may import, no two modules import each other (directly or round a cycle),
and code rarely reads another object's private attributes (workers and the testing kit
never do). Each failure names the file and line to look at.
"""

from __future__ import annotations

import ast
import graphlib
import itertools
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Final, Literal, NamedTuple

PACKAGE: Final = "orchestrator"
PACKAGE_DIR: Final = Path(__file__).resolve().parent.parent / PACKAGE

#: The public face, ``orchestrator/__init__.py``, is filed under this name.
FACE: Final = "__init__"

#: Every wing below the engine, which the engine and everything above it may import.
BELOW_THE_ENGINE: Final = {
    "_core",
    "_rules",
    "_store",
    "_queues",
    "_pools",
    "_journal",
    "policies",
    "filters",
}

# The layer table: for each wing, the other wings its modules may import (a wing may
# always import its own modules). A wing on the same level as another may not import it.
MAY_IMPORT: Final[dict[str, set[str]]] = {
    # foundations and vocabulary: clock, errors, states, models, wake-ups, tasks, checks
    "_core": set(),
    # the rule machinery, bookkeeping, policy tables
    "_rules": {"_core"},
    # runs at rest: tables, indexes, criteria, filters, planner, queries, history, results
    "_store": {"_core"},
    # task queues and the MultiQueue
    "_queues": {"_core"},
    # work pools, work queues, job templating
    "_pools": {"_core"},
    # the journal's file: errors, serializers, the JSON codec, the SQLite file
    "_journal": {"_core"},
    # public: the built-in rules and policies
    "policies": {"_core", "_rules"},
    # public: filters and sort orders for queries
    "filters": {"_core", "_store"},
    # the single writer: the Engine and the Orchestrator facade
    "_engine": BELOW_THE_ENGINE,
    # notebook tables and pictures (the timeline, the history chart)
    "_display": BELOW_THE_ENGINE | {"_engine"},
    # public: where task functions run when they leave the process (pool, Dask)
    "executors": {"_core"},
    # runtime: TaskWorker, serve, ProcessWorker
    "workers": BELOW_THE_ENGINE | {"_engine", "_display", "executors"},
    # workflows: @flow, inline task runs, task runners (beside workers)
    "_flows": BELOW_THE_ENGINE | {"_engine", "_display", "executors"},
    # public: the testing kit and the pytest plugin
    "testing": BELOW_THE_ENGINE | {"_engine", "_display", "executors", "workers", "_flows"},
    # every public name, imported at once the first time the face is asked for one
    "_public": BELOW_THE_ENGINE
    | {"_engine", "_display", "executors", "workers", "_flows", "testing"},
    # public face: lazy, re-exports _public's names, so nothing in the package imports it
    FACE: {"_public"},
    # the pytest11 entry point: imports the testing kit when a test uses a fixture
    "_pytest_entry": {"testing"},
}

#: Imports that break the table on purpose: (importing module, imported module) -> why.
#: They are left out of the cycle check too.
LISTED_EXCEPTIONS: Final[dict[tuple[str, str], str]] = {
    ("orchestrator._core._task_call", "orchestrator._flows._task_calls"): (
        "calling a task runs it as a task run, imported lazily"
    ),
    ("orchestrator._core._task_submission", "orchestrator._flows._task_calls"): (
        "submitting or mapping a task in a flow hands it to the flow's runner, imported lazily"
    ),
    ("orchestrator.testing._plugin", "orchestrator._pytest_entry"): (
        "the marker's and ini option's names live where pytest loads them at start-up"
    ),
    ("orchestrator._core._models", "orchestrator._display"): (
        "the notebook hook _repr_html_ draws a run with the display tables, imported lazily"
    ),
}

#: Outside the standard library, ``_core`` imports only these...
CORE_THIRD_PARTY: Final = {"attrs", "sortedcontainers"}

#: ...and for these modules, which wait on the event loop, also: (module, package) -> why.
#: The layer table says "stdlib, attrs, sortedcontainers"; the clock's timers and the
#: cross-thread wake-ups need the loop too. Listed so no other ``_core`` module follows.
CORE_EVENT_LOOP_USERS: Final[dict[tuple[str, str], str]] = {
    ("orchestrator._core._clock", "anyio"): "SystemClock sleeps; VirtualClock's sleepers wait",
    ("orchestrator._core._wakeup", "anyio"): "wait_for_any races signals in a task group",
    ("orchestrator._core._wakeup", "trio"): "a waiter in a trio task (imported only under trio)",
}

#: At most this many modules next to ``__init__.py`` at the top of the package.
MAX_TOP_LEVEL_MODULES: Final = 6

#: At most this many reads of another object's private attribute, across the package.
MAX_PRIVATE_READS: Final = 25

#: Wings that read no private attribute of another object at all.
NO_PRIVATE_READS: Final = {"workers", "testing"}

Kind = Literal["module level", "in a function", "type checking"]


class Import(NamedTuple):
    """One edge of the import graph: ``module`` imports ``imported`` at ``line``."""

    module: str
    imported: str
    line: int
    kind: Kind


# --- Reading the package ------------------------------------------------------------------


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


@cache
def syntax_tree(module: str) -> ast.Module:
    path = modules()[module]
    return ast.parse(path.read_text(), filename=str(path))


def where(module: str, line: int) -> str:
    """``orchestrator/_core/_tasks.py:324``, for failure messages."""
    return f"{modules()[module].relative_to(PACKAGE_DIR.parent)}:{line}"


def is_package(module: str) -> bool:
    return modules()[module].name == "__init__.py"


def wing_of(module: str) -> str:
    """``orchestrator._store._table`` -> ``_store``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACE


def wings() -> list[str]:
    """The wings: the subpackages of the package."""
    return sorted(module for module in modules() if is_package(module) and module.count(".") == 1)


def is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def import_statements(
    nodes: Iterable[ast.AST], kind: Kind = "module level"
) -> Iterator[tuple[ast.Import | ast.ImportFrom, Kind]]:
    """Every import statement under ``nodes``, with where it sits."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, kind
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            yield from import_statements(node.body, "type checking")
            yield from import_statements(node.orelse, kind)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner: Kind = "type checking" if kind == "type checking" else "in a function"
            yield from import_statements(ast.iter_child_nodes(node), inner)
        else:
            yield from import_statements(ast.iter_child_nodes(node), kind)


def imported_modules(module: str, statement: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules one statement in ``module`` imports, as absolute dotted names.

    ``from . import x`` imports the module ``x`` when there is one, else its package
    (``x`` is then a name defined in the package's ``__init__.py``).
    """
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    if statement.level == 0:
        base = statement.module or ""
    else:
        package = module.split(".") if is_package(module) else module.split(".")[:-1]
        parts = package[: len(package) - statement.level + 1]
        base = ".".join([*parts, statement.module] if statement.module else parts)
    found: list[str] = []
    for alias in statement.names:
        submodule = f"{base}.{alias.name}"
        target = submodule if submodule in modules() else base
        if target not in found:
            found.append(target)
    return found


def imports() -> Iterator[Import]:
    """Every import in the package: of its own modules, the standard library or others."""
    for module in modules():
        for statement, kind in import_statements(syntax_tree(module).body):
            for imported in imported_modules(module, statement):
                yield Import(module, imported, statement.lineno, kind)


def package_imports() -> Iterator[Import]:
    """The imports that layering is about: of the package's own modules, at run time."""
    for edge in imports():
        own = edge.imported == PACKAGE or edge.imported.startswith(f"{PACKAGE}.")
        if own and edge.kind != "type checking" and edge.imported != edge.module:
            yield edge


def is_listed(edge: Import) -> bool:
    return (edge.module, edge.imported) in LISTED_EXCEPTIONS


def listing(lines: Iterable[str]) -> str:
    """One failure per line, indented under the message."""
    return "".join(f"\n  {line}" for line in lines)


# --- The layout ---------------------------------------------------------------------------


def test_few_modules_at_the_top_every_other_one_in_a_wing() -> None:
    top_level = sorted(path.name for path in PACKAGE_DIR.glob("*.py"))
    top_level.remove("__init__.py")
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, (
        f"{len(top_level)} modules at the top of {PACKAGE}/, at most {MAX_TOP_LEVEL_MODULES}: "
        f"put the new one in a wing:{listing(top_level)}"
    )
    loose = [
        str(path.relative_to(PACKAGE_DIR.parent))
        for path in PACKAGE_DIR.rglob("*.py")
        if not (path.parent / "__init__.py").exists()
    ]
    assert not loose, f"modules in a folder without __init__.py:{listing(loose)}"


def test_every_wing_is_in_the_layer_table() -> None:
    missing = sorted({wing_of(module) for module in modules()} - MAY_IMPORT.keys())
    assert not missing, f"add these wings to MAY_IMPORT in {__file__}:{listing(missing)}"


def test_every_wing_says_what_it_holds_and_may_import() -> None:
    silent = [
        where(wing, 1)
        for wing in wings()
        if "may import" not in (ast.get_docstring(syntax_tree(wing)) or "").lower()
    ]
    assert not silent, (
        "a wing's docstring says what the wing holds and what it may import "
        f"(in the words 'may import'):{listing(silent)}"
    )


# --- Imports ------------------------------------------------------------------------------


def test_imports_follow_the_layer_table() -> None:
    wrong = [
        f"{where(edge.module, edge.line)}: {wing_of(edge.module)} imports "
        f"{edge.imported} ({edge.kind})"
        for edge in package_imports()
        if wing_of(edge.imported) != wing_of(edge.module)
        and wing_of(edge.imported) not in MAY_IMPORT[wing_of(edge.module)]
        and not is_listed(edge)
    ]
    assert not wrong, f"imports that MAY_IMPORT does not allow:{listing(wrong)}"


def test_core_imports_only_the_standard_library_attrs_and_sortedcontainers() -> None:
    outside = [
        f"{where(edge.module, edge.line)}: imports {edge.imported} ({edge.kind})"
        for edge in imports()
        if wing_of(edge.module) == "_core"
        and edge.kind != "type checking"
        and (top := edge.imported.partition(".")[0]) != PACKAGE
        and top not in sys.stdlib_module_names
        and top not in CORE_THIRD_PARTY
        and (edge.module, top) not in CORE_EVENT_LOOP_USERS
    ]
    assert not outside, f"_core imports a package it may not:{listing(outside)}"


def test_every_listed_exception_is_still_used() -> None:
    used = {(edge.module, edge.imported) for edge in imports() if edge.kind != "type checking"}
    used |= {(module, imported.partition(".")[0]) for module, imported in used}
    stale = [
        f"{module} -> {imported}"
        for module, imported in [*LISTED_EXCEPTIONS, *CORE_EVENT_LOOP_USERS]
        if (module, imported) not in used
    ]
    assert not stale, f"nothing imports these any more; unlist them:{listing(stale)}"


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles of ``graph`` (module -> the modules it imports), each as ``[a, b, ..., a]``.

    Finds a cycle, cuts its edges and looks again, until none is left: every knot of
    modules importing each other shows up at least once.
    """
    graph = {module: set(imported) for module, imported in graph.items()}
    cycles: list[list[str]] = []
    while True:
        try:
            tuple(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as error:
            # graphlib lists each module before the module that imports it: reverse that.
            cycle: list[str] = error.args[1][::-1]
            cycles.append(cycle)
            for module, imported in itertools.pairwise(cycle):
                graph[module].discard(imported)
        else:
            return cycles


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    first_line: dict[tuple[str, str], str] = {}
    for edge in package_imports():
        if not is_listed(edge):
            graph[edge.module].add(edge.imported)
            first_line.setdefault((edge.module, edge.imported), where(edge.module, edge.line))
    described = [
        " -> ".join(cycle)
        + "".join(
            f"\n      {first_line[(module, imported)]}: imports {imported}"
            for module, imported in itertools.pairwise(cycle)
        )
        for cycle in import_cycles(graph)
    ]
    assert not described, f"import cycles (imports in functions count):{listing(described)}"


# --- Private attributes -------------------------------------------------------------------


def is_private(name: str) -> bool:
    """``_name``; neither ``__dunder__`` nor ``_sunder_`` (enum's ``_value_``, IPython's hooks)."""
    return name.startswith("_") and not name.endswith("_")


def private_reads(module: str) -> list[tuple[int, str]]:
    """``(line, code)`` of each read of ``other._name`` in ``module``, where ``other`` is
    anything but ``self`` and ``cls`` (``other._name += 1`` reads it too)."""
    tree = syntax_tree(module)
    updated = {id(node.target) for node in ast.walk(tree) if isinstance(node, ast.AugAssign)}
    found = [
        (node.lineno, ast.unparse(node))
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (isinstance(node.ctx, ast.Load) or id(node) in updated)
        and is_private(node.attr)
        and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
    ]
    return sorted(found)


def test_workers_and_testing_read_public_names_only() -> None:
    found = [
        f"{where(module, line)}: {code}"
        for module in modules()
        if wing_of(module) in NO_PRIVATE_READS
        for line, code in private_reads(module)
    ]
    names = " and ".join(sorted(NO_PRIVATE_READS))
    assert not found, f"{names} read another object's private attribute:{listing(found)}"


def test_few_reads_of_private_attributes_across_the_package() -> None:
    found = [
        f"{where(module, line)}: {code}"
        for module in modules()
        for line, code in private_reads(module)
    ]
    assert len(found) <= MAX_PRIVATE_READS, (
        f"{len(found)} reads of another object's private attribute, at most "
        f"{MAX_PRIVATE_READS}:{listing(found)}"
    )
