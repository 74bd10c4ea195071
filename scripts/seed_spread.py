"""reports/seed_spread_<name>.md: how far the training seed alone moves a run's figures. Runs of one config that differ only in
`seed` (or, with --differ and --prefix, runs that differ in one setting, beside seeds that give the noise to read it against), side
by side, from files committed commands wrote: each run's alignment (every validation check, the kept checkpoint), its dial's
validation points at the settings each dial validated, and the test figures of the named methods on one sample of users, with each
later run's paired difference from the first (per user, a seeded bootstrap over the shared users) and the issue's floor check
(the CI's lower bound against popularity on all test users) per run. Nothing here is tuned: every side is a fixed run.

    python scripts/seed_spread.py --name NAME --run 'LABEL=ALIGNMENT.json,DIAL.json,RESULTS.json' --run ... \\
        --methods talkwalk-b,... --baselines reports/results_ml-100k.json [--differ TEXT --prefix PAGE --no-mean] [--out-dir reports]"""
import argparse, json, shlex, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
from repro_check import CHECK_COLS, DIAL_CURVES, dial_head, mean  # noqa: E402  (scripts/repro_check.py)
from talkwalk.metrics import bootstrap_ci, format_ci
from talkwalk.utils import machine_info, write_json_atomic, write_text_atomic

TEST_COLS = ('hit@10', 'ndcg@10', 'L1', 'valid_format')
FLOOR_COLS = ('hit@10', 'ndcg@10')  # the floor: the CI's lower bound above popularity's figure on all test users

def load_run(spec:str) -> dict:
    "One run's files from 'LABEL=ALIGNMENT.json,DIAL.json,RESULTS.json', naming a path that is missing."
    try: label, paths = spec.split('='); files = paths.split(',')
    except ValueError: files = []
    if len(files) != 3: raise SystemExit(f'--run {spec!r}: expected LABEL=ALIGNMENT.json,DIAL.json,RESULTS.json')
    for p in files:
        if not Path(p).is_file(): raise SystemExit(f'--run {label}: {p} not found (run its command first: scripts/steer_benchmark.sh)')
    return dict(zip(('label', 'alignment', 'dial', 'results'), [label] + [json.loads(Path(p).read_text()) for p in files]), files=files)

def checks(al:dict) -> list:
    "Every validation check of an alignment, stage by stage, marking the checkpoint each stage kept."
    return [{'stage': ph, 'step': c['step'], 'kept': al[ph].get('best_checkpoint') == f"checkpoint-{c['step']}", **{k: c.get(k) for k in CHECK_COLS}}
            for ph in ('stage_a', 'stage_b') if ph in al for c in al[ph].get('curve', [])]

def dial_points(d:dict) -> list:
    "The generative head's dial: each curve's validation points, with the setting each is at and what it was validated on."
    h, on = dial_head(d), lambda p: f"{p['users']} users" if 'users' in p else f"{p['turns']} turns" if 'turns' in p else '—'
    return [{'curve': curve, 'setting': key, 'at': p[key], 'on': on(p), **{c: mean(p.get(c)) for c in cols}} for curve, (key, cols) in DIAL_CURVES.items() for p in h.get(curve, [])]

def per_user(res:dict, method:str, col:str) -> np.ndarray:
    "One method's per-user values of a figure on the sampled users, in the sample's order (NaN where undefined)."
    pu = res['per_user']['sample'][method]
    if [str(u) for u in pu['user_id']] != [str(u) for u in res['users']['sample']]: raise SystemExit(f'{method}: per-user rows are not in the sample order')
    return np.array([np.nan if v is None else v for v in pu.get(col, [None] * len(pu['user_id']))], float)

def paired_diff(a:dict, b:dict, method:str, col:str, n:int=1000) -> dict:
    "Run `b` - run `a` of one figure, user by user on the shared sample, with a seeded bootstrap CI (users undefined on either side left out)."
    return bootstrap_ci(per_user(b, method, col) - per_user(a, method, col), n=n, seed=0)

def run_mean(runs:list, method:str, col:str, n:int=1000) -> dict:
    "The runs' average of one figure, user by user (what the config gives, seed averaged out), with a seeded bootstrap CI."
    return bootstrap_ci(np.mean([per_user(r['results'], method, col) for r in runs], 0), n=n, seed=0)

def test_rows(runs:list, methods:list, n:int=1000,
              average:bool=True, # the runs' per-user average too (meaningful where they differ in seed alone)
             ) -> list:
    "Each method's test figures per run, their average over runs, and each later run's paired difference from the first; an error where the runs scored different users."
    first = runs[0]['results']
    for r in runs[1:]:
        if r['results']['users']['sample'] != first['users']['sample']: raise SystemExit(f"--run {r['label']}: scored other test users than {runs[0]['label']}: compare evaluations of one sample (n_llm_users, seed)")
    for m in methods:
        if miss := [r['label'] for r in runs if m not in r['results']['ranking']['sample']]: raise SystemExit(f'--methods {m}: not in the evaluation of {miss}')
    return [{'method': m, 'figure': c, 'runs': [r['results']['ranking']['sample'][m].get(c) for r in runs],
             'mean': run_mean(runs, m, c, n) if average else None, 'diffs': [paired_diff(first, r['results'], m, c, n) for r in runs[1:]]} for m in methods for c in TEST_COLS
            if any(r['results']['ranking']['sample'][m].get(c, {}).get('mean') is not None for r in runs)]

def floor_rows(tests:list, labels:list, method:str, baselines:dict) -> list:
    "From `test_rows`' figures, per run and for the runs' mean: the method's CI lower bound on the sample against popularity on all test users (the floor) and SASRec on the sample (the aim)."
    pop, sas = baselines['ranking']['all_users']['popularity'], baselines['ranking']['sample'].get('sasrec', {})
    figs = {t['figure']: t['runs'] + ([t['mean']] if t['mean'] else []) for t in tests if t['method'] == method}
    return [{'run': label, 'figure': c, 'lo': figs[c][i]['lo'], 'mean': figs[c][i]['mean'], 'popularity': pop[c]['mean'], 'sasrec': mean(sas.get(c))}
            for i, label in enumerate(labels + ['mean of the runs']) for c in FLOOR_COLS if i < len(figs[c])]

def num(v) -> str:
    "A bare figure as the page prints it."
    return '—' if v is None else f'{v:.3f}' if isinstance(v, float) else str(v)

def page(name:str, runs:list, tests:list, floors:list, command:str,
         differ:str='seed', # what the runs differ in, as the page says it
        ) -> str:
    "The markdown page: the alignments' checks, the dials' points, the test figures with paired differences, and the floor per run."
    labels, average = [r['label'] for r in runs], any(t['mean'] for t in tests)
    out = [f"# {'Seed spread' if differ == 'seed' else 'Paired runs'}: {name}", '', f'Command: `{command}`; {machine_info()}.', '',
           f"Runs of one config that differ only in `{differ}` ({', '.join(labels)}); each run's files: " + '; '.join(f"{r['label']}: {', '.join(f'`{f}`' for f in r['files'])}" for r in runs) + '.',
           'The alignments validate on the same 100 users (one check\'s Hit@10 moves by about ±0.05 at that size), the dials on the same validation users, '
           'the test evaluations on the same 300 test users. ' + ("`mean of the runs` averages each user's figure over the runs; " if average else '')
           + f"`diff` is a later run minus the first ({labels[0]}), user by user, with a seeded 95% bootstrap CI over those users.", '',
           '## Alignment: every validation check (100 validation users)', '',
           '| run | stage | step | kept | Hit@10 | NDCG@10 | L1 | valid unconstrained |', '|---|---|---|---|---|---|---|---|']
    out += [f"| {r['label']} | {c['stage']} | {c['step']} | {'yes' if c['kept'] else ''} | " + ' | '.join(num(c[k]) for k in CHECK_COLS) + ' |' for r in runs for c in checks(r['alignment'])]
    out += ['', '## Dial: validation points at the settings each dial validated', '',
            '`decay_curve` ranks by the history centroid alone (no LLM), so it is the same for every run.', '',
            '| run | curve | setting | validated on | figures |', '|---|---|---|---|---|']
    out += [f"| {r['label']} | {p['curve']} | {p['setting']} {p['at']:g} | {p['on']} | " + ', '.join(f'{k} {num(v)}' for k, v in p.items() if k not in ('curve', 'setting', 'at', 'on')) + ' |'
            for r in runs for p in dial_points(r['dial'])]
    out += ['', '## Test: the same 300 sampled users', '',
            '| method | figure | ' + ' | '.join(labels) + (' | mean of the runs' if average else '') + ' | ' + ' | '.join(f'diff {l}' for l in labels[1:]) + ' |',
            '|---' * (1 + 2 * len(labels) + average) + '|']
    out += [f"| {t['method']} | {t['figure']} | " + ' | '.join(format_ci(v) for v in t['runs']) + (f" | {format_ci(t['mean'])}" if average else '') + ' | '
            + ' | '.join(format_ci(d) for d in t['diffs']) + ' |' for t in tests]
    out += ['', "## The issue's floor: the CI's lower bound against popularity on all test users", '',
            '| run | figure | mean | CI lower bound | popularity (all users) | lower bound - popularity | SASRec (same users) | mean - SASRec |', '|---|---|---|---|---|---|---|---|']
    out += [f"| {f['run']} | {f['figure']} | {f['mean']:.3f} | {f['lo']:.3f} | {f['popularity']:.3f} | {f['lo'] - f['popularity']:+.3f} | {num(f['sasrec'])} | "
            + ('—' if f['sasrec'] is None else f"{f['mean'] - f['sasrec']:+.3f}") + ' |' for f in floors]
    return '\n'.join(out) + '\n'

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--name', required=True, help='the page: <out-dir>/<prefix>_<name>.md and .json')
    ap.add_argument('--run', action='append', required=True, help="LABEL=ALIGNMENT.json,DIAL.json,RESULTS.json, one per run, the first the reference")
    ap.add_argument('--methods', default='talkwalk-b', help='the evaluation methods compared, comma separated; the first gets the floor check')
    ap.add_argument('--baselines', required=True, help="the committed evaluation of the same sample (reports/results_*.json): popularity on all users, SASRec")
    ap.add_argument('--differ', default='seed', help="what the runs differ in, as the page says it (default: seed)")
    ap.add_argument('--prefix', default='seed_spread', help='the page: <out-dir>/<prefix>_<name>.md and .json')
    ap.add_argument('--no-mean', dest='average', action='store_false', help="leave out the runs' per-user average (where they differ in more than seed)")
    ap.add_argument('--bootstrap', type=int, default=1000, help='bootstrap resamples of the paired differences')
    ap.add_argument('--out-dir', default='reports')
    a = ap.parse_args()
    if len(a.run) < 2: ap.error('give at least two --run')
    runs, methods = [load_run(s) for s in a.run], [m.strip() for m in a.methods.split(',') if m.strip()]
    base = json.loads(Path(a.baselines).read_text())
    if base['users']['sample'] != runs[0]['results']['users']['sample']: raise SystemExit(f'--baselines {a.baselines}: scored other test users than the runs')
    tests = test_rows(runs, methods, a.bootstrap, a.average); floors = floor_rows(tests, [r['label'] for r in runs], methods[0], base)
    command = 'python ' + shlex.join(sys.argv).replace(str(Path.cwd()) + '/', '')
    out = Path(a.out_dir)/f'{a.prefix}_{a.name}'
    write_json_atomic(out.with_suffix('.json'), {'name': a.name, 'differ': a.differ, 'command': command, 'machine': machine_info(), 'runs': {r['label']: r['files'] for r in runs},
                                                  'machines': {r['label']: r['results'].get('machine') for r in runs},
                                                  'checks': {r['label']: checks(r['alignment']) for r in runs}, 'dial': {r['label']: dial_points(r['dial']) for r in runs},
                                                  'test': tests, 'floor': floors})
    write_text_atomic(out.with_suffix('.md'), page(a.name, runs, tests, floors, command, a.differ)); print('wrote', out.with_suffix('.md'))

if __name__ == '__main__': main()
