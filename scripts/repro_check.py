"""reports/repro_<name>.md: does a rebuilt run reproduce a committed one? Side by side, from files committed commands wrote: the
alignment's validation checks (loss, Hit@10, NDCG@10, L1, valid SIDs at every check of each stage), the dial's validation points at the
settings both dials validated, and the test evaluation's figures of the TalkWalk variants, each with the difference rebuilt - committed.
Nothing here is tuned: both sides are fixed runs; the page only reads them.

    python scripts/repro_check.py --name NAME [--alignment COMMITTED.json=REBUILT.json] [--dial COMMITTED.json=REBUILT.json]
        [--results COMMITTED.json=REBUILT.json --methods talkwalk-b,...] [--command '...'] [--out-dir reports]"""
import argparse, json, sys
from pathlib import Path
from talkwalk.utils import machine_info, write_json_atomic, write_text_atomic

CHECK_COLS = ('hit@10', 'ndcg@10', 'L1', 'valid_unconstrained')
RANK_COLS = ('hit@10', 'ndcg@10', 'mrr@10', 'L1', 'L1-2', 'L1-3', 'valid_format', 'coverage', 'diversity', 'novelty')
DIAL_CURVES = {'decay_curve': ('history_decay', ('hit@10', 'ndcg@10')), 'prior_curve': ('item_prior', ('hit@10', 'ndcg@10', 'l1')),
               'history_prior_curve': ('history_prior', ('hit@10', 'ndcg@10', 'l1')), 'curve': ('guidance', ('attribute', 'hit_has', 'hit_unsteered')),
               'bonus_curve': ('attribute_bonus', ('attribute', 'hit_has', 'hit_unsteered'))}  # a dial's curves -> (the setting each point is at, the figures compared)

def pair(spec:str, flag:str) -> tuple:
    "`(committed, rebuilt)` JSON contents from 'COMMITTED=REBUILT', naming a path that is missing."
    try: a, b = spec.split('=')
    except ValueError: raise SystemExit(f'{flag} {spec!r}: expected COMMITTED.json=REBUILT.json')
    for p in (a, b):
        if not Path(p).is_file(): raise SystemExit(f'{flag}: {p} not found (run its command first: scripts/steer_benchmark.sh)')
    return json.loads(Path(a).read_text()), json.loads(Path(b).read_text())

def mean(v) -> float|None:
    "A figure's value, whether stored bare or as {'mean': ...}."
    return v.get('mean') if isinstance(v, dict) else v

def row(what:str, a, b) -> dict:
    "One compared figure: committed `a`, rebuilt `b`, their difference (None where either is missing)."
    a, b = mean(a), mean(b)
    return {'what': what, 'committed': a, 'rebuilt': b, 'diff': None if a is None or b is None else b - a}

def alignment_rows(old:dict, new:dict) -> list:
    "Each stage's steps, first and last loss, kept checkpoint and every validation check both runs made at the same step."
    rows = []
    for ph in ('stage_a', 'stage_b'):
        a, b = old.get(ph, {}), new.get(ph, {})
        if not a and not b: continue
        rows += [row(f'{ph}: {k}', a.get(k), b.get(k)) for k in ('steps', 'loss_first', 'loss_last')]
        rows.append({'what': f'{ph}: kept checkpoint', 'committed': a.get('best_checkpoint'), 'rebuilt': b.get('best_checkpoint'), 'diff': None})
        at = {c['step']: c for c in b.get('curve', [])}
        rows += [row(f"{ph}: step {c['step']} {k}", c.get(k), at[c['step']].get(k)) for c in a.get('curve', []) if c['step'] in at for k in CHECK_COLS]
    return rows

def dial_head(d:dict) -> dict:
    "The generative head's dial: from a dial report (`heads`) or a run's dial file."
    return d.get('heads', {}).get('generative', d)

def dial_rows(old:dict, new:dict) -> list:
    "The dial's validation figures at every setting both dials validated, and the settings each chose."
    a, b = dial_head(old), dial_head(new); rows = []
    for curve, (key, cols) in DIAL_CURVES.items():
        at = {p[key]: p for p in b.get(curve, [])}
        rows += [row(f'{curve} at {key} {p[key]:g}: {c}', p.get(c), at[p[key]].get(c)) for p in a.get(curve, []) if p[key] in at for c in cols]
    return rows + [row(f'chosen {k}', a.get(k), b.get(k)) for k, _ in DIAL_CURVES.values() if k in a or k in b]

def results_rows(old:dict, new:dict, methods:list) -> list:
    "The sampled test users' ranking figures of each method, where both evaluations scored the same users; an error where the samples differ."
    if old['users']['sample'] != new['users']['sample']: raise SystemExit('--results: the two evaluations scored different test users: compare evaluations of one sample (n_llm_users, seed)')
    a, b = old['ranking']['sample'], new['ranking']['sample']
    if miss := [m for m in methods if m not in a or m not in b]: raise SystemExit(f'--methods {miss}: not in both evaluations (committed: {sorted(a)}; rebuilt: {sorted(b)})')
    return [row(f'{m}: {c}', a[m].get(c), b[m].get(c)) for m in methods for c in RANK_COLS if c in a[m] or c in b[m]]

def cell(v) -> str:
    "A figure as the page prints it."
    return '—' if v is None else f'{v:.4f}' if isinstance(v, float) else str(v)

def verdict(rows:list) -> str:
    "How closely the rebuilt side matched, in a line: figures within 0.0005, choices (checkpoints) equal, figures only one side has."
    diffs = [abs(r['diff']) for r in rows if r['diff'] is not None]; same = sum(d < 5e-4 for d in diffs)
    both = [r for r in rows if r['diff'] is None and None not in (r['committed'], r['rebuilt'])]
    missing = sum(None in (r['committed'], r['rebuilt']) for r in rows)
    return (f'{same} of {len(diffs)} figures agree to 3 decimals, {sum(d == 0 for d in diffs)} exactly (largest difference {max(diffs, default=0):.2g})'
            + (f"; {sum(r['committed'] == r['rebuilt'] for r in both)} of {len(both)} choices agree" if both else '')
            + (f'; {missing} figures on one side only' if missing else ''))

def page(name:str, sections:dict, command:str, machines:dict|None=None) -> str:
    "The markdown page: a verdict per section, the machines each side ran on (where their files say), then its figures."
    out = [f'# Reproduction check: {name}', '', f'Command: `{command}`; {machine_info()}.', '',
           'The committed run\'s figures (from its committed reports) against the same figures of the rebuilt run; `diff` is rebuilt - committed.', '']
    for title, rows in sections.items():
        out += [f'## {title}', '', verdict(rows), '']
        if m := (machines or {}).get(title): out += [f'Committed on: {m[0] or "—"}. Rebuilt on: {m[1] or "—"}.', '']
        out += ['| figure | committed | rebuilt | diff |', '|---|---|---|---|']
        out += [f"| {r['what']} | {cell(r['committed'])} | {cell(r['rebuilt'])} | {cell(r['diff'])} |" for r in rows] + ['']
    return '\n'.join(out)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--name', required=True, help='the page: <out-dir>/repro_<name>.md and .json')
    ap.add_argument('--alignment', help="COMMITTED=REBUILT alignment metrics (reports/alignment_*.json)")
    ap.add_argument('--dial', help='COMMITTED=REBUILT dial reports or dial files (the generative head)')
    ap.add_argument('--results', help="COMMITTED=REBUILT test evaluations (reports/results_*.json, <run>/eval/results.json)")
    ap.add_argument('--methods', default='talkwalk-b', help='the evaluation methods compared, comma separated')
    ap.add_argument('--command', default='', help='the command the page names (default: this one as run)')
    ap.add_argument('--out-dir', default='reports')
    a = ap.parse_args()
    if not (a.alignment or a.dial or a.results): ap.error('give at least one of --alignment, --dial, --results')
    sections, machines = {}, {}
    for title, spec, flag, rows in (('Alignment: validation checks', a.alignment, '--alignment', alignment_rows), ('Dial: validation points', a.dial, '--dial', dial_rows),
                                    ('Test evaluation: the sampled users', a.results, '--results', lambda o, n: results_rows(o, n, [m.strip() for m in a.methods.split(',') if m.strip()]))):
        if not spec: continue
        old, new = pair(spec, flag); sections[title] = rows(old, new); machines[title] = (old.get('machine'), new.get('machine'))
    command = a.command or 'python ' + ' '.join(sys.argv).replace(str(Path.cwd()) + '/', '')
    out = Path(a.out_dir)/f'repro_{a.name}'
    write_json_atomic(out.with_suffix('.json'), {'name': a.name, 'command': command, 'machine': machine_info(),
                                                  'verdicts': {t: verdict(r) for t, r in sections.items()}, 'machines': machines, 'sections': sections})
    write_text_atomic(out.with_suffix('.md'), page(a.name, sections, command, machines)); print('wrote', out.with_suffix('.md'))

if __name__ == '__main__': main()
