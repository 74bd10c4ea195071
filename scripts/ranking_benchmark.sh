#!/usr/bin/env bash
# The ranking benchmark of issue 14 on MovieLens 100K, end to end on the 2-core CPU (about 2 hours):
# stages 00-02 with codebooks sized to the catalogue, the alignment (about 70 minutes), SASRec on the same split,
# the dense head, the test evaluation on 300 seeded users (every method in one run), then reports/ranking_ml-100k.md.
# Run from the repository root after `make install`. Each step reuses nothing: it rewrites runs/ml-100k.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.venv/bin; R=runs/ml-100k
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=${WANDB_MODE:-offline}
$B/talkwalk data --dataset ml-100k --run $R
$B/talkwalk contrastive --config configs/ranking/ml-100k-contrastive.yaml --run $R
$B/talkwalk rqvae --config configs/ranking/ml-100k-rqvae.yaml --run $R
$B/python scripts/codebook_widths.py --run $R --widths 16,32,64,256
$B/talkwalk align --config configs/ranking/ml-100k-alignment.yaml --run $R
make sasrec DATA=$R/data OUT=$R/baselines/sasrec
$B/talkwalk dense --run $R --preset full
$B/python scripts/bench_train_step.py --run $R
TALKWALK_HEADLESS=1 $B/papermill nbs/05_eval.ipynb build/executed/full/05_eval.ipynb -k python3 --cwd nbs -f configs/papermill/full/05_eval.yaml --log-output --no-progress-bar
$B/python scripts/ranking_report.py --run $R
