"""What the pytest plugin costs a project that never uses it: pytest's start-up time.

Run with ``python bench/bench_plugin_startup.py [repeats]``. Times ``python -m pytest --co
-q`` over a tiny project with one plain test, with the plugin blocked (``-p
no:orchestrator``) and with the plugin module the ``pytest11`` entry point of this
checkout's pyproject.toml names loaded (``-p <module>``, so the figure does not depend on
what the installed metadata says), and with the whole package imported at start-up for
scale. Interleaves the runs, prints ``name: value unit`` lines: the medians, and each
cost as the median of the round-by-round differences; the target is < 30 ms.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Plugins of the venv no user project needs here (hypothesis's alone costs ~0.7 s, and
#: its noise would hide the figure); anyio's plugin, pytest-asyncio and xdist stay on.
COMMON = (
    "--co",
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:orchestrator",
)


def entry_point_module() -> str:
    """The module this checkout registers as the pytest plugin."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        data = tomllib.load(file)
    module: str = data["project"]["entry-points"]["pytest11"]["orchestrator"]
    return module


def run_once(project: Path, extra: tuple[str, ...]) -> float:
    """Wall seconds of one ``python -m pytest --co -q`` in ``project``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(project)])}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", *COMMON, *extra],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return time.perf_counter() - start


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    module = entry_point_module()
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        (project / "pytest.ini").write_text(
            "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        )
        (project / "test_plain.py").write_text("def test_plain():\n    assert True\n")
        variants = {
            "without": (),
            "with": ("-p", module),
            # For scale: the whole package imported at start-up, as an eager entry point
            # (the in-package plugin module before issue 13) did.
            "eager": ("-p", module, "-p", "orchestrator._public"),
        }
        for extra in variants.values():
            run_once(project, extra)  # warm the file system caches and .pyc files
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(repeats):
            for name, extra in variants.items():
                samples[name].append(run_once(project, extra))
    without = statistics.median(samples["without"]) * 1000
    with_plugin = statistics.median(samples["with"]) * 1000
    eager = statistics.median(samples["eager"]) * 1000
    print(f"plugin_module: {module}")
    print(f"repeats: {repeats} runs")
    print(f"pytest_collect_only_without_plugin: {without:.1f} ms")
    print(f"pytest_collect_only_with_plugin: {with_plugin:.1f} ms")
    print(f"pytest_collect_only_with_eager_package_import: {eager:.1f} ms")
    # The costs: the median of the round-by-round differences (each round runs the
    # variants back to back, so a slow spell of the machine falls on both sides).
    print(f"plugin_startup_cost: {paired_cost(samples, 'with'):.1f} ms (target < 30 ms)")
    print(f"eager_package_import_startup_cost: {paired_cost(samples, 'eager'):.1f} ms")
    print(f"with_plugin_vs_without: {with_plugin / without:.3f} x")


def paired_cost(samples: dict[str, list[float]], name: str) -> float:
    """Milliseconds ``name`` adds to the run without the plugin, round by round, median."""
    rounds = zip(samples[name], samples["without"], strict=True)
    return statistics.median(variant - without for variant, without in rounds) * 1000


if __name__ == "__main__":
    main()
