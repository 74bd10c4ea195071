#!/usr/bin/env bash
# Both heads on Amazon Scientific (issues 14 and 15), end to end on the 2-core CPU: the data stage, the contrastive
# item space (30 epochs), SIDs sized to the catalogue, the alignment (the generative head: MovieLens 100K's settings, stage A
# 15 min + stage B 40 min), the generative dial on 20 validation users (guidance 0 / 2 / 4), the dense head with
# MovieLens 100K's settings (history pull, attribute coordinates; the reader's bonus validated by the dial), the dense dial
# on 20 validation users (guidance 0 / 2 / 4, then the attribute bonus at the kept guidance), SASRec (RecBole, capped at
# 30 epochs), then the test evaluation of every method on the same 300 seeded users (the dense head's, then the generative head's
# carrying the dense figures over). Run from the repository root after
# `make install` (about 4 hours, 1.5 of them the budget ablation: a second alignment, validation only). Each step rewrites
# runs/amazon-scientific. The committed run ran the steps one at a time in this order, except that the alignment, the generative
# dial and the evaluation re-ran later on the folder the other steps had written (the dense head does not read the alignment), and
# the budget ablation ran last, after the kept alignment's figures were committed; the dense head's ablation (`--ablation`, three
# more trainings) was not re-run with these settings.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.venv/bin; R=runs/amazon-scientific
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=${WANDB_MODE:-offline}
$B/talkwalk data --config configs/data-amazon-scientific.yaml --run $R
$B/talkwalk contrastive --config configs/ranking/amazon-scientific-contrastive.yaml --run $R
$B/talkwalk rqvae --config configs/ranking/amazon-scientific-rqvae.yaml --run $R
# the budget ablation (stage B's schedule doubled, validation only), then the kept config, which rewrites the alignment
$B/talkwalk align --config configs/ranking/amazon-scientific-alignment-b2000.yaml --run $R
$B/python -m json.tool $R/alignment/metrics.json > reports/alignment_amazon-scientific_b2000.json
$B/talkwalk align --config configs/ranking/amazon-scientific-alignment.yaml --run $R
# the generative dial: the popularity prior by unsteered NDCG@10 of 300 validation users, the guidance curve at it (20 users), then
# the reader's attribute bonus at the kept guidance (the decoding-time priors of MovieLens 100K; same weight lists)
$B/talkwalk dial --run $R --modes generative --users 20 --weights 0,2,4 --priors 0,0.25,0.5,1,2,4 --prior-users 300 \
  --bonus-modes generative --bonuses 0,1,2,4,8 --report reports/dial_amazon-scientific-generative
# then the history prior (each item's log-weight: the weight x its cosine to the user's history centroid) by the same 300 users'
# unsteered NDCG@10 at that popularity prior, and the guidance and bonus curves again at it (a dial run after the one above)
$B/talkwalk dial --run $R --modes generative --users 20 --weights 0,2,4 --history-priors 0,1,2,4,8,16 --prior-users 300 \
  --bonus-modes generative --bonuses 0,1,2,4,8 --report reports/dial_amazon-scientific-history
# the guidance and bonus curves once more at the kept priors, now that the taste ranks within what a read request asks for
# (talkwalk.engine.with_taste; the priors' unsteered curves do not change with it)
$B/talkwalk dial --run $R --modes generative --users 20 --weights 0,2,4 --bonus-modes generative --bonuses 0,1,2,4,8 \
  --report reports/dial_amazon-scientific-request-first
# the history prior's recency (its centroid weighs the item j steps before the last decay^j), by the centroid's own ranking of every
# validation user, then the history-prior weights again at that decay (300 validation users), at the kept guidance and bonus
$B/talkwalk dial --run $R --modes generative --users 20 --weights 0 --history-decays 1,0.8,0.7,0.6,0.5,0.4,0.3 \
  --history-priors 0,4,8,16,20 --prior-users 300 --bonus-modes '' --report reports/dial_amazon-scientific-recency
# the history prior beyond that grid's edge (20, then the weight's cap; now 50), at the kept recency, guidance and bonus
$B/talkwalk dial --run $R --modes generative --users 20 --weights 0 --history-priors 20,24,32,40,50 --prior-users 300 \
  --bonus-modes '' --report reports/dial_amazon-scientific-history-wide
$B/talkwalk dense --config configs/ranking/amazon-scientific-dense.yaml --run $R --report reports/dense_amazon-scientific
$B/talkwalk dial --run $R --modes dense --users 20 --weights 0,2,4 --bonuses 0,0.2,0.5,1 --report reports/dial_amazon-scientific
# the dense head's history pull at the recency its own item space validates (every validation user's centroid ranking), w and bonus kept
$B/talkwalk dial --run $R --modes dense --users 20 --weights 0 --history-decays 1,0.8,0.7,0.6,0.5,0.4,0.3 --bonus-modes '' \
  --report reports/dial_amazon-scientific-dense-recency
make sasrec DATA=$R/data OUT=$R/baselines/sasrec SASREC_ARGS="--epochs 30 --seed 2020 --topk 100 --threads 2"
make papermill PROFILE=amazon-dense NOTEBOOKS=nbs/05_eval.ipynb  # the baselines and the dense head
make papermill PROFILE=amazon NOTEBOOKS=nbs/05_eval.ipynb  # the baselines and the generative head, the dense head carried over
# A dense head retrained or re-dialled after that evaluation (as the committed dense figures were, on a machine whose run folder
# had lost the dense head: the dense head, its dial, then this; and again after its recency dial above) is evaluated again
# with the generative head carried over:
make papermill PROFILE=amazon-dense-carry NOTEBOOKS=nbs/05_eval.ipynb
# The committed generative figures: a fresh machine rebuilt the folder's data, contrastive, SID and alignment stages and SASRec
# with the commands above (the dense head was not retrained, so its figures are the committed ones): in that case first copy
# reports/results_amazon-scientific.json to $R/eval/results.json (carry reads it), then run the generative dial and this evaluation.
# the ranking page, with the budget ablation's validation beside this alignment's
$B/python scripts/ranking_report.py --run $R --out reports/ranking_amazon-scientific --align-config configs/ranking/amazon-scientific-alignment.yaml \
  --script scripts/amazon_benchmark.sh --compare 'stage B schedule 2,000 steps=reports/alignment_amazon-scientific_b2000.json'
# serving cost, each A/B alternated user by user in one process: the history prior on and off (at the engine's default of one
# numpy BLAS thread), and numpy's BLAS on one thread against two, for both heads
$B/python scripts/history_prior_latency_ab.py --run $R --users 40 --out reports/history_prior_latency_amazon-scientific
$B/python scripts/blas_threads_ab.py --run $R --users 40 --out reports/blas_threads_ab
