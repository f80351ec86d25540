# Two commands set everything up on a fresh Debian machine (as root): `make demo` and `make test`.
# Both depend on `install`, which is idempotent: a second run reinstalls nothing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tfmusic-installed
DEMO_OUT ?= demo_output
PYTEST_ARGS ?=
# pytest-xdist workers for make test / test-fast (whole test files per worker: a file's fixtures are built once)
TEST_WORKERS ?= 2

.PHONY: install system-deps zoo-deps test-deps lint demo test test-fast bench clean zoo zoo-pitch-classifier zoo-melody-rnn zoo-transformer zoo-jsb zoo-harmonizer zoo-gansynth

install: $(STAMP)

# csound-soundfont (4 MB) is a second General MIDI SoundFont for the multi-SoundFont tests.
SYSTEM_PKGS := libfluidsynth3 csound-soundfont
# Only `make test` needs chromium (headless): it loads the HTML reports the tests write and checks them
# (tests/browser.py); `make demo` does not install it.
TEST_PKGS := chromium
# The zoo's training (bench/zoo/*.py) also renders from the large SoundFonts (~200 MB); demo and test do not.
ZOO_PKGS := fluid-soundfont-gm musescore-general-soundfont csound-soundfont

system-deps:
	@missing=""; for p in $(SYSTEM_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

zoo-deps: install
	@missing=""; for p in $(ZOO_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

$(STAMP): setup.py requirements.txt constraints.txt | system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24" "setuptools>=70" wheel
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: install
	MPLBACKEND=Agg $(PY) demo/run_demo.py --out $(DEMO_OUT)

test-deps: install
	@missing=""; for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# ruff (settings in pyproject.toml): lint and formatting, checked before the tests
lint: install
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

test: test-deps lint
	MPLBACKEND=Agg $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=30 tests $(PYTEST_ARGS)

# the quick loop: everything not marked slow
test-fast: test-deps
	MPLBACKEND=Agg $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow" tests $(PYTEST_ARGS)

bench: install
	MPLBACKEND=Agg $(PY) bench/run_all.py --out bench/results

# The zoo (models/): each target retrains one model with the command its card gives, resuming its run folder
# (ZOO_WORK, outside the repo) and writing models/<name>/. Hours on a CPU; never part of `make test`.
ZOO_WORK ?= /tmp/zoo
zoo: zoo-pitch-classifier zoo-melody-rnn zoo-transformer zoo-jsb zoo-harmonizer zoo-gansynth

zoo-pitch-classifier: zoo-deps
	MPLBACKEND=Agg $(PY) bench/zoo/pitch_classifier.py --work $(ZOO_WORK)/pitch_classifier --out models/pitch_classifier \
	  --steps 8000 --batch 32 --musescore_fraction 0.2

zoo-melody-rnn: install
	MPLBACKEND=Agg $(PY) bench/zoo/melody_rnn.py --work $(ZOO_WORK)/melody_rnn --stage all --steps 20000 \
	  --set model.hparams.batch_size=64 --set trainer.global_batch_size=64

zoo-transformer: install
	MPLBACKEND=Agg $(PY) bench/zoo/music_transformer.py --work $(ZOO_WORK)/music_transformer --stage all --steps 6000

# the JSB Chorales note-wise Transformer (the paper's Table 2 task), trained for a time budget
zoo-jsb: install
	MPLBACKEND=Agg $(PY) bench/zoo/jsb.py --work $(ZOO_WORK)/jsb --stage all --max_minutes 75

# the melody-conditioned Transformer that tfmusic_study's accompaniment uses
zoo-harmonizer: install
	MPLBACKEND=Agg $(PY) bench/zoo/transformer_harmonizer.py --work $(ZOO_WORK)/transformer_harmonizer --stage all --steps 3000

# GANSynth trains on the pitch classifier's renders, and is scored by the shipped pitch classifier
zoo-gansynth: zoo-deps
	MPLBACKEND=Agg $(PY) bench/zoo/gansynth.py --work $(ZOO_WORK)/gansynth --renders $(ZOO_WORK)/pitch_classifier/data \
	  --stage all --steps 20500 --balance_from 0 --set data.balance_pitches=true

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build *.egg-info
