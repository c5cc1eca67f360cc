"""Every public name is documented: in the API reference, with a doctest.

The docstring examples themselves run under ``pytest --doctest-modules``
(pyproject.toml); these tests make sure they exist and that
``docs/api.rst`` lists every name of every public module's ``__all__``.
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest

API_RST = Path(__file__).resolve().parent.parent / "docs" / "api.rst"
from skal.utils._public import PUBLIC_MODULES  # noqa: E402


def _public_names():
    for mod_name in PUBLIC_MODULES:
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, "__all__", []):
            if not name.startswith("__"):
                yield mod_name, name, getattr(mod, name)


PUBLIC = list(_public_names())


@pytest.mark.parametrize(
    "mod_name, name, obj", PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC]
)
def test_public_name_has_a_doctest(mod_name, name, obj):
    doc = inspect.getdoc(obj) or ""
    assert ">>>" in doc, (
        f"{mod_name}.{name} has no doctest: add a short 'Examples' section "
        "to its numpydoc docstring."
    )


def test_api_reference_lists_every_public_name():
    documented, current = set(), None
    for line in API_RST.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*\.\. currentmodule:: (\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^\s{3,}~?([A-Za-z_][\w.]*)\s*$", line)
        if m and current:
            documented.add(f"{current}.{m.group(1)}")
    missing = sorted({f"{m}.{n}" for m, n, _ in PUBLIC} - documented)
    assert not missing, f"docs/api.rst misses: {missing}"
