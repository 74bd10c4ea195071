"""Re-score a run's aligned models on the validation split with the current protocol (each user's training items excluded, as the
test protocol excludes everything before the target; 100 seeded users, as `run_alignment_stage` scores). For runs whose own
validation predates that protocol.

    python scripts/revalidate.py --run runs/ml-100k --stages a,b --out reports/revalidation_ml-100k.json
"""
import argparse, json
from talkwalk.alignment import evaluate_generative, load_sids
from talkwalk.catalog import load_data_artifacts
from talkwalk.llm import load_aligned
from talkwalk.engine import trained_style
from talkwalk.run import RunDir
from talkwalk.sids import TokenTrie
from talkwalk.utils import machine_info, write_json_atomic

def main(a):
    ds, split = load_data_artifacts(f'{a.run}/data'); sids, levels = load_sids(a.run)
    style = trained_style(RunDir.of(a.run), split)
    out = {'run': a.run, 'users': a.users, 'seed': a.seed, 'machine': machine_info(), 'stages': {}}
    for stage in a.stages.split(','):
        model, tok = load_aligned(a.run, stage)
        out['stages'][stage] = evaluate_generative(model, tok, ds, split.valid, sids, TokenTrie(sids, tok), style, a.users, seed=a.seed, levels=levels,
                                                   progress=False, seen=split.train_sequences())
        print(stage, out['stages'][stage], flush=True)
    write_json_atomic(a.out, out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--run', required=True); ap.add_argument('--stages', default='a,b'); ap.add_argument('--users', type=int, default=100)
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--out', required=True)
    main(ap.parse_args())
