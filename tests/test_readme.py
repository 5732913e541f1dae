"""Every Python block of the README runs as written.

A block whose first line is ``# test_<name>.py`` is a pytest file and must pass under
pytest; any other block must run as a script. Each runs in a fresh interpreter, in an
empty directory, so it relies on nothing but the installed package.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
BLOCKS = [
    pytest.param(
        match.group(1), id=f"line-{README.read_text().count(chr(10), 0, match.start()) + 1}"
    )
    for match in BLOCK.finditer(README.read_text())
]


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("code", BLOCKS)
def test_block_runs(code: str, tmp_path: Path) -> None:
    first = code.splitlines()[0].strip()
    if re.fullmatch(r"# test_\w+\.py", first):
        name = first[2:]
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name]
    else:
        name = "snippet.py"
        command = [sys.executable, name]
    (tmp_path / name).write_text(code)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=environment
    )
    assert done.returncode == 0, done.stdout + done.stderr
