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
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
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
    "within_subsection_order": "FileNameSortKey",
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
PUBLIC_MODULES = [
    "skal",
    "skal.base",
    "skal.strategies",
    "skal.models",
    "skal.metrics",
    "skal.datasets",
    "skal.evaluation",
    "skal.backends",
    "skal.utils.estimator_checks",
]


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


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's generated metadata-routing methods (set_fit_request, ...)
    # belong to scikit-learn's documentation, not skal's.
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _check_api_coverage)
    app.connect("autodoc-skip-member", _skip_member)
