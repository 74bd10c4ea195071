"""How far has the aligned LLM fitted the sequence task? Teacher-forced per-level accuracy and NLL of the SID codes on training
windows (the data it was trained on), against the simplest predictors: the marginal of level-1 codes (popularity at level 1)
and, on validation users, the mode of the user's own history. A model below the marginal has not yet learned what popularity knows.

    python scripts/fit_diagnostic.py --run runs/ml-100k --stage b --windows 40 --users 80 --out reports/ranking_fit_ml-100k.json
"""
import argparse, collections, json, math
import numpy as np, torch
from talkwalk.alignment import make_examples, encode_example, sid_code_ids, load_sids
from talkwalk.catalog import load_data_artifacts, load_descriptions, describe_user
from talkwalk.llm import load_aligned
from talkwalk.prompts import PromptStyle, rec_messages
from talkwalk.decoding import rec_prompt_ids
from talkwalk.sids import sid_string
from talkwalk.utils import machine_info, write_json_atomic

def level_of(tok) -> dict:
    "SID code token id -> its level (1-based)."
    return {i: int(t[3:t.index('_')]) for t, i in tok.get_vocab().items() if t.startswith('<|L')}

@torch.no_grad()
def teacher_forced(model, tok, examples, levels_of) -> dict:
    "Per-level accuracy and NLL (softmax over that level's codes) at every labelled SID code of `examples`."
    by_level = collections.defaultdict(list); sid_ids = sid_code_ids(tok)
    codes = {L: sorted(i for i, l in levels_of.items() if l == L) for L in set(levels_of.values())}
    for e in examples:
        enc = encode_example(tok, e, 512, sid_ids); lab = enc['labels']
        logits = model(torch.tensor([enc['input_ids']])).logits[0].float()
        for p, t in enumerate(lab):
            if p == 0 or t not in levels_of: continue
            same = codes[levels_of[t]]; lp = torch.log_softmax(logits[p - 1, same], 0)
            by_level[levels_of[t]].append((int(lp.argmax()) == same.index(t), -float(lp[same.index(t)])))
    return {L: {'targets': len(v), 'accuracy': float(np.mean([a for a, _ in v])), 'nll': float(np.mean([n for _, n in v]))} for L, v in sorted(by_level.items())}

def main(a):
    torch.set_num_threads(a.threads)
    ds, split = load_data_artifacts(f'{a.run}/data'); sids, levels = load_sids(a.run)
    model, tok = load_aligned(a.run, a.stage)
    sid_str = {i: sid_string(s) for i, s in sids.items()}; style = PromptStyle(split.max_history, False, True)
    train = split.train_sequences()
    l1 = collections.Counter(sids[i][0] for s in train.values() for i in s if i in sids)
    p = np.array(list(l1.values()), float); p /= p.sum()
    examples = make_examples(ds, split, sids, sid_str, style, {'sequence': a.windows}, a.seed + 1)  # a sample of training windows
    fit = teacher_forced(model, tok, examples, level_of(tok))
    # validation users: the model's most likely level-1 code for the held-out item vs the user's own history mode and the global mode
    desc = load_descriptions(ds.domain); l1_ids = [tok.convert_tokens_to_ids(f'<|L1_{c}|>') for c in range(max(l1) + 1)]
    cases = split.valid[split.valid.target.isin(set(sids))].sample(n=a.users, random_state=a.seed); hit = collections.Counter()
    for r in cases.itertuples():
        prof = describe_user(ds.users.loc[r.user_id], ds.user_fields, desc) if len(ds.user_fields) else None
        ids = rec_prompt_ids(tok, rec_messages(list(r.history), 'recommend something', sid_str, style, prof, None))
        with torch.no_grad(): pred = int(model(ids).logits[0, -1, l1_ids].argmax())
        t1 = sids[r.target][0]; own = collections.Counter(sids[i][0] for i in train[r.user_id] if i in sids)
        hit['model'] += pred == t1; hit['history_mode'] += own.most_common(1)[0][0] == t1; hit['global_mode'] += l1.most_common(1)[0][0] == t1
    out = {'run': a.run, 'stage': a.stage, 'machine': machine_info(), 'training_windows': len(examples),
           'teacher_forced_on_training_windows': fit, 'level1_marginal_entropy': float(-(p * np.log(p)).sum()),
           'level1_codes': len(l1), 'uniform_level1_nll': math.log(len(l1)),
           'validation_level1_accuracy': {'users': len(cases), **{k: hit[k] / len(cases) for k in ('model', 'history_mode', 'global_mode')}}}
    write_json_atomic(a.out, out); print(json.dumps(out, indent=1))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--run', required=True, help='a run folder with a trained alignment stage')
    ap.add_argument('--stage', default='b', choices=['a', 'b'], help='which aligned model: stage A or A+B')
    ap.add_argument('--windows', type=int, default=40, help='training windows scored teacher-forced')
    ap.add_argument('--users', type=int, default=80, help='validation users for the level-1 comparison')
    ap.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', required=True, help='the JSON report to write')
    main(ap.parse_args())
