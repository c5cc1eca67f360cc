"""Every public name is documented: in the API reference, with a doctest.

The docstring examples themselves run under ``pytest --doctest-modules``
(pyproject.toml); these tests make sure they exist and that
``docs/api.rst`` lists every name of every public module's ``__all__``; every
python code block of README.md and the docs runs as written, alone.
"""

import importlib
import inspect
import re
import sys
import textwrap
import types
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


# ------------------------------------------------ snippets of README and docs
ROOT = API_RST.parent.parent
SNIPPET_FILES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.rst")),
    *sorted((ROOT / "docs" / "user_guide").glob("*.rst")),
]
_FENCE = re.compile(r"^```(\w*)\s*$")
_RST_BLOCK = re.compile(r"^(\s*)\.\. code-block::\s*(\w+)\s*$")


def _code_blocks(path):
    """``(language, first line, code)`` of every code block of a .md/.rst file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i]) if path.suffix == ".md" else None
        if m:
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            blocks.append((m.group(1), i + 2, "\n".join(lines[i + 1 : j])))
            i = j + 1
            continue
        m = _RST_BLOCK.match(lines[i]) if path.suffix == ".rst" else None
        if m:
            indent, j, body = len(m.group(1)), i + 1, []
            while j < len(lines) and (
                not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent
            ):
                body.append(lines[j])
                j += 1
            blocks.append((m.group(2), i + 2, textwrap.dedent("\n".join(body))))
            i = j
            continue
        i += 1
    return blocks


SNIPPETS = [
    (path, lang, line, code)
    for path in SNIPPET_FILES
    for lang, line, code in _code_blocks(path)
]
PY_SNIPPETS = [s for s in SNIPPETS if s[1] == "python"]


def test_snippets_are_found():
    names = {p.name for p, *_ in PY_SNIPPETS}
    assert {"README.md", "index.rst", "concepts.rst", "contract.rst"} <= names


@pytest.mark.parametrize(
    "path, lang, line, code",
    PY_SNIPPETS,
    ids=[f"{p.name}:{line}" for p, _, line, _ in PY_SNIPPETS],
)
def test_snippet_runs_as_written(path, lang, line, code, monkeypatch, tmp_path):
    """Each python block runs alone, in a fresh namespace: nothing undefined.

    A block that opens a Modal session runs with a local stand-in for
    ``ModalExecutor`` (no credentials, no network), so its names and calls are
    still checked.
    """
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    if "ModalExecutor" in code:
        import skal.backends
        from skal.backends import LocalExecutor

        class ModalExecutor(LocalExecutor):
            def __init__(self, **params):
                super().__init__()

        monkeypatch.setattr(skal.backends, "ModalExecutor", ModalExecutor)
    # a module of its own, like a user's script: its classes pickle
    module = types.ModuleType("__snippet__")
    monkeypatch.setitem(sys.modules, "__snippet__", module)
    exec(compile(code, f"{path.name}:{line}", "exec"), module.__dict__)


def test_install_lines_name_the_distribution():
    """``pip install`` lines name the package index's skal-learn, not 'skal'.

    The name ``skal`` on the index belongs to an unrelated project.
    """
    import tomllib

    dist = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert dist == "skal-learn"
    files = [*SNIPPET_FILES, *(ROOT / "skal").rglob("*.py")]
    files += list((ROOT / "examples").rglob("*.py"))
    wrong = []
    for f in files:
        for n, text in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            for m in re.finditer(r"pip install\s+[\"'`]*([\w.-]+)", text):
                if m.group(1) not in ("-e", "-q", "-U", "--upgrade", dist):
                    wrong.append(f"{f.relative_to(ROOT)}:{n}: {text.strip()}")
    assert not wrong, "install lines naming another distribution:\n" + "\n".join(wrong)
