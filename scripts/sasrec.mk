# RecBole 1.2.1 SASRec baseline, in its own venv: RecBole's pins (numpy<2, pandas<2.2, scipy<1.14, scikit-learn<1.6)
# clash with .venv. torch first (local CPU wheel), then the exact pins of scripts/recbole-requirements.txt with --no-deps.
# Included from the Makefile: `make sasrec [DATA=runs/<run>/data OUT=runs/<run>/baselines/sasrec]`.
RB_VENV := .venv-recbole
RB_PY := $(RB_VENV)/bin/python
RB_STAMP := $(RB_VENV)/.recbole-installed

.PHONY: sasrec-venv sasrec
sasrec-venv: $(RB_STAMP)

$(RB_STAMP): scripts/recbole-requirements.txt
	@test -x $(RB_PY) || $(PY_SYS) -m venv $(RB_VENV)
	$(RB_PY) -m pip install -q --upgrade "pip>=24" wheel "setuptools>=70"
	$(RB_PY) -m pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(RB_PY) -m pip install -q --no-deps -r scripts/recbole-requirements.txt
	@touch $(RB_STAMP)
	@echo "RecBole installed into $(RB_VENV)"

sasrec: DATA ?= runs/ml-100k/data
sasrec: OUT ?= runs/ml-100k/baselines/sasrec
sasrec: SASREC_ARGS ?= --epochs 200 --seed 2020 --topk 100 --threads 1
sasrec: $(RB_STAMP)
	$(RB_PY) scripts/sasrec_recbole.py --data $(DATA) --out $(OUT) $(SASREC_ARGS)
