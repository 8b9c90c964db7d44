# Entry points for a fresh machine: `make demo` installs everything and runs the demo; `make test` runs the tests.
PYTHON ?= python3
# CI and a fresh machine get the small CPU-only torch; an existing torch is kept as it is.
TORCH_SPEC ?= torch==2.13.0+cpu
CONSTRAINTS := build/constraints.txt

.PHONY: install build demo test bench fuzz clean

install:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install "$(TORCH_SPEC)"
	@mkdir -p build
	@# Pin the torch that is there, so that no test dependency swaps it for another build.
	$(PYTHON) -c "import torch; print('torch==' + torch.__version__)" > $(CONSTRAINTS)
	$(PYTHON) -m pip install -c $(CONSTRAINTS) pybind11 ninja "cmake>=3.18" setuptools wheel regex
	$(PYTHON) -m pip install -c $(CONSTRAINTS) --no-build-isolation -e ".[test]"

# Rebuilds the extension in place (for a worktree used with PYTHONPATH=$$PWD).
build:
	$(PYTHON) setup.py -q build_ext --inplace

demo: install
	$(PYTHON) -m transformers_fast.cli demo

test:
	$(PYTHON) -m pytest -q tests

bench:
	$(PYTHON) -m pytest benchmarks/ --benchmark-only -q -s

clean:
	rm -rf build *.egg-info transformers_fast/*.so
