"""What the pytest plugin costs a project that never uses it: pytest's start-up time.

Run with ``python bench/bench_plugin_startup.py [repeats]``. Times ``python -m pytest --co
-q`` over a tiny project with one plain test, with the plugin blocked (``-p
no:orchestrator``) and with the plugin module the ``pytest11`` entry point of this
checkout's pyproject.toml names loaded (``-p <module>``, so the figure does not depend on
what the installed metadata says). Interleaves the runs, prints ``name: value unit`` lines
(medians) and the difference; the target is < 30 ms.
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
#: Plugins of the venv no user project needs here (hypothesis's alone costs ~0.1 s).
COMMON = ("--co", "-q", "-p", "no:cacheprovider", "-p", "no:orchestrator")


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
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    module = entry_point_module()
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "test_plain.py").write_text("def test_plain():\n    assert True\n")
        variants = {
            "without": (),
            "with": ("-p", module),
            # For scale: the module inside the package, as the entry point named it before.
            "in_package": ("-p", "orchestrator.testing._plugin"),
        }
        for extra in variants.values():
            run_once(project, extra)  # warm the file system caches and .pyc files
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(repeats):
            for name, extra in variants.items():
                samples[name].append(run_once(project, extra))
    without = statistics.median(samples["without"]) * 1000
    with_plugin = statistics.median(samples["with"]) * 1000
    print(f"plugin_module: {module}")
    print(f"repeats: {repeats} runs")
    print(f"pytest_collect_only_without_plugin: {without:.1f} ms")
    print(f"pytest_collect_only_with_plugin: {with_plugin:.1f} ms")
    in_package = statistics.median(samples["in_package"]) * 1000
    print(f"pytest_collect_only_with_in_package_module: {in_package:.1f} ms")
    print(f"plugin_startup_cost: {with_plugin - without:.1f} ms (target < 30 ms)")
    print(f"in_package_module_startup_cost: {in_package - without:.1f} ms")


if __name__ == "__main__":
    main()
