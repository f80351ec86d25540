# Two commands set everything up on a fresh Debian machine (as root): `make demo` and `make test`.
# Both depend on `install`, which is idempotent: a second run reinstalls nothing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tfmusic-installed
DEMO_OUT ?= demo_output
PYTEST_ARGS ?=

.PHONY: install system-deps demo test bench clean

install: $(STAMP)

system-deps:
	@if ! dpkg -s libfluidsynth3 >/dev/null 2>&1; then \
	  echo "installing Debian's libfluidsynth3"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libfluidsynth3; \
	fi

$(STAMP): setup.py requirements.txt constraints.txt | system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24" "setuptools>=70" wheel
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: install
	MPLBACKEND=Agg $(PY) demo/run_demo.py --out $(DEMO_OUT)

test: install
	MPLBACKEND=Agg $(PY) -m pytest -q tests $(PYTEST_ARGS)

bench: install
	MPLBACKEND=Agg $(PY) bench/run_all.py --out bench/results

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build *.egg-info
