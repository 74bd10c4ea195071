"""Validation probe (never the test split): would the dense head rank better as a correction to the history's position
in its item space? Loads a trained dense head and its cached LLM features, and ranks the validation users' held-out item
from `unit(head(x)) + alpha * unit(history centroid)` (and from the last history item), for several alphas, against the
head alone (alpha 0) and the history alone. Inference only: the head is not retrained with the residual.

    .venv/bin/python scripts/history_probe.py runs/amazon-scientific --report reports/history_probe_amazon-scientific
"""
import argparse, time
from pathlib import Path

import torch

from talkwalk.dense import DenseConfig, dense_inputs, hit_ndcg, topk_excluding
from talkwalk.encoders import history_centroids, load_head
from talkwalk.run import RunDir
from talkwalk.utils import machine_info, write_json_atomic


def history_queries(E:torch.Tensor, seen:list) -> dict:
    "Per validation row, unit vectors of the training history's centroid and of its last item in the item space."
    last = torch.stack([E[int(s[-1])] if len(s) else torch.zeros(E.shape[1]) for s in seen])
    return {'centroid': history_centroids([E[torch.as_tensor(s, dtype=torch.long)] for s in seen], E.shape[1]),
            'last item': torch.nn.functional.normalize(last, dim=-1)}


def probe(run:Path, alphas:list) -> dict:
    "Validation Hit@10 / NDCG@10 of the head, the history alone, and their sums, for the run's trained dense head."
    cfg = DenseConfig(**RunDir(run).saved_config('dense'))
    inp = dense_inputs(run, cfg, progress=False, log=lambda *a: None)
    head, ex = load_head(run/'dense'), inp['ex']
    E, X = torch.as_tensor(inp['E'], dtype=torch.float32), torch.as_tensor(inp['X'], dtype=torch.float32)
    target = torch.as_tensor(ex.val[:, 1])
    with torch.no_grad(): z = head(X[ex.val[:, 0]])
    rows = {}
    for name, h in history_queries(E, ex.val_seen).items():
        rows[f'{name} alone'] = hit_ndcg(topk_excluding(h, E, 10, ex.val_seen), target)
        for a in alphas: rows[f'head + {a:g} x {name}'] = hit_ndcg(topk_excluding(z + a * h, E, 10, ex.val_seen), target)
    rows['head alone'] = hit_ndcg(topk_excluding(z, E, 10, ex.val_seen), target)
    P = torch.as_tensor(inp['P'], dtype=torch.float32)  # log(1 + training interactions): ranks as popularity does
    rows['popularity (for scale)'] = hit_ndcg(topk_excluding(torch.zeros_like(z), E, 10, ex.val_seen, P.expand(len(z), -1).clone()), target)
    return {'run': str(run), 'users': len(target), 'item_space': inp['space'], 'training_users': cfg.users,
            'rows': {k: {'val_hit@10': h, 'val_ndcg@10': n} for k, (h, n) in rows.items()}}


def write_report(m:dict, stem:Path, command:str):
    "`<stem>.json` and `<stem>.md`."
    write_json_atomic(stem.with_suffix('.json'), m)
    lines = [f"# Dense head: a residual query on the history (validation probe, {m['run']})", '',
             f"Command: `{command}`; {m['users']} validation users (the test split is never used); item space {m['item_space']}; "
             f"the head as trained ({m['training_users']} training users), not retrained with the residual; {m['machine']}; wall time {m['wall_s']:.0f} s.", '',
             'Query `unit(head(x)) + alpha x unit(h)`, h the training history\'s centroid or last item in the head\'s item space; the user\'s training items excluded.', '',
             '| query | val Hit@10 | val NDCG@10 |', '|---|---|---|']
    lines += [f"| {k} | {v['val_hit@10']:.4f} | {v['val_ndcg@10']:.4f} |" for k, v in m['rows'].items()]
    Path(stem.with_suffix('.md')).write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('run', type=Path, help='a run folder with a trained dense head (runs/<dataset>)')
    ap.add_argument('--alphas', default='0.5,1,2', help='residual weights, comma separated')
    ap.add_argument('--report', type=Path, required=True, help='output stem, e.g. reports/history_probe_amazon-scientific')
    a = ap.parse_args()
    if not (a.run/'dense'/'config.yaml').exists(): ap.error(f'{a.run}/dense/config.yaml is missing: train the head first (talkwalk dense --run {a.run})')
    t0 = time.time(); m = probe(a.run, [float(x) for x in a.alphas.split(',')])
    m.update(machine=machine_info(), wall_s=time.time() - t0)
    write_report(m, a.report, f'.venv/bin/python scripts/history_probe.py {a.run} --alphas {a.alphas} --report {a.report}')
    print(a.report.with_suffix('.md').read_text())
