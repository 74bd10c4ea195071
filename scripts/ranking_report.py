"""reports/ranking.md: the ranking benchmark of issue 14 in one page, from files committed commands wrote: the alignment run's
metrics (validation before / during / after training, throughput, the validation curve), the test evaluation
(reports/results_<dataset>.json, `make papermill PROFILE=full NOTEBOOKS=nbs/05_eval.ipynb`), the bf16 vs float32 training-step
measurement (reports/train_throughput.json) and the codebook widths (reports/codebook_widths.json), with the issue's targets.

    python scripts/ranking_report.py --run runs/ml-100k [--out reports/ranking] [--align-config configs/ranking/ml-100k-alignment.yaml --script scripts/ranking_benchmark.sh]
        [--compare 'LABEL=reports/alignment_<dataset>_<label>.json' ...]  (other alignments' metrics on the same data and SIDs: schedules, ablations)"""
import argparse, json
from pathlib import Path
import yaml
from talkwalk.metrics import format_ci
from talkwalk.utils import write_json_atomic, write_text_atomic
from talkwalk.eval_report import carry_note

def side(a:float, b:float) -> str:
    "Where `a` lies against `b`, in a word (equal to three decimals counts as level)."
    return 'level with it' if round(a, 3) == round(b, 3) else 'above' if a > b else 'below'

def val_row(name:str, m:dict) -> str:
    return f"| {name} | {m['users']} | " + ' | '.join(f"{m.get(c, float('nan')):.3f}" for c in ('hit@10', 'ndcg@10', 'L1', 'L1-2', 'L1-3', 'valid_unconstrained')) + ' |'

def kept_check(m:dict) -> dict:
    "The validation check an alignment kept: the one at its last stage's `best_checkpoint` (the trainer's pick by `select_metric`), else its last check."
    t = m.get('stage_b') or m.get('stage_a') or {}; curve = t.get('curve', [])
    step = int(t['best_checkpoint'].rsplit('-', 1)[1]) if t.get('best_checkpoint') else None
    return next((c for c in curve if c['step'] == step), curve[-1] if curve else {})

def budget_cells(m:dict) -> list:
    "One alignment's cells of the comparison: its steps, its minutes, its item targets per second (stage A / B), stage B's NDCG@10 at each check, and the validation figures it kept."
    a, b = m.get('stage_a', {}), m.get('stage_b', {}); k = kept_check(m)
    mins = sum(t.get('seconds', 0) + t.get('validation_seconds', 0) for t in (a, b)) / 60
    curve = ', '.join(f"{c.get('ndcg@10', float('nan')):.3f}" for c in b.get('curve', []))
    rate = ' / '.join(f"{t['targets_per_s']:.1f}" if t.get('targets_per_s') is not None else '—' for t in (a, b))
    return [f"{a.get('steps', '—')} + {b.get('steps', '—')}", f'{mins:.0f}', rate, curve or '—', str(k.get('step', '—')),
            *(f"{k.get(c, float('nan')):.{d}f}" for c, d in (('hit@10', 3), ('ndcg@10', 3), ('L1', 3), ('valid_unconstrained', 2)))]

def budget_row(label:str, m:dict) -> str:
    "One alignment as a row of the comparison (`budget_cells`), labelled."
    return '| ' + ' | '.join([label, *budget_cells(m)]) + ' |'

def dense_record(run:Path, reports:Path) -> Path|None:
    "The dense head's metrics: the run folder's own, else the committed `reports/dense_*.json` whose `run` is this folder (a head not retrained here), else None."
    if (own := run/'dense'/'metrics.json').exists(): return own
    return next((f for f in sorted(reports.glob('dense_*.json')) if Path(json.loads(f.read_text()).get('run', '')).resolve() == run.resolve()), None)

def decoding_lines(res:dict) -> list:
    "The TalkWalk variants' decoding settings: the evaluation's own fields where it recorded them (`results['decoding']`), else its notes on the priors (an evaluation before those fields)."
    if not (dec := res.get('decoding')):
        return [f'\nNote: {n}' for n in res.get('notes', []) if 'popularity prior' in n or "prior from the user's history" in n]
    cols = [('guidance', 'guidance'), ('item_prior', 'popularity prior'), ('history_prior', 'history prior'), ('history_decay', 'history recency'), ('attribute_bonus', 'reader bonus')]
    return ['', "Decoding settings of each TalkWalk variant, as the evaluation recorded them (priors' weights; recency: the history centroid weighs the item j steps before the last decay^j):", '',
            '| variant | ' + ' | '.join(c for _, c in cols) + ' | validated by |', '|---|' + '---|' * (len(cols) + 1),
            *[f"| {n} | " + ' | '.join(f'{d[k]:g}' for k, _ in cols) + f" | {d.get('validated_by') or 'EngineConfig defaults'} |" for n, d in dec.items()]]

def build(run:Path, reports:Path, align_config:str|None=None, script:str='scripts/ranking_benchmark.sh', compare:dict|None=None) -> tuple:
    "`(markdown, summary dict)`; `align_config` and `script` name the commands that made the run (default: the benchmark's); `compare` maps a label to another alignment's metrics file (same data and SIDs: another schedule or an ablation), compared row by row."
    m = json.loads((run/'alignment'/'metrics.json').read_text()); cfg = yaml.safe_load((run/'alignment'/'config.yaml').read_text())
    res = json.loads((reports/f"results_{m['dataset']}.json").read_text())
    thr = json.loads((reports/'train_throughput.json').read_text()) if (reports/'train_throughput.json').exists() else None
    S, A = res['ranking']['sample'], res['ranking']['all_users']
    out = [f"# Ranking: the LLM as a recommender ({m['dataset']})", '',
           f"Alignment: `talkwalk align --config {align_config or 'configs/ranking/' + m['dataset'] + '-alignment.yaml'} --run {run}` (the upstream stages' configs and "
           f"every command in order: `{script}`). Test evaluation: `{res['command']}`{carry_note(res)} ({res['config']['n_llm_users']} seeded test users for every method, "
           f"{res['config']['bootstrap']} bootstrap resamples; the baselines also on all {res['split']['test_users']:,} test users). Validation figures come from "
           "the validation split only; nothing here was tuned on test.", '',
           f"Training on: {m['machine']}.", '',
           f"Training examples: {m['examples']:,} ({', '.join(f'{k} {v:,}' for k, v in m.get('examples_by_kind', {}).items())}); history cap "
           f"{cfg['max_history'] or res['split']['max_history']}; loss on every history item's SID: {cfg['history_loss']}; batch {cfg['batch_size']}; bf16 {cfg['bf16']}.", '',
           '## Test split (leave-one-out, full-catalogue ranking)', '',
           '| method | Hit@10 (sample) | NDCG@10 (sample) | L1 (sample) | valid SIDs unconstrained | Hit@10 (all users) | NDCG@10 (all users) |', '|---|---|---|---|---|---|---|']
    for name, s in S.items():
        a = A.get(name, {})
        out.append(f"| {name} | {format_ci(s.get('hit@10'))} | {format_ci(s.get('ndcg@10'))} | {format_ci(s.get('L1'))} | {format_ci(s.get('valid_format'), 2)} | {format_ci(a.get('hit@10'))} | {format_ci(a.get('ndcg@10'))} |")
    for name, why in res.get('not_run', {}).items(): out.append(f'| {name} | {why} | | | | | |')
    out += decoding_lines(res)
    if (sm := run/'baselines'/'sasrec'/'metrics.json').exists():  # how long SASRec trained: a capped run is a weaker baseline, and the reader should know
        q = json.loads(sm.read_text())
        out += ['', f"SASRec (RecBole, `make sasrec`): {q['epochs_trained']} epochs of at most {q['max_epochs']}, best validation epoch {q['best_epoch']}, "
                f"{'stopped early' if q['stopped_early'] else 'not stopped early: still improving at the cap, so its figures are a lower bound on a fully trained SASRec'}; "
                f"{q['wall_time_s'] / 60:.0f} min on {q['threads']} threads."]
    excl = m.get('validation', {}).get('excludes_training_items')
    out += ['', f"## Validation during training ({cfg['val_users']} fixed validation users; "
            + ("each user's training items excluded, as the test protocol excludes everything before the target)" if excl else
               "this run's validation did NOT exclude the users' training items (it predates that change), so its figures are lower than the test protocol's would be; the test evaluation above excludes them)"), '',
            '| model | users | Hit@10 | NDCG@10 | L1 | L1-2 | L1-3 | valid unconstrained |', '|---|---|---|---|---|---|---|---|']
    out += [val_row(n, m[k]) for n, k in (('before training', 'before'), ('stage A (new rows only)', 'after_a'), ('stage A + B', 'after_b')) if k in m]
    out += ['', '| phase | steps | train s | validation s | tokens/s | item targets/s | loss first -> last | kept checkpoint |', '|---|---|---|---|---|---|---|---|']
    for ph in ('stage_a', 'stage_b'):
        if ph in m:
            t = m[ph]; out.append(f"| {ph} | {t['steps']} | {t['seconds']} | {t['validation_seconds']} | {t['tokens_per_s']} | {t['targets_per_s']} | "
                                  f"{t['loss_first']:.3f} -> {t['loss_last']:.3f} | {t.get('best_checkpoint') or 'last'} |")
    out += ['', 'The validation curve against training time (each check; the kept checkpoint is the best NDCG@10):', '', '| phase | step | minutes | Hit@10 | NDCG@10 | L1 | valid unconstrained |', '|---|---|---|---|---|---|---|']
    for ph in ('stage_a', 'stage_b'):
        for c in m.get(ph, {}).get('curve', []):
            out.append(f"| {ph} | {c['step']} | {c['seconds'] / 60:.1f} | {c.get('hit@10', float('nan')):.3f} | {c.get('ndcg@10', float('nan')):.3f} | {c.get('L1', float('nan')):.3f} | {c.get('valid_unconstrained', float('nan')):.2f} |")
    if compare:  # what another schedule or an ablated setting buys: the same data and SIDs, each row's figures from its own run
        out += ['', "## Other alignments on the same data and SIDs: schedules and ablations (validation only, the same 100 users; each alignment's own metrics file)", '',
                '| alignment | steps A + B | minutes (training + validation) | item targets / s, A / B | stage B NDCG@10 at each check | kept step | Hit@10 | NDCG@10 | L1 | valid unconstrained |', '|---|---|---|---|---|---|---|---|---|---|',
                budget_row(f"this run (stage B schedule {cfg.get('b_steps')} steps)", m)]
        others = {label: (path, json.loads(Path(path).read_text())) for label, path in compare.items()}
        out += [budget_row(f"{label} (`{path}`)", o) for label, (path, o) in others.items()]
    if thr:
        out += ['', f"## Training throughput: float32 vs bf16 autocast (`{thr['command']}`, {thr['machine']})", '',
                f"Batches of {thr['batch_size']} sequence windows ({thr['window_items']} items each), interleaved in one process.", '',
                '| phase | float32 tokens/s | bf16 tokens/s | speed-up (median of rounds) | first-step loss fp32 / bf16 |', '|---|---|---|---|---|']
        out += [f"| stage {k.upper()} | {v['fp32_tokens_per_s']:.1f} | {v['bf16_tokens_per_s']:.1f} | {v['speedup']}x | {v['first_loss_fp32']:.4f} / {v['first_loss_bf16']:.4f} |" for k, v in thr['summary'].items()]
    pop = A.get('popularity', {}); sas = A.get('sasrec', {})
    gen = {k: v for k, v in S.items() if k.startswith('talkwalk-') and 'dense' not in k}
    # the variant the engine serves (stage B at the dial's validated settings) where it was evaluated; else the best on the sample
    best = 'talkwalk-b' if 'talkwalk-b' in gen else max(gen, key=lambda k: gen[k]['ndcg@10']['mean']) if gen else None
    summary = {'dataset': m['dataset'], 'best_generative': best,
               'generative': {k: {c: v[c] for c in ('hit@10', 'ndcg@10', 'L1', 'valid_format') if c in v} for k, v in gen.items()},
               'popularity_all': {c: pop.get(c) for c in ('hit@10', 'ndcg@10')}, 'text_knn_all': {c: A.get('text-knn', {}).get(c) for c in ('hit@10', 'ndcg@10')}, 'sasrec_all': {c: sas.get(c) for c in ('hit@10', 'ndcg@10')},
               'dense': {k: {c: v[c] for c in ('hit@10', 'ndcg@10')} for k, v in S.items() if 'dense' in k}}
    if best:
        g = gen[best]; out += ['', f"## Targets of issue 14 ({'the served generative variant' if best == 'talkwalk-b' else 'best generative variant on the sample'}: {best})", '',
                               '| target | now | floor | aim | reached |', '|---|---|---|---|---|']
        lo_h, lo_n = g['hit@10']['lo'], g['ndcg@10']['lo']
        out.append(f"| Hit@10 / NDCG@10 | {format_ci(g['hit@10'])} / {format_ci(g['ndcg@10'])} | CI lower bound above popularity's {pop['hit@10']['mean']:.3f} / {pop['ndcg@10']['mean']:.3f} | "
                   + (f"SASRec's {sas['hit@10']['mean']:.3f} / {sas['ndcg@10']['mean']:.3f} (same run)" if sas else "SASRec, not run in this evaluation") + " | "
                   f"{'floor' if lo_h > pop['hit@10']['mean'] and lo_n > pop['ndcg@10']['mean'] else 'no: lower bounds ' + f'{lo_h:.3f} / {lo_n:.3f}'} |")
        if (tk := A.get('text-knn')) and (ts := S.get('text-knn')):  # Amazon Scientific's floor is text kNN's NDCG@10 (all users); the sample's is the like-for-like one
            n = g['ndcg@10']
            out.append(f"| NDCG@10 against text kNN (Amazon Scientific's floor) | {format_ci(n)} | above text kNN's {tk['ndcg@10']['mean']:.3f} (all users; {ts['ndcg@10']['mean']:.3f} on the same sample) | "
                       + (f"SASRec's {sas['ndcg@10']['mean']:.3f} (all users)" if sas else 'SASRec, not run') + " | "
                       f"mean {side(n['mean'], tk['ndcg@10']['mean'])} all users' text kNN (CI lower bound {n['lo']:.3f}); "
                       f"{side(n['mean'], ts['ndcg@10']['mean'])} the same sample's, CIs {'overlap' if n['lo'] <= ts['ndcg@10']['hi'] and ts['ndcg@10']['lo'] <= n['hi'] else 'apart'} |")
        out.append(f"| L1 accuracy | {format_ci(g['L1'])} | 0.30 | 0.80 | {'yes' if g['L1']['mean'] >= 0.3 else 'no'} |")
        out.append(f"| unconstrained valid-SID rate | {format_ci(g.get('valid_format'), 2)} | 0.90 | 1.00 | {'yes' if g.get('valid_format', {}).get('mean', 0) >= 0.9 else 'no'} |")
        for k, v in summary['dense'].items():
            h, p = v['hit@10'], pop['hit@10']['mean']
            ps = S['popularity']['hit@10']['mean']  # popularity on the same sample: the like-for-like comparison
            reached = ('yes, CI lower bound above' if h['lo'] > p else f"no: mean {'above' if h['mean'] > p else 'below'} it, CI lower bound {h['lo']:.3f} below") + \
                      f"; popularity on the same sample {ps:.3f}: mean {'above' if h['mean'] > ps else 'below'}; generative {g['hit@10']['mean']:.3f}: {side(h['mean'], g['hit@10']['mean'])}"
            out.append(f"| {k} Hit@10 | {format_ci(h)} | above popularity ({p:.3f}) | above the generative head | {reached} |")
    if dense_file := dense_record(run, reports):
        d = json.loads(dense_file.read_text()); c = d['config']
        out += ['', '## The dense head of this run (validation figures: reports/dense.md)', '',
                *([f'Not retrained in this folder: the committed record `{dense_file}` of the head whose test figures are carried over.', ''] if dense_file.parent != run/'dense' else []),
                f"Training users: {c['users'] or 'all'} ({d['examples']['target']:,} target contexts, {d['contexts']:,} contexts in all); item space: {d.get('item_space', 'content')}; "
                f"item prior: {'on' if c.get('item_prior') else 'off'}; kept epoch {d['best']['epoch']} of {c['epochs']} ({c.get('keep', 'best')}); validation ({c['val_users']} users) "
                f"Hit@10 {d['best']['val_hit@10']:.3f}, NDCG@10 {d['best']['val_ndcg@10']:.3f}, steer share {d['best']['steer_share']:.3f}; wall time {d['wall_s'] / 60:.1f} min (features and ablation included)."]
    if compare: summary['budgets'] = {'this run': kept_check(m), **{label: kept_check(o) for label, (_, o) in others.items()}}
    return '\n'.join(out) + '\n', summary

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', required=True); ap.add_argument('--reports', default='reports'); ap.add_argument('--out', default=None)
    ap.add_argument('--align-config', default=None); ap.add_argument('--script', default='scripts/ranking_benchmark.sh')
    ap.add_argument('--compare', action='append', default=[], help="LABEL=PATH of another alignment's metrics.json (repeatable)")
    a = ap.parse_args(); md, summ = build(Path(a.run), Path(a.reports), a.align_config, a.script, dict(e.split('=', 1) for e in a.compare))
    out = Path(a.out or f"{a.reports}/ranking_{summ['dataset']}")
    write_json_atomic(out.with_suffix('.json'), summ); print('wrote', write_text_atomic(out.with_suffix('.md'), md))
