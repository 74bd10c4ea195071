"""Per-user top-10 lists of every method on a run folder (baselines, generative A and B, dense), for a seeded sample of test users, unsteered and steered.

Run it at two commits on the same run folder, then `python scripts/compare_top10.py A.json B.json`: a change that keeps behaviour keeps the lists."""
import argparse, json, sys
from pathlib import Path

REQUESTS = ['recommend something', 'now something funny from the 80s', 'no horror please']

def lists(run, n, seed):
    try:  # the re-layered package
        from talkwalk.eval_data import load_eval_data, sample_users, EvalConfig
        from talkwalk.eval_methods import make_baselines, EngineMethod, rank_for
        from talkwalk.recommender import load_recommender
    except ImportError:  # the package before the re-layering (commit 7846ab7)
        from talkwalk.eval import load_eval_data, sample_users, EvalConfig, make_baselines, EngineMethod, rank_for
        from talkwalk.engine import Recommender
        load_recommender = lambda run, **kw: Recommender.load(run, **kw)
    ed = load_eval_data(run); cfg = EvalConfig(progress=False)
    users = sample_users(ed, n, seed); methods, _ = make_baselines(ed, cfg)
    for mode, stage in (('generative', 'a'), ('generative', 'b'), ('dense', None)):
        rec = load_recommender(run, mode=mode, stage=stage or 'b', device='cpu', threads=2)
        methods.append(EngineMethod(f'talkwalk-{stage or mode}', rec, ed.cands.pos, True, 10))
    out = {}
    for m in methods:
        m.prepare(REQUESTS)
        for u in users:
            for q in REQUESTS: out[f'{m.name}|{u}|{q}'] = rank_for(m, ed.cases[u], q, ed.cands, 10)[0][:10]
    return out

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--run', required=True); p.add_argument('--out', required=True)
    p.add_argument('--users', type=int, default=50); p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    Path(a.out).write_text(json.dumps(lists(a.run, a.users, a.seed), indent=0))
    print(f'wrote {a.out}')
