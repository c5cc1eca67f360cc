# All set-up happens here: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
# A CPU build of torch first, so that nothing pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lint docs bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev,modal,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m skal.demo --out demo_output

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) lint
	$(VENV)/bin/python -m pytest -n 2 -q

docs: $(STAMP)
	$(MAKE) -C docs html SPHINXBUILD=../$(VENV)/bin/sphinx-build

bench: $(STAMP)
	$(PY) benchmarks/bench_query_speed.py --quick

clean:
	rm -rf $(VENV) demo_output docs/_build docs/auto_examples
