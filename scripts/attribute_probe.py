"""Validation probe (never the test split): does the dense head steer better when its item space carries each item's
requestable attributes (`DenseConfig.attribute_weight`)? Retrains the run's head, at its saved config, once per weight
from the cached LLM features, and reports validation ranking and steering, the steering split by attribute kind
(genres, decades, categories: "from the 80s" is a decade request).

    .venv/bin/python scripts/attribute_probe.py runs/ml-100k-collab --weights 0,0.5,1,2 --report reports/attribute_probe_ml-100k-collab
"""
import argparse, dataclasses, time
from pathlib import Path

import numpy as np
import torch

from talkwalk.dense import DenseConfig, dense_inputs, item_space_inputs, item_space_name, train_head, validate
from talkwalk.run import RunDir
from talkwalk.utils import machine_info, write_json_atomic


def figures(head, inp:dict, E:np.ndarray, cfg:DenseConfig) -> dict:
    "Validation figures of `head` ranked as the engine ranks (with the config's history pull), overall and per attribute kind."
    X, Et, M, ex = (torch.as_tensor(inp['X'], dtype=torch.float32), torch.as_tensor(E, dtype=torch.float32),
                    torch.as_tensor(inp['M']).bool(), inp['ex'])
    at = lambda e: validate(head, X, e, Et, M, history_weight=cfg.history_weight, steer_after_history=cfg.steer_after_history)
    out, kinds = at(ex), np.array(ex.attr_kind)
    for kind in sorted(set(ex.attr_kind)):
        idx = np.flatnonzero(kinds[ex.val_steer[:, 2]] == kind)  # validation users asked for this kind (one request each, as `val_seen`)
        if len(idx): out[f'steer_share ({kind})'] = at(dataclasses.replace(ex, val=ex.val[idx], val_seen=[ex.val_seen[i] for i in idx], val_steer=ex.val_steer[idx]))['steer_share']
    return out


def probe(run:Path, weights:list, history_weight:float|None=None, progress:bool=True) -> dict:
    "Train the run's dense head at each attribute weight (everything else as saved, or the history pull at `history_weight`) and validate it."
    cfg = DenseConfig(**RunDir(run).saved_config('dense'))
    if history_weight is not None: cfg = dataclasses.replace(cfg, history_weight=history_weight)
    inp = dense_inputs(run, cfg, progress=progress, log=lambda *a: None)
    rows = {}
    for w in weights:
        c = dataclasses.replace(cfg, attribute_weight=w); E, D, C = item_space_inputs(inp, c); t0 = time.time()
        head, _ = train_head(inp['X'], inp['ex'], E, inp['T'], D, C, inp['M'], inp['P'], c, None, progress)
        rows[f'{w:g}'] = {**figures(head, inp, E, c), 'item_space': item_space_name(c), 'train_s': round(time.time() - t0, 1)}
    return {'run': str(run), 'users': len(inp['ex'].val), 'steer_cases': len(inp['ex'].val_steer), 'config': dataclasses.asdict(cfg), 'rows': rows}


def write_report(m:dict, stem:Path, command:str):
    "`<stem>.json` and `<stem>.md`."
    write_json_atomic(stem.with_suffix('.json'), m)
    kinds = sorted({k for r in m['rows'].values() for k in r if k.startswith('steer_share (')})
    lines = [f"# Dense head: attribute coordinates in the item space (validation probe, {m['run']})", '',
             f"Command: `{command}`; {m['users']} validation users, {m['steer_cases']} held-out steering requests (the test split is never used); "
             f"the run's saved dense config with only `attribute_weight` changed (history pull {m['config']['history_weight']:g}, "
             f"{m['config']['users']} training users, {m['config']['epochs']} epochs, seed {m['config']['seed']}); {m['machine']}; wall time {m['wall_s']:.0f} s.", '',
             'Steer share: the share of the top 10 carrying a requested attribute the user\'s history lacks, by kind after the overall figure.', '',
             '| attribute_weight | val Hit@10 | val NDCG@10 | steer share | ' + ' | '.join(k[len('steer_share ('):-1] + 's' for k in kinds) + ' | steering precision | train s |',
             '|---' * (6 + len(kinds)) + '|']
    lines += [f"| {w} | {r['val_hit@10']:.4f} | {r['val_ndcg@10']:.4f} | {r['steer_share']:.3f} | " + ' | '.join(f"{r.get(k, float('nan')):.3f}" for k in kinds)
              + f" | {r['steer_precision']:.3f} | {r['train_s']:.0f} |" for w, r in m['rows'].items()]
    Path(stem.with_suffix('.md')).write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('run', type=Path, help='a run folder with a trained dense head and its feature cache (runs/<dataset>)')
    ap.add_argument('--weights', default='0,0.5,1,2', help='attribute weights, comma separated')
    ap.add_argument('--history-weight', type=float, default=None, help="the query's history pull (default: the run's saved one)")
    ap.add_argument('--report', type=Path, required=True, help='output stem, e.g. reports/attribute_probe_ml-100k-collab')
    a = ap.parse_args()
    if not (a.run/'dense'/'config.yaml').exists(): ap.error(f'{a.run}/dense/config.yaml is missing: train the head first (talkwalk dense --run {a.run})')
    t0 = time.time(); m = probe(a.run, [float(x) for x in a.weights.split(',')], a.history_weight)
    m.update(machine=machine_info(), wall_s=time.time() - t0)
    write_report(m, a.report, f'.venv/bin/python scripts/attribute_probe.py {a.run} --weights {a.weights}' + (f' --history-weight {a.history_weight:g}' if a.history_weight is not None else '') + f' --report {a.report}')
    print(a.report.with_suffix('.md').read_text())
