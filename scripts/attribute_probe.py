"""Validation probe (never the test split): does the dense head steer better when its item space carries each item's
requestable attributes (`DenseConfig.attribute_weight`), in one block or one block per kind (`attribute_per_kind`)?
Retrains the run's head, at its saved config, once per weight and layout from the cached LLM features, and reports
validation ranking and steering, the steering split by attribute kind (genres, decades, categories: "from the 80s" is a
decade request), unguided and at each steering dial (`--guidance`, applied as the engine applies it).

    .venv/bin/python scripts/attribute_probe.py runs/ml-100k-collab --weights 0,0.5,1,2 --report reports/attribute_probe_ml-100k-collab
"""
import argparse, dataclasses, time
from pathlib import Path

import numpy as np
import torch

from talkwalk.dense import DenseConfig, dense_inputs, item_space_name, train_in_space, validate
from talkwalk.run import RunDir
from talkwalk.utils import machine_info, write_json_atomic


def figures(head, inp:dict, E:np.ndarray, cfg:DenseConfig,
            guidance:float=0.0, # the steering dial; keys gain " @ w=<guidance>" where it is not 0
           ) -> dict:
    "Validation figures of `head` ranked as the engine ranks (with the config's history pull), overall and per attribute kind."
    X, Et, M, ex = (torch.as_tensor(inp['X'], dtype=torch.float32), torch.as_tensor(E, dtype=torch.float32),
                    torch.as_tensor(inp['M']).bool(), inp['ex'])
    at = lambda e: validate(head, X, e, Et, M, history_weight=cfg.history_weight, steer_after_history=cfg.steer_after_history, guidance=guidance)
    out, kinds = at(ex), np.array(ex.attr_kind)
    for kind in sorted(set(ex.attr_kind)):
        idx = np.flatnonzero(kinds[ex.val_steer[:, 2]] == kind)  # validation users asked for this kind (one request each, as `val_seen`)
        if len(idx): out[f'steer_share ({kind})'] = at(dataclasses.replace(ex, val=ex.val[idx], val_seen=[ex.val_seen[i] for i in idx], val_steer=ex.val_steer[idx]))['steer_share']
    return out if not guidance else {f'{k} @ w={guidance:g}': v for k, v in out.items() if k.startswith('steer_')}


def probe(run:Path, weights:list, history_weight:float|None=None, progress:bool=True,
          layouts:list|None=None, # attribute_per_kind values to try (default: the saved one)
          guidance:tuple=(0.0,), # steering dials to validate each head at
         ) -> dict:
    "Train the run's dense head at each attribute weight and layout (everything else as saved, or the history pull at `history_weight`) and validate it."
    cfg = DenseConfig(**RunDir(run).saved_config('dense'))
    if history_weight is not None: cfg = dataclasses.replace(cfg, history_weight=history_weight)
    inp = dense_inputs(run, cfg, progress=progress, log=lambda *a: None)
    rows = {}
    layouts = [cfg.attribute_per_kind] if layouts is None else layouts
    for w in weights:
        for per_kind in (layouts if w > 0 else layouts[:1]):  # no coordinates: no layout
            c = dataclasses.replace(cfg, attribute_weight=w, attribute_per_kind=per_kind); t0 = time.time()
            head, _, E = train_in_space(inp, c, progress)
            row = {'train_s': round(time.time() - t0, 1), 'item_space': item_space_name(c)}
            for g in sorted({0.0, *guidance}): row.update(figures(head, inp, E, c, g))
            rows[f'{w:g}' + (' per kind' if per_kind and w > 0 else '')] = row
    return {'run': str(run), 'users': len(inp['ex'].val), 'steer_cases': len(inp['ex'].val_steer), 'config': dataclasses.asdict(cfg), 'rows': rows,
            'guidance': sorted({0.0, *guidance})}


def write_report(m:dict, stem:Path, command:str):
    "`<stem>.json` and `<stem>.md`."
    write_json_atomic(stem.with_suffix('.json'), m)
    kinds = sorted({k for r in m['rows'].values() for k in r if k.startswith('steer_share (') and '@' not in k})
    cols = [c if not g else f'{c} @ w={g:g}' for g in m.get('guidance', [0.0]) for c in ['steer_share'] + kinds]
    head = lambda c: c.replace('steer_share (', '').replace(')', 's').replace('steer_share', 'steer share')
    lines = [f"# Dense head: attribute coordinates in the item space (validation probe, {m['run']})", '',
             f"Command: `{command}`; {m['users']} validation users, {m['steer_cases']} held-out steering requests (the test split is never used); "
             f"the run's saved dense config with only `attribute_weight` (and `attribute_per_kind`, rows marked per kind) changed (history pull {m['config']['history_weight']:g}, "
             f"{m['config']['users']} training users, {m['config']['epochs']} epochs, seed {m['config']['seed']}); {m['machine']}; wall time {m['wall_s']:.0f} s.", '',
             'Steer share: the share of the top 10 carrying a requested attribute the user\'s history lacks, by kind after the overall figure; '
             '"@ w" columns: the same requests at that steering dial, as the engine applies it (ranking figures do not depend on it).', '',
             '| attribute_weight | val Hit@10 | val NDCG@10 | ' + ' | '.join(map(head, cols)) + ' | steering precision | train s |',
             '|---' * (5 + len(cols)) + '|']
    lines += [f"| {w} | {r['val_hit@10']:.4f} | {r['val_ndcg@10']:.4f} | " + ' | '.join(f"{r.get(c, float('nan')):.3f}" for c in cols)
              + f" | {r['steer_precision']:.3f} | {r['train_s']:.0f} |" for w, r in m['rows'].items()]
    Path(stem.with_suffix('.md')).write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('run', type=Path, help='a run folder with a trained dense head and its feature cache (runs/<dataset>)')
    ap.add_argument('--weights', default='0,0.5,1,2', help='attribute weights, comma separated')
    ap.add_argument('--history-weight', type=float, default=None, help="the query's history pull (default: the run's saved one)")
    ap.add_argument('--layouts', default=None, help="attribute layouts to try, comma separated: one (a block over all attributes), kind (a block per kind); default: the run's saved one")
    ap.add_argument('--guidance', default='0', help='steering dials to validate each head at, comma separated (0 is always included)')
    ap.add_argument('--report', type=Path, required=True, help='output stem, e.g. reports/attribute_probe_ml-100k-collab')
    a = ap.parse_args()
    if not (a.run/'dense'/'config.yaml').exists(): ap.error(f'{a.run}/dense/config.yaml is missing: train the head first (talkwalk dense --run {a.run})')
    layouts = None if a.layouts is None else [x.strip() for x in a.layouts.split(',')]
    if layouts and (bad := set(layouts) - {'one', 'kind'}): ap.error(f'--layouts: unknown {sorted(bad)}; use one, kind or both (one,kind)')
    t0 = time.time(); m = probe(a.run, [float(x) for x in a.weights.split(',')], a.history_weight, layouts=layouts and [x == 'kind' for x in layouts],
                                guidance=tuple(float(x) for x in a.guidance.split(',')))
    m.update(machine=machine_info(), wall_s=time.time() - t0)
    write_report(m, a.report, f'.venv/bin/python scripts/attribute_probe.py {a.run} --weights {a.weights}' + (f' --history-weight {a.history_weight:g}' if a.history_weight is not None else '')
                 + (f' --layouts {a.layouts}' if a.layouts else '') + (f' --guidance {a.guidance}' if a.guidance != '0' else '') + f' --report {a.report}')
    print(a.report.with_suffix('.md').read_text())
