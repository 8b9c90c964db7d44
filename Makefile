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

# libFuzzer + ASan/UBSan harnesses for the C++ tokenizers (needs clang: apt-get install clang).
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := wordpiece byte_bpe word_bpe moses
FUZZ_CXX ?= clang++
fuzz:
	@mkdir -p build/fuzz
	$(PYTHON) scripts/gen_unicode_tables.py build/fuzz/unicode_tables.h
	@for h in $(FUZZ_HARNESSES); do \
	  $(FUZZ_CXX) -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Icsrc -Ibuild/fuzz -Ifuzz fuzz/fuzz_$$h.cpp csrc/tokenizers/*.cpp csrc/common/parallel.cpp \
	    -o build/fuzz/fuzz_$$h -lpthread || exit 1; \
	done
	@for h in $(FUZZ_HARNESSES); do \
	  mkdir -p build/fuzz/corpus_$$h; \
	  echo "fuzzing $$h for $(FUZZ_SECONDS) s"; \
	  build/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -print_final_stats=1 \
	    build/fuzz/corpus_$$h > build/fuzz/$$h.log 2>&1; rc=$$?; \
	  if [ $$rc -ne 0 ]; then tail -n 60 build/fuzz/$$h.log; exit 1; fi; \
	  grep -E "stat::(number_of_executed_units|new_units_added)" build/fuzz/$$h.log; \
	done

clean:
	rm -rf build *.egg-info transformers_fast/*.so
