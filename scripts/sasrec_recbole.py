#!/usr/bin/env python
"""RecBole 1.2.1 baseline (SASRec by default, or any RecBole model such as Pop) scored on EXACTLY TalkWalk's
leave-one-out split, writing per-user full-catalogue top-k rankings in TalkWalk's own item ids.

Standalone: runs with the RecBole venv's python (`make sasrec-venv`, .venv-recbole); it never imports talkwalk.

    .venv-recbole/bin/python scripts/sasrec_recbole.py --data runs/ml-100k/data --out runs/ml-100k/baselines/sasrec

Protocol
--------
* Input: a talkwalk data folder: interactions.csv (user_id, item_id, ...; a user's rows in file order ARE the
  chronological order, ties in `timestamp` included), items.jsonl (the catalogue), valid.jsonl / test.jsonl
  ({"user_id", "history", "target"}; test target = each user's last event, valid target = second to last).
* Atomic files: `<out>/atomic/<name>/<name>.inter` with user_id:token, item_id:token, timestamp:float where timestamp
  is the event's position in the user's sequence (0, 1, 2, ... in file order), so RecBole's `order: TO` (a stable sort
  on timestamp) + `split: {LS: valid_and_test}` reproduces our split exactly; `<name>.item` lists every catalogue item
  so RecBole's item id mapping covers the whole catalogue (an item with no training interaction still gets an
  embedding and can be ranked, though SASRec only ever saw it as a negative of the softmax).
* The split is VERIFIED before training, per user: RecBole's test/valid targets == test.jsonl/valid.jsonl targets,
  for sequential models the input sequences == our (20-capped) histories, and the training rows == all but each
  user's last two events. Any mismatch aborts.
* Training: RecBole's default hyper-parameters for the model (SASRec: 2 layers, 2 heads, hidden 64, dropout 0.5, CE
  loss over the full catalogue, Adam lr 1e-3, batch 2048), MAX_ITEM_LIST_LENGTH 20, early stopping on the validation
  split (valid_metric NDCG@10, stopping_step 10), fixed seed, one thread by default.
* Rankings: with the best checkpoint, every valid and test user's scores over the full catalogue come from RecBole's
  own full-sort evaluation step (`Trainer._full_sort_batch_eval`: same model, same scores, same masks). Two variants
  are written, each one line per user in the order of valid.jsonl / test.jsonl,
  {"user_id": str, "ranked": [top-k item ids as OUR string ids, best first]}:
    ranked_valid.jsonl, ranked_test.jsonl                  every item the user interacted with before the target is
        masked (the candidate set of "catalogue minus the user's prior items"); use these for TalkWalk's evaluation.
    ranked_valid_recbole.jsonl, ranked_test_recbole.jsonl  exactly RecBole's full-sort mask, whose metrics reproduce
        RecBole's: for a SEQUENTIAL model (SASRec) RecBole masks only its padding id, NOT the user's history; for a
        general model (Pop) it masks the user's earlier interactions (train items for valid, train+valid for test),
        so there both variants are identical.
  Masked items never appear in a list. Ties are broken deterministically: items are first put in order of their id
  STRING ascending (Python str order), then a stable descending sort by score (float32) is applied, i.e. the order is
  (score desc, item id string asc). The script recomputes Hit/NDCG/MRR@{5,10,20} from the written lists, prints them
  next to RecBole's, and fails if the *_recbole lists do not reproduce RecBole's numbers (allowing for RecBole's own
  arbitrary tie-breaking: its value must lie between the metric with all score ties resolved for and against the
  target; for SASRec there are no ties and the numbers agree to RecBole's 4 decimals).
* Other outputs (each written to a temp file then renamed): metrics.json (RecBole's valid/test metrics, the
  recomputations, epochs, best epoch, timings (wall and CPU seconds), the RecBole config, versions), config.yaml (the
  run's arguments and RecBole config). RecBole's own log/ and log_tensorboard/, the best checkpoint (saved/) and the
  atomic files (atomic/) also land under --out. `--checkpoint saved/X.pth` re-ranks with a saved model, no training.
"""
import argparse, json, os, sys, time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', required=True, help='talkwalk data folder (interactions.csv, items.jsonl, valid.jsonl, test.jsonl)')
    p.add_argument('--out', required=True, help='output folder, e.g. runs/ml-100k/baselines/sasrec')
    p.add_argument('--model', default='SASRec', help='RecBole model name (default SASRec; Pop works as a protocol check)')
    p.add_argument('--epochs', type=int, default=200, help='maximum epochs (early stopping usually ends sooner)')
    p.add_argument('--seed', type=int, default=2020, help="random seed (RecBole's default 2020)")
    p.add_argument('--topk', type=int, default=100, help='length of the written ranked lists')
    p.add_argument('--threads', type=int, default=1, help='torch / OMP / MKL threads')
    p.add_argument('--max-len', type=int, default=20, help='MAX_ITEM_LIST_LENGTH')
    p.add_argument('--stopping-step', type=int, default=10, help='early-stopping patience in evaluations')
    p.add_argument('--valid-metric', default='NDCG@10')
    p.add_argument('--checkpoint', default=None,
                   help='skip training: rank with this saved RecBole checkpoint (training facts are kept from --out/metrics.json)')
    p.add_argument('--config-overrides', default=None,
                   help='RecBole config overrides: a YAML/JSON mapping string or a path to a YAML file (applied last)')
    p.add_argument('--name', default=None, help='RecBole dataset name (default: tw_ + the data folder\'s stats name)')
    return p.parse_args(argv)


def atomic_write(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
        f.flush(); os.fsync(f.fileno())
    os.replace(tmp, path)


def read_jsonl(path: Path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(l) for l in f if l.strip()]


BAD_TOKENS = {'', 'nan', 'na', 'n/a', 'null', 'none', '<na>', '#n/a', '-nan', '1.#ind', '1.#qnan', '-1.#ind', '-1.#qnan', '#na', '#n/a n/a'}


def check_token(tok: str, kind: str):
    "RecBole reads atomic files with pandas defaults (tab separated, NA strings become missing): refuse such ids."
    if tok.lower() in BAD_TOKENS or any(c in tok for c in '\t\n\r') or tok != tok.strip():
        raise SystemExit(f'{kind} id {tok!r} cannot be written to a RecBole atomic file safely')


def load_talkwalk(data: Path):
    import pandas as pd
    df = pd.read_csv(data / 'interactions.csv', dtype=str, keep_default_na=False)
    seqs = {}
    for u, i in zip(df['user_id'].tolist(), df['item_id'].tolist()):
        seqs.setdefault(u, []).append(i)  # file order within a user IS the chronological order
    items = [r['item_id'] for r in read_jsonl(data / 'items.jsonl')]
    if len(set(items)) != len(items): raise SystemExit('items.jsonl has duplicate item ids')
    missing = {i for s in seqs.values() for i in s} - set(items)
    if missing: raise SystemExit(f'{len(missing)} interacted items are not in items.jsonl, e.g. {sorted(missing)[:5]}')
    for u in seqs: check_token(u, 'user')
    for i in items: check_token(i, 'item')
    valid, test = read_jsonl(data / 'valid.jsonl'), read_jsonl(data / 'test.jsonl')
    for r in valid + test: r['user_id'] = str(r['user_id']); r['target'] = str(r['target']); r['history'] = [str(h) for h in r['history']]
    return df, seqs, items, valid, test


def write_atomic_files(seqs, items, folder: Path, name: str):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['user_id:token\titem_id:token\ttimestamp:float']
    for u, s in seqs.items():
        lines += [f'{u}\t{i}\t{t}' for t, i in enumerate(s)]  # timestamp = position in the user's sequence
    atomic_write(folder / f'{name}.inter', '\n'.join(lines) + '\n')
    atomic_write(folder / f'{name}.item', 'item_id:token\n' + '\n'.join(items) + '\n')


def parse_overrides(s):
    if not s: return {}
    import yaml
    if os.path.exists(s):
        with open(s) as f: return yaml.safe_load(f) or {}
    d = yaml.safe_load(s)  # YAML is a superset of JSON
    if not isinstance(d, dict): raise SystemExit(f'--config-overrides must be a mapping, got {d!r}')
    return d


def jsonable(x):
    if isinstance(x, dict): return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)): return [jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None: return x
    if hasattr(x, 'item') and getattr(x, 'ndim', 1) == 0: return x.item()
    return str(x)


def rank_metrics(ranked_rows, targets, ks=(5, 10, 20)):
    "Hit@k, NDCG@k, MRR@k of one held-out target per user; a target outside the list counts as a miss."
    import math
    out = {f'{m}@{k}': 0.0 for k in ks for m in ('hit', 'ndcg', 'mrr')}
    for u, tgt in targets.items():
        lst = ranked_rows.get(u, [])
        r = lst.index(tgt) + 1 if tgt in lst else None
        for k in ks:
            if r is not None and r <= k:
                out[f'hit@{k}'] += 1; out[f'ndcg@{k}'] += 1 / math.log2(r + 1); out[f'mrr@{k}'] += 1 / r
    return {k: v / len(targets) for k, v in out.items()}


def main(argv=None):
    args = parse_args(argv)
    if args.checkpoint: args.checkpoint = str(Path(args.checkpoint).resolve())
    t_start = time.time()
    for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS'):
        os.environ[v] = str(args.threads)
    os.environ.setdefault('WANDB_MODE', 'disabled')
    import warnings; warnings.filterwarnings('ignore')
    import numpy as np, torch
    torch.set_num_threads(args.threads)
    _torch_load = torch.load
    def _load(*a, **k):  # RecBole checkpoints hold a config object: torch>=2.6 needs weights_only=False for them
        k.setdefault('weights_only', False); return _torch_load(*a, **k)
    torch.load = _load
    import recbole, logging
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.data.dataloader.general_dataloader import FullSortEvalDataLoader
    from recbole.utils import init_seed, init_logger, get_model, get_trainer, ModelType
    import recbole.model.sequential_recommender  # noqa: F401  (its SINE model turns on autograd anomaly detection
    torch.autograd.set_detect_anomaly(False)      # process-wide, which makes training ~2x slower: switch it off, and
                                                  # again after Config/get_model, which import model modules too)

    data, out = Path(args.data).resolve(), Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    df, seqs, items, valid_rows, test_rows = load_talkwalk(data)
    stats_name = None
    if (data / 'stats.json').exists(): stats_name = json.loads((data / 'stats.json').read_text()).get('name')
    name = args.name or ('tw_' + ''.join(c if c.isalnum() or c in '-_' else '_' for c in (stats_name or data.parent.name)))
    atomic_root = out / 'atomic'
    write_atomic_files(seqs, items, atomic_root / name, name)
    os.chdir(out)  # RecBole writes ./log and ./log_tensorboard relative to the working directory

    # our split, from the talkwalk files (and checked against interactions.csv)
    ours = {'valid': {r['user_id']: r for r in valid_rows}, 'test': {r['user_id']: r for r in test_rows}}
    for u, s in seqs.items():
        if len(s) < 4: raise SystemExit(f'user {u} has {len(s)} events: RecBole LS valid_and_test needs >= 4 for a sequential model')
        for split, pos in (('valid', -2), ('test', -1)):
            r = ours[split].get(u)
            prefix = s[:len(s) + pos]
            if r is None or r['target'] != s[pos] or not r['history'] or r['history'] != prefix[-len(r['history']):]:
                raise SystemExit(f'{split}.jsonl disagrees with interactions.csv for user {u}')
    if set(ours['valid']) != set(seqs) or set(ours['test']) != set(seqs):
        raise SystemExit('valid.jsonl / test.jsonl users differ from interactions.csv users')

    config_dict = {
        'data_path': str(atomic_root), 'checkpoint_dir': str(out / 'saved'),
        'USER_ID_FIELD': 'user_id', 'ITEM_ID_FIELD': 'item_id', 'TIME_FIELD': 'timestamp',
        'load_col': {'inter': ['user_id', 'item_id', 'timestamp'], 'item': ['item_id']},
        'MAX_ITEM_LIST_LENGTH': args.max_len,
        'eval_args': {'split': {'LS': 'valid_and_test'}, 'order': 'TO', 'group_by': 'user', 'mode': 'full'},
        'metrics': ['Recall', 'MRR', 'NDCG', 'Hit', 'Precision'], 'topk': [5, 10, 20],
        'valid_metric': args.valid_metric, 'stopping_step': args.stopping_step,
        'epochs': args.epochs, 'seed': args.seed, 'reproducibility': True,
        'use_gpu': False, 'worker': 0, 'show_progress': False, 'state': 'INFO', 'log_wandb': False,
    }
    model_class = get_model(args.model)
    if getattr(model_class, 'type', None) == ModelType.SEQUENTIAL:
        config_dict['train_neg_sample_args'] = None  # CE loss over the full catalogue (RecBole's SASRec default)
    config_dict.update(parse_overrides(args.config_overrides))

    config = Config(model=args.model, dataset=name, config_dict=config_dict)
    init_seed(config['seed'], config['reproducibility'])
    init_logger(config)
    logger = logging.getLogger()
    logger.info(' '.join(sys.argv))
    logger.info(config)
    dataset = create_dataset(config)
    logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    is_seq = config['MODEL_TYPE'] == ModelType.SEQUENTIAL

    # ---- verify RecBole's split == ours, per user ----
    uid_tok = dataset.field2id_token['user_id']; iid_tok = dataset.field2id_token['item_id']
    if set(iid_tok[1:].tolist()) != set(items):
        raise SystemExit(f'RecBole item vocabulary ({len(iid_tok) - 1}) != catalogue ({len(items)})')
    check = {}
    for split, dl in (('train', train_data), ('valid', valid_data), ('test', test_data)):
        feat = dl._dataset.inter_feat
        us = [uid_tok[u] for u in feat['user_id'].numpy()]
        its = [iid_tok[i] for i in feat['item_id'].numpy()]
        by_user = {}
        for k, (u, i) in enumerate(zip(us, its)): by_user.setdefault(u, []).append((k, i))
        if split == 'train':
            for u, s in seqs.items():
                want = s[1:-2] if is_seq else s[:-2]  # sequential rows are (prefix -> target) for targets 1..n-3
                got = [i for _, i in by_user.get(u, [])]
                if (got if is_seq else sorted(got)) != (want if is_seq else sorted(want)):
                    raise SystemExit(f'SPLIT MISMATCH: RecBole train rows for user {u} differ from ours')
            check['train_rows'] = len(us)
            continue
        if set(by_user) != set(ours[split]) or any(len(v) != 1 for v in by_user.values()):
            raise SystemExit(f'SPLIT MISMATCH: RecBole {split} does not have exactly one row per user of {split}.jsonl')
        for u, [(k, i)] in by_user.items():
            r = ours[split][u]
            if i != r['target']:
                raise SystemExit(f'SPLIT MISMATCH: user {u} {split} target RecBole={i} ours={r["target"]}')
            if is_seq:
                n = int(feat['item_length'][k]); hist = [iid_tok[j] for j in feat['item_id_list'][k][:n].numpy()]
                if hist != seqs[u][:len(seqs[u]) - (2 if split == 'valid' else 1)][-args.max_len:]:
                    raise SystemExit(f'SPLIT MISMATCH: user {u} {split} history RecBole={hist} ours={r["history"]}')
        check[f'{split}_users'] = len(by_user)
    check['verified'] = 'targets' + (' + input sequences' if is_seq else '') + ' + train rows, every user'
    logger.info(f'split check passed: {check}')

    # ---- train ----
    init_seed(config['seed'] + config['local_rank'], config['reproducibility'])
    model = model_class(config, train_data._dataset).to(config['device'])
    logger.info(model)
    trainer = get_trainer(config['MODEL_TYPE'], config['model'])(config, model)
    timing = {'train': [], 'valid': [], 'train_cpu': [], 'valid_cpu': []}
    def timed(fn, key):  # wall seconds, and CPU seconds of this process (robust to other jobs and to SIGSTOP pauses)
        def w(*a, **k):
            t, c = time.time(), time.process_time(); r = fn(*a, **k)
            timing[key].append(time.time() - t); timing[key + '_cpu'].append(time.process_time() - c); return r
        return w
    trainer._train_epoch = timed(trainer._train_epoch, 'train')
    trainer._valid_epoch = timed(trainer._valid_epoch, 'valid')
    progress = {'best_epoch': None, 'last_epoch': None}
    def callback(epoch_idx, valid_score):
        progress['last_epoch'] = epoch_idx
        if trainer.cur_step == 0: progress['best_epoch'] = epoch_idx
        print(f'[{args.model}] epoch {epoch_idx}: train {timing["train"][-1]:.1f}s (cpu {timing["train_cpu"][-1]:.1f}s) '
              f'valid {timing["valid"][-1]:.1f}s '
              f'{args.valid_metric}={valid_score:.4f} best_epoch={progress["best_epoch"]}', flush=True)
    torch.autograd.set_detect_anomaly(False)
    assert not torch.is_anomaly_enabled()
    prev = {}
    if args.checkpoint:  # rank with a saved model: no training; training facts come from the previous metrics.json
        if (out / 'metrics.json').exists(): prev = json.loads((out / 'metrics.json').read_text())
        trainer.saved_model_file = str(Path(args.checkpoint).resolve())
        best_valid_score, best_valid_result, fit_s = prev.get('recbole', {}).get('best_valid_score', float('nan')), \
            prev.get('recbole', {}).get('best_valid_during_fit'), prev.get('fit_seconds')
    else:
        t_fit = time.time()
        best_valid_score, best_valid_result = trainer.fit(train_data, valid_data, saved=True, show_progress=False, callback_fn=callback)
        fit_s = time.time() - t_fit
        if progress['best_epoch'] is None and timing['train']: progress['best_epoch'] = len(timing['train']) - 1

    # ---- RecBole's own evaluation of the best checkpoint ----
    rec_valid = dict(trainer.evaluate(valid_data, load_best_model=True, show_progress=False))
    rec_test = dict(trainer.evaluate(test_data, load_best_model=False, show_progress=False))
    logger.info(f'RecBole valid: {rec_valid}'); logger.info(f'RecBole test: {rec_test}')

    # ---- rankings with RecBole's own full-sort scoring (same model, same scores) ----
    iid_str = [str(t) for t in iid_tok]
    tok_order = torch.tensor(sorted(range(1, len(iid_str)), key=lambda j: iid_str[j]), dtype=torch.long)  # id-string asc
    tok2iid = {t: j for j, t in enumerate(iid_str)}

    def prior_items(u, split):  # every item the user interacted with before this split's target
        s = seqs[u]; return s[:-2] if split == 'valid' else s[:-1]

    def rank(scores, k):
        s = scores[:, tok_order]
        vals, idx = torch.sort(s, dim=1, descending=True, stable=True)  # stable: ties keep id-string order
        vals, idx = vals[:, :k], tok_order[idx[:, :k]]
        return [[iid_str[j] for j, v in zip(r.tolist(), vr.tolist()) if v != float('-inf')] for r, vr in zip(idx, vals)]

    model.eval()
    VARIANTS = ('history', 'recbole')  # ranked_<split>.jsonl, ranked_<split>_recbole.jsonl
    ranked = {v: {'valid': {}, 'test': {}} for v in VARIANTS}
    tie_ranks = {'valid': {}, 'test': {}}
    with torch.no_grad():
        for split, dl in (('valid', valid_data), ('test', test_data)):
            assert isinstance(dl, FullSortEvalDataLoader)
            trainer.tot_item_num = dl._dataset.item_num
            for batch in dl:
                interaction, scores, pos_u, pos_i = trainer._full_sort_batch_eval(batch)  # RecBole's scores AND masks
                scores = scores.detach().float().cpu()
                users = [str(uid_tok[u]) for u in interaction['user_id'].cpu().numpy()]
                hm = scores.clone()
                for r, u in enumerate(users):
                    hm[r, [tok2iid[i] for i in set(prior_items(u, split))]] = float('-inf')
                    t = scores[r, tok2iid[ours[split][u]['target']]]  # target's rank, ties resolved for / against it
                    gt, eq = int((scores[r] > t).sum()), int((scores[r] == t).sum()) - 1
                    tie_ranks[split][u] = (gt + 1, gt + eq + 1)
                for v, sc in (('history', hm), ('recbole', scores)):
                    for u, lst in zip(users, rank(sc, args.topk)): ranked[v][split][u] = lst

    # ---- write rankings, recompute metrics from them ----
    own = {v: {} for v in VARIANTS}
    for split, rows in (('valid', valid_rows), ('test', test_rows)):
        targets = {r['user_id']: r['target'] for r in rows}
        for v in VARIANTS:
            if set(ranked[v][split]) != set(targets): raise SystemExit(f'ranked {split} users != {split}.jsonl users')
            fname = f'ranked_{split}.jsonl' if v == 'history' else f'ranked_{split}_recbole.jsonl'
            atomic_write(out / fname, ''.join(json.dumps({'user_id': r['user_id'], 'ranked': ranked[v][split][r['user_id']]}) + '\n'
                                              for r in rows))
            own[v][split] = rank_metrics(ranked[v][split], targets)

    rec = {'valid': rec_valid, 'test': rec_test}
    print(f'\n{args.model} on {data}')
    print(f'{"split":6} {"metric":9} {"RecBole":>9} {"*_recbole":>10} {"diff":>9}   {"ranked_* (history masked)":>25}')
    max_diff = 0.0
    for split in ('valid', 'test'):
        for m in ('hit@10', 'ndcg@10', 'mrr@10', 'hit@20', 'ndcg@20'):
            a, b = float(rec[split][m]), own['recbole'][split][m]
            max_diff = max(max_diff, abs(a - b))
            print(f'{split:6} {m:9} {a:9.4f} {b:10.4f} {b - a:+9.4f}   {own["history"][split][m]:25.4f}')
    agree = max_diff <= 1.5e-4  # RecBole rounds its metrics to 4 decimals
    # RecBole's torch.topk breaks score ties its own way: its value must lie between the metric with every tie
    # resolved in the target's favour and against it
    import math
    bounds, within = {}, True
    for split in ('valid', 'test'):
        bounds[split] = {'users_with_tied_target': sum(p > o for o, p in tie_ranks[split].values())}
        for k in (10, 20):
            for m, f in (('hit', lambda r: 1.0), ('ndcg', lambda r: 1 / math.log2(r + 1)), ('mrr', lambda r: 1 / r)):
                lo = sum(f(p) for _, p in tie_ranks[split].values() if p <= k) / len(tie_ranks[split])
                hi = sum(f(o) for o, _ in tie_ranks[split].values() if o <= k) / len(tie_ranks[split])
                bounds[split][f'{m}@{k}'] = [lo, hi]
                if not (lo - 1.5e-4 <= float(rec[split][f'{m}@{k}']) <= hi + 1.5e-4): within = False
    print(f'max |RecBole - *_recbole rankings| = {max_diff:.5f} -> {"AGREE" if agree else "DIFFER"}; '
          f'users whose target ties other items: valid {bounds["valid"]["users_with_tied_target"]}, '
          f'test {bounds["test"]["users_with_tied_target"]}; RecBole within the tie bounds: {within}')

    n_ep = len(timing['train'])
    final_cfg = {k: jsonable(v) for k, v in config.final_config_dict.items()}
    import numpy, pandas, scipy, sklearn, platform
    seq_mask = ('padding id only: RecBole does not mask history for sequential models' if is_seq
                else "the user's earlier interactions (train for valid, train+valid for test)")
    metrics = {
        'model': args.model, 'data': str(data), 'recbole_dataset': name,
        'users': len(seqs), 'catalogue_items': len(items), 'interactions': int(len(df)),
        'recbole': {'valid': jsonable(rec_valid), 'test': jsonable(rec_test),
                    'best_valid_during_fit': jsonable(dict(best_valid_result or {})), 'best_valid_score': float(best_valid_score)},
        'rankings': {'files': 'ranked_valid.jsonl, ranked_test.jsonl',
                     'mask': "every item the user interacted with before the target (plus RecBole's own mask)",
                     'valid': own['history']['valid'], 'test': own['history']['test']},
        'rankings_recbole_mask': {'files': 'ranked_valid_recbole.jsonl, ranked_test_recbole.jsonl',
                                  'mask': f"exactly RecBole's full-sort mask: {seq_mask}",
                                  'valid': own['recbole']['valid'], 'test': own['recbole']['test'],
                                  'max_abs_diff_vs_recbole': max_diff, 'agree_with_recbole': agree,
                                  'tie_bounds': bounds, 'recbole_within_tie_bounds': within},
        'ranking_protocol': {'topk': args.topk, 'scores': "RecBole's Trainer._full_sort_batch_eval with the best checkpoint, float32",
                             'tie_break': 'score descending, then item id string ascending (stable sort over id-string-ordered items)',
                             'masked_items': 'never written, so a list can only be shorter than topk if fewer items are left'},
        'epochs_trained': n_ep if not args.checkpoint else prev.get('epochs_trained'), 'max_epochs': args.epochs,
        'best_epoch': progress['best_epoch'] if not args.checkpoint else prev.get('best_epoch'),
        'stopped_early': n_ep < args.epochs if not args.checkpoint else prev.get('stopped_early'),
        'fit_seconds': fit_s, 'wall_time_s': time.time() - t_start,
        'threads': args.threads, 'seed': args.seed,
        'split_check': check, 'checkpoint': str(trainer.saved_model_file),
        'recbole_config': final_cfg,
        'versions': {'python': platform.python_version(), 'recbole': recbole.__version__, 'torch': torch.__version__,
                     'numpy': numpy.__version__, 'pandas': pandas.__version__, 'scipy': scipy.__version__,
                     'scikit-learn': sklearn.__version__},
        'argv': sys.argv,
    }
    if args.checkpoint:
        metrics['ranked_from_checkpoint'] = True
        for k in ('seconds_per_epoch', 'train_seconds_per_epoch', 'valid_seconds_per_epoch', 'train_cpu_seconds_per_epoch',
                  'valid_cpu_seconds_per_epoch'):
            if k in prev: metrics[k] = prev[k]
        metrics['training_wall_time_s'] = prev.get('training_wall_time_s', prev.get('wall_time_s'))
    else:
        metrics.update({
            'seconds_per_epoch': (sum(timing['train']) + sum(timing['valid'])) / max(n_ep, 1),
            'train_seconds_per_epoch': sum(timing['train']) / max(n_ep, 1),
            'valid_seconds_per_epoch': sum(timing['valid']) / max(len(timing['valid']), 1),
            'train_cpu_seconds_per_epoch': sum(timing['train_cpu']) / max(n_ep, 1),
            'valid_cpu_seconds_per_epoch': sum(timing['valid_cpu']) / max(len(timing['valid_cpu']), 1)})
    import yaml
    atomic_write(out / 'config.yaml', yaml.safe_dump({'args': vars(args), 'config_dict': jsonable(config_dict),
                                                       'recbole_config': final_cfg}, sort_keys=False))
    atomic_write(out / 'metrics.json', json.dumps(metrics, indent=2) + '\n')
    print(f'epochs {metrics["epochs_trained"]} (best {metrics["best_epoch"]}), {metrics.get("seconds_per_epoch", float("nan")):.1f} s/epoch, '
          f'wall {metrics["wall_time_s"]:.0f} s -> {out}')
    if not within:
        raise SystemExit('rankings do not reproduce RecBole\'s metrics (outside the score-tie bounds)')

if __name__ == '__main__':
    main()
