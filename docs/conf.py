"""Sphinx configuration of skal's documentation.

Offline by design: no intersphinx inventories are fetched, the gallery
examples use data shipped with scikit-learn or generated locally, and the
build runs with ``-W --keep-going`` so that any warning fails it.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))  # _gallery_order

# One torch thread per process: the gallery examples are tiny, and several
# threads contending for a few shared cores are many times slower than one.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
try:
    import torch

    torch.set_num_threads(int(os.environ.get("SKAL_DOCS_TORCH_THREADS", "1")))
except ImportError:  # pragma: no cover - torch is a dependency of skal
    pass

import skal  # noqa: E402

project = "skal"
author = "skal developers"
copyright = "2026, skal developers"
release = skal.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
    "user_guide/_benchmark_tables.rst",
]
root_doc = "index"
default_role = "py:obj"
nitpicky = False

# -- autodoc / autosummary / numpydoc -------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Render the doctest examples as code, as they run under pytest.
numpydoc_use_plots = False

# -- HTML ------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skal {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": []}
html_show_sourcelink = False

# -- sphinx-gallery ----------------------------------------------------------
# Examples read SKAL_EXAMPLES_FAST to shrink their budgets; the docs show the
# full version. Every examples/<topic>/plot_*.py is executed; other .py files
# (the Modal example) are rendered without running.
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "_gallery_order.ExampleOrder",
    "subsection_order": [
        f"../examples/{d}"
        for d in (
            "getting_started",
            "strategies",
            "pools",
            "model_selection",
            "benchmarks",
            "scale_out",
        )
    ]
    + ["*"],
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
    "show_memory": False,
    "min_reported_time": 0,
    "doc_module": ("skal",),
    "reference_url": {"skal": None},
    "backreferences_dir": "gen_modules/backreferences",
    "inspect_global_variables": False,
}

# Keep the matplotlib "non-interactive backend" note out of the build log.
warnings.filterwarnings("ignore", category=UserWarning, message=".*non-interactive.*")

# -- API coverage ------------------------------------------------------------
# Every public name (each public module's __all__) must appear in api.rst, so
# the reference never drifts from the code.
from skal.utils._public import PUBLIC_MODULES  # noqa: E402


def _public_names():
    names = {}
    for mod_name in PUBLIC_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        for name in getattr(mod, "__all__", []):
            if name.startswith("__"):
                continue
            names[f"{mod_name}.{name}"] = (mod_name, name)
    return names


def _check_api_coverage(app):
    from sphinx.util import logging

    logger = logging.getLogger("skal.docs")
    text = (HERE / "api.rst").read_text(encoding="utf-8")
    documented = set()
    current = None
    for line in text.splitlines():
        m = re.match(r"\s*\.\. currentmodule:: (\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^\s{3,}~?([A-Za-z_][\w.]*)\s*$", line)
        if m and current:
            documented.add(f"{current}.{m.group(1)}")
    missing = sorted(set(_public_names()) - documented)
    if missing:
        logger.warning(
            "api.rst misses public names (add them to an autosummary): %s",
            ", ".join(missing),
        )


# -- benchmark tables ----------------------------------------------------------
# choosing.rst includes tables computed from the committed benchmark records
# (benchmarks/results/label_efficiency/*.csv); without records it says so.
BENCH_DIR = ROOT / "benchmarks" / "results" / "label_efficiency"
_BENCH_COLUMNS = {"strategy", "seed", "n_labels", "accuracy"}


def _read_csv(path):
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not _BENCH_COLUMNS <= set(rows[0]):
        return None
    for row in rows:
        row["seed"] = int(float(row["seed"]))
        row["n_labels"] = int(float(row["n_labels"]))
        row["accuracy"] = float(row["accuracy"])
    return rows


def _benchmark_tables():
    out = []
    csvs = sorted(BENCH_DIR.glob("*.csv")) if BENCH_DIR.is_dir() else []
    for path in csvs:
        try:
            records = _read_csv(path)
        except (OSError, ValueError, KeyError):
            records = None
        if not records or not any(r["strategy"] == "random" for r in records):
            continue
        from skal.evaluation import paired_differences

        seeds = len({r["seed"] for r in records})
        budgets = sorted({r["n_labels"] for r in records})
        # Geometric budgets (20, 40, 80, ...): integrate over log(labels), as
        # the benchmark does; evenly spaced ones: over labels.
        ratios = [b / a for a, b in zip(budgets, budgets[1:])]
        geometric = len(ratios) > 1 and max(ratios) - min(ratios) < 0.1 * min(ratios)
        scale = "log" if geometric else "linear"
        table = paired_differences(
            records, metric="aulc", scale=scale, ci="t", random_state=0
        )
        table.sort(key=lambda row: -row["mean"])
        title = f"{path.relative_to(BENCH_DIR).with_suffix('')}"
        out += [
            title,
            "-" * len(title),
            "",
            f"{seeds} seeds, budgets {budgets[0]} to {budgets[-1]} labels; AULC "
            f"over {'log(labels)' if geometric else 'labels'}.",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "",
            "   * - strategy",
            "     - AULC − random",
            "     - 95 % CI (paired t)",
            "     - ",
        ]
        for row in table:
            out += [
                f"   * - {row['strategy']}",
                f"     - {row['mean']:+.4f}",
                f"     - [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]",
                f"     - {row.get('significant', '')}",
            ]
        out.append("")
    pngs = sorted(BENCH_DIR.glob("*.png")) if BENCH_DIR.is_dir() else []
    for png in pngs:
        rel = os.path.relpath(png, HERE / "user_guide")
        out += [f".. image:: {rel}", f"   :alt: {png.stem}", "   :width: 90%", ""]
    if not out:
        out = [
            ".. note::",
            "",
            "   No benchmark records were found in",
            "   ``benchmarks/results/label_efficiency/`` when these pages were",
            "   built. Run ``benchmarks/bench_label_efficiency.py`` to produce them.",
            "",
        ]
    target = HERE / "user_guide" / "_benchmark_tables.rst"
    text = "\n".join(out) + "\n"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


_benchmark_tables()


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's generated metadata-routing methods (set_fit_request, ...)
    # belong to scikit-learn's documentation, not skal's.
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _check_api_coverage)
    app.connect("autodoc-skip-member", _skip_member)
