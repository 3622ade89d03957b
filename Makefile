# jointnas: `make demo` runs the MNIST-1D demo, `make test` runs the test suite.
# The virtual environment is created once in .venv and reused; it is refreshed
# when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint test-slow chaos bench bench-joint bench-systems bench-gpu venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Coarse search on MNIST-1D (resumes runs/demo if it exists), then fine search under two
# FLOPs budgets, training the top two pairs and the default pair with 3 seeds for comparison,
# then the report (runs/demo/report.md and its plots).
demo: $(STAMP)
	$(VENV)/bin/search coarse --config configs/demo.yaml
	$(VENV)/bin/search fine --run runs/demo --budgets 3e5,6.22e5 --risk 1 --verify 2 --verify-seeds 3 --compare-default
	$(VENV)/bin/search report --run runs/demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "not slow" tests

# ruff (lint and format) and the layer contracts of pyproject.toml (import-linter).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# Exit status 5 means no test is marked slow: nothing to run is not a failure.
test-slow: $(STAMP)
	$(PY) -m pytest -q -n 2 -m slow tests || [ $$? -eq 5 ]

# Coarse runs on SQLite, the journal file and PostgreSQL while their coordinator and 4
# workers are killed at random (CHAOS_RUNS rounds per storage, default 20; ~1 min a round).
chaos: $(STAMP)
	CHAOS_RUNS=$${CHAOS_RUNS:-20} $(PY) -m pytest -q -s -m slow tests/test_chaos.py

# Each benchmark prints its tables; `bench` covers the FBNetV3 pipeline, `bench-systems`
# the supernet, REINFORCE/ENAS and EdgeNES studies (tens of minutes each on 2 cores).
BENCHES := bench_cost bench_train bench_zero_cost bench_predictor bench_search bench_fine bench_workers
SYSTEM_BENCHES := bench_supernet bench_reinforce bench_ensemble

bench: $(STAMP)
	set -e; for b in $(BENCHES); do echo "== $$b"; $(PY) benchmarks/$$b.py; done

# Joint vs architecture-only vs recipe-only search with real MNIST-1D training (hours on
# 2 CPU cores; every training run is cached, so a stopped run resumes).
bench-joint: $(STAMP)
	$(PY) benchmarks/bench_joint.py

bench-systems: $(STAMP)
	set -e; for b in $(SYSTEM_BENCHES); do echo "== $$b"; $(PY) benchmarks/$$b.py; done

# The CUDA + AMP trainer and the predictor on every device present (CPU rows only without a GPU).
bench-gpu: $(STAMP)
	$(PY) benchmarks/bench_gpu.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
