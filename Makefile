# Entry points for a fresh machine: `make demo` installs everything and runs the demo; `make test` runs the tests.
PYTHON ?= python3
# CI and a fresh machine get the small CPU-only torch; an existing torch is kept as it is.
TORCH_SPEC ?= torch==2.13.0+cpu
CONSTRAINTS := build/constraints.txt

.PHONY: install build demo test bench bench-gate bench-baseline fuzz clean cuda-report

install:
	@TORCH_SPEC="$(TORCH_SPEC)" scripts/install_torch.sh $(PYTHON)
	@mkdir -p build
	@# Pin the torch that is there, so that no test dependency swaps it for another build.
	$(PYTHON) scripts/torch_constraint.py > $(CONSTRAINTS)
	$(PYTHON) -m pip install -c $(CONSTRAINTS) pybind11 ninja "cmake>=3.18" setuptools wheel regex
	$(PYTHON) -m pip install -c $(CONSTRAINTS) --no-build-isolation -e ".[test]"

# Rebuilds the extension in place (for a worktree used with PYTHONPATH=$$PWD).
build:
	$(PYTHON) setup.py -q build_ext --inplace

demo: install
	$(PYTHON) -m transformers_fast.cli demo

test:
	@$(PYTHON) -c "import torch, transformers_fast._C" 2>/dev/null || { \
	  echo "transformers_fast is not installed here (or its C++ extension is not built): run 'make install' first"; \
	  exit 2; }
	$(PYTHON) -m pytest -q tests

# Every csrc/kernels/*_cuda.cu through nvcc for sm_80 and sm_90 with -Xptxas -v: registers, shared memory and
# spills per kernel in build/cuda_report.txt; a spill fails. Without nvcc it says so and succeeds.
CUDA_ARCHS ?= 80 90
cuda-report:
	$(PYTHON) scripts/cuda_report.py --arch $(CUDA_ARCHS) --out build/cuda_report.txt

bench:
	$(PYTHON) -m pytest benchmarks/ --benchmark-only -q -s

# The kernel speed gate (about a minute): each op's speed-up over torch, measured in this run, against
# benchmarks/baseline_ratios.json for this CPU's ISA; a speed-up more than 25 % below its baseline is measured once
# more and fails if it stays there. This run's speed-ups go to build/gate_ratios.json, which
# `python benchmarks/gate.py BASELINE CURRENT` compares with another such file (for a CI that keeps its own).
# `make bench-baseline` stores this machine's speed-ups as the new baseline.
GATE_SELECTION := benchmarks/test_bench_ops.py -k "not 1024" -p no:cacheprovider
bench-gate:
	$(PYTHON) -m pytest $(GATE_SELECTION) --benchmark-disable -q --gate

bench-baseline:
	$(PYTHON) -m pytest $(GATE_SELECTION) --benchmark-disable -q --gate-write

# libFuzzer + ASan/UBSan harnesses for the C++ tokenizers (needs clang: apt-get install clang).
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := wordpiece byte_bpe word_bpe moses batch_tensors
FUZZ_CXX ?= clang++
FUZZ_DIR := build/fuzz
FUZZ_FLAGS := -std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -Icsrc -I$(FUZZ_DIR) \
  -Ifuzz -MMD -MP
FUZZ_OBJECTS := $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(wildcard csrc/tokenizers/*.cpp) csrc/common/parallel.cpp \
  csrc/common/cpu_features.cpp)
# `make -j2 fuzz`: the tokenizers are compiled once (with the fuzzer's coverage instrumentation), each harness links
# them, and the harnesses run side by side, one per core.
fuzz: $(FUZZ_HARNESSES:%=fuzz-run-%)
.PRECIOUS: $(FUZZ_DIR)/fuzz_% $(FUZZ_DIR)/obj/%.o

fuzz-run-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/corpus_$*
	@echo "fuzzing $* for $(FUZZ_SECONDS) s"
	@$< -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -print_final_stats=1 $(FUZZ_DIR)/corpus_$* \
	  > $(FUZZ_DIR)/$*.log 2>&1 || { tail -n 60 $(FUZZ_DIR)/$*.log; exit 1; }
	@grep -E "stat::(number_of_executed_units|new_units_added)" $(FUZZ_DIR)/$*.log | sed 's/^/$*: /'

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.cpp $(FUZZ_OBJECTS)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ -lpthread

$(FUZZ_DIR)/obj/%.o: %.cpp $(FUZZ_DIR)/unicode_tables.h
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/unicode_tables.h: scripts/gen_unicode_tables.py
	@mkdir -p $(@D)
	$(PYTHON) scripts/gen_unicode_tables.py $@

clean:
	rm -rf build *.egg-info transformers_fast/*.so

# The CPU kernel fronts and one-call layers under ASan/UBSan (float-cast-overflow too, which GCC's
# -fsanitize=undefined leaves out): fuzz/kernel_check.cpp on random shapes with NaN/inf inputs, on every ISA
# of this CPU. Every kernel source is compiled once per ISA, as CMakeLists.txt does.
SAN_CXX ?= $(if $(shell command -v clang++ 2>/dev/null),clang++,g++)
SAN_DIR := build/sanitize-$(notdir $(SAN_CXX))
SAN_FLAGS := -std=c++17 -O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow \
  -fno-omit-frame-pointer -ffp-contract=off -Icsrc -MMD -MP
# -mavx512bf16 as CMakeLists.txt adds it (the bf16 kernels use it behind a run-time check; g++ >= 10, clang >= 9).
ISA_FLAGS_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c -mavx512bf16
ISA_FLAGS_avx2 := -mavx2 -mfma -mf16c
ISA_FLAGS_generic :=
# generic first: the linker keeps the first copy of shared inline code (CMakeLists.txt says why).
HOST_ISAS := $(if $(filter x86_64 amd64,$(shell uname -m)),generic avx2 avx512,generic)
SAN_FLAGS += $(if $(filter avx512,$(HOST_ISAS)),-DTF_HAVE_AVX512_BF16=1)
KERNEL_NAMES := $(basename $(notdir $(wildcard csrc/kernels/*_cpu.cpp)))
COMMON_NAMES := $(basename $(notdir $(wildcard csrc/common/*.cpp)))
TOKENIZER_NAMES := $(basename $(notdir $(wildcard csrc/tokenizers/*.cpp)))
KERNEL_CHECK_CASES ?= 300

# $(call kernel_rule,build dir,isa,compiler,flags): csrc/kernels/X.cpp -> dir/kernels/X.isa.o
define kernel_rule
$(1)/kernels/%.$(2).o: csrc/kernels/%.cpp
	@mkdir -p $$(@D)
	$(3) $(4) $$(ISA_FLAGS_$(2)) -DTF_ISA_NS=isa_$(2) -c $$< -o $$@
endef
$(foreach isa,$(HOST_ISAS),$(eval $(call kernel_rule,$(SAN_DIR),$(isa),$$(SAN_CXX),$$(SAN_FLAGS))))

$(SAN_DIR)/%.o: %.cpp
	@mkdir -p $(@D)
	$(SAN_CXX) $(SAN_FLAGS) -c $< -o $@

$(SAN_DIR)/kernel_check: $(SAN_DIR)/fuzz/kernel_check.o $(COMMON_NAMES:%=$(SAN_DIR)/csrc/common/%.o) \
    $(foreach isa,$(HOST_ISAS),$(KERNEL_NAMES:%=$(SAN_DIR)/kernels/%.$(isa).o))
	$(SAN_CXX) $(SAN_FLAGS) $^ -o $@ -lpthread

# Tests on x86-64 CPUs unlike this one, under qemu-user: a Haswell (AVX2, no AVX-512) and a Sandy Bridge (no AVX2).
.PHONY: sanitize-kernels cross-aarch64 cpu-kinds
cpu-kinds:
	$(PYTHON) scripts/check_cpu_kinds.py

sanitize-kernels: $(SAN_DIR)/kernel_check
	$(SAN_DIR)/kernel_check $(KERNEL_CHECK_CASES)

# aarch64 (Graviton, Apple silicon, ...): every csrc/ source except the Python bindings, cross-compiled with
# Debian's g++-aarch64-linux-gnu, only the portable kernels (as CMakeLists.txt builds there); the kernel
# self-test then runs under qemu-user where qemu-aarch64 is installed.
CROSS_CXX ?= aarch64-linux-gnu-g++
CROSS_DIR := build/cross-aarch64
CROSS_FLAGS := -std=c++17 -O2 -ffp-contract=off -Wall -Icsrc -I$(CROSS_DIR)/generated -MMD -MP
QEMU_AARCH64 ?= qemu-aarch64
$(eval $(call kernel_rule,$(CROSS_DIR),generic,$$(CROSS_CXX),$$(CROSS_FLAGS)))

$(CROSS_DIR)/generated/unicode_tables.h: scripts/gen_unicode_tables.py
	@mkdir -p $(@D)
	$(PYTHON) scripts/gen_unicode_tables.py $@

$(CROSS_DIR)/%.o: %.cpp $(CROSS_DIR)/generated/unicode_tables.h
	@mkdir -p $(@D)
	$(CROSS_CXX) $(CROSS_FLAGS) -c $< -o $@

$(CROSS_DIR)/kernel_check: $(CROSS_DIR)/fuzz/kernel_check.o $(COMMON_NAMES:%=$(CROSS_DIR)/csrc/common/%.o) \
    $(KERNEL_NAMES:%=$(CROSS_DIR)/kernels/%.generic.o) $(TOKENIZER_NAMES:%=$(CROSS_DIR)/csrc/tokenizers/%.o)
	$(CROSS_CXX) $(CROSS_FLAGS) $^ -o $@ -lpthread

cross-aarch64: $(CROSS_DIR)/kernel_check
	@readelf -h $< | grep -q AArch64 || { echo "$< is not an aarch64 binary"; exit 1; }
	@if command -v $(QEMU_AARCH64) >/dev/null; then \
	  $(QEMU_AARCH64) -L /usr/aarch64-linux-gnu $< 50; \
	else echo "$(QEMU_AARCH64) not found: built for aarch64, self-test not run"; fi

-include $(shell find $(SAN_DIR) $(CROSS_DIR) $(FUZZ_DIR) -name '*.d' 2>/dev/null)
