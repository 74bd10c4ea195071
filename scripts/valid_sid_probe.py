"""Where the generative head's unconstrained decoding leaves the catalogue: greedy decoding without the trie (the
evaluation's valid-SID rate, `talkwalk.decoding.unconstrained_valid`) on validation users, each invalid answer
classified by its first wrong token: not a SID token, a SID token of the wrong level, or a real code whose prefix names
no item (at level 2, 3 or the collision level). Validation split only (each user's validation item is the target and
only what came before it is in the prompt); the test split is not read.

    .venv/bin/python scripts/valid_sid_probe.py --run runs/amazon-scientific --report reports/valid_sid_probe_amazon-scientific
"""
import argparse, time
from collections import Counter

import torch
from tqdm.auto import tqdm

from talkwalk.eval_data import EvalConfig, load_eval_data, sample_users
from talkwalk.recommender import load_recommender
from talkwalk.session import Session, clean_request
from talkwalk.utils import machine_info, write_json_atomic, write_text_atomic


def first_fault(tokens:list, trie) -> str:
    "Why greedy `tokens` name no item: the first wrong token's fault, or 'valid'."
    path = []
    for level, t in enumerate(tokens[:trie.depth]):
        step = trie.code.get(t)
        if step is None: return f'level {level + 1}: not a SID token'
        if step[0] != level: return f'level {level + 1}: a level-{step[0] + 1} token'
        if step[1] not in {c for c, _ in trie.allowed(tuple(path))}: return f'level {level + 1}: a code no item has under its prefix'
        path.append(step[1])
    return 'valid' if len(path) == trie.depth else f'level {len(path) + 1}: stopped'


@torch.no_grad()
def greedy(rec, ids:list) -> list:
    "Greedy tokens without the trie, as `unconstrained_valid` decodes them."
    x = torch.tensor([ids], device=rec.device)
    out = rec.model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=rec.trie.depth, do_sample=False, pad_token_id=rec.tok.pad_token_id)
    return out[0, x.shape[1]:].tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True); ap.add_argument('--report', required=True)
    ap.add_argument('--users', type=int, default=300); ap.add_argument('--stage', default='b')
    a = ap.parse_args(); t0 = time.time(); cfg = EvalConfig()
    ed = load_eval_data(a.run, on='valid'); users = sample_users(ed, a.users, cfg.seed)
    rec = load_recommender(a.run, mode='generative', stage=a.stage)
    faults, rows = Counter(), []
    for u in tqdm(users, desc='greedy, no trie'):
        c = ed.cases[u]; s = Session(user=c.profile, history=list(c.prior))
        toks = greedy(rec, rec.prompt_ids(s, clean_request(cfg.request)))
        f = first_fault(toks, rec.trie); faults[f] += 1
        rows.append({'user_id': u, 'fault': f, 'target_sid': list(rec.trie.sid(str(c.target))) if str(c.target) in rec.trie.row else None,
                     'codes': [rec.trie.code.get(t, (None, None))[1] for t in toks]})
    n = len(users); depth = rec.trie.depth
    out = {'run': a.run, 'stage': a.stage, 'users': n, 'split': 'valid', 'depth': depth, 'machine': machine_info(),
           'items_per_prefix': {l: len({rec.trie.sid(i)[:l] for i in rec.trie.items}) for l in range(1, depth + 1)},
           'faults': dict(faults.most_common()), 'valid': faults['valid'] / n, 'rows': rows, 'wall_s': round(time.time() - t0, 1),
           'command': f'.venv/bin/python scripts/valid_sid_probe.py --run {a.run} --report {a.report}' + (f' --users {a.users}' if a.users != 300 else '')}
    write_json_atomic(f'{a.report}.json', out); write_text_atomic(f'{a.report}.md', render(out)); print(render(out))


def render(r:dict) -> str:
    "The report page."
    lines = ['# Where unconstrained decoding leaves the catalogue', '',
             f"Command: `{r['command']}`; {r['machine']}; {r['wall_s'] / 60:.1f} min.", '',
             f"Greedy decoding without the trie (the evaluation's valid-SID rate) for {r['users']} seeded validation users of `{r['run']}` (stage {r['stage']}), "
             f"the request `recommend something`. SIDs have {r['depth']} levels; distinct prefixes per level: "
             + ', '.join(f'{l}: {n:,}' for l, n in r['items_per_prefix'].items()) + '.', '',
             '| first wrong token | users | share |', '|---|---|---|']
    lines += [f"| {f} | {k} | {k / r['users']:.3f} |" for f, k in r['faults'].items()]
    return '\n'.join(lines) + '\n'


if __name__ == '__main__': main()
