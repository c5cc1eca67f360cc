"""Run every gallery example (``examples/**/plot_*.py``) in a fast mode.

Each example runs in a subprocess with ``SKAL_EXAMPLES_FAST=1`` (examples
read it to shrink budgets and epochs), ``MPLBACKEND=Agg`` and one torch
thread, from its own folder as sphinx-gallery runs it, so a broken example
fails CI before it breaks the documentation build.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*/plot_*.py"))
TIMEOUT = 120  # seconds per example; they take a few on an idle core


def test_examples_are_found():
    assert SCRIPTS, f"no examples/<topic>/plot_*.py under {EXAMPLES}"


@pytest.mark.parametrize(
    "script", SCRIPTS, ids=[f"{p.parent.name}/{p.name}" for p in SCRIPTS]
)
def test_example_runs(script):
    env = dict(
        os.environ,
        SKAL_EXAMPLES_FAST="1",
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONWARNINGS="ignore",
    )
    proc = subprocess.run(
        [sys.executable, script.name],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, (
        f"{script.relative_to(EXAMPLES.parent)} failed:\n"
        f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )


def test_examples_have_a_title_and_cells():
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        assert text.lstrip().startswith('"""'), f"{script.name}: no docstring title"
        assert "# %%" in text, f"{script.name}: no '# %%' cells"
        assert "SKAL_EXAMPLES_FAST" in text, f"{script.name}: no fast mode"
