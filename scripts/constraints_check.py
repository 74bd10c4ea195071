"""System constraints on a trained run: seeded random constraint sets (from the catalogue's own fields) through each head,
counting returned items that break a rule (checked row by row, apart from the engine's own filtering) and sets refused as
unsatisfiable. Writes <out>.json and <out>.md.

    python scripts/constraints_check.py --run runs/ml-100k --modes generative --sets 300 --out reports/constraints
"""
import argparse, json, time
from pathlib import Path
from talkwalk.eval_steer import constraint_suite
from talkwalk.recommender import load_recommender
from talkwalk.utils import machine_info, git_state, write_json_atomic, write_text_atomic

def main(a):
    out = Path(a.out); report = json.loads(out.with_suffix('.json').read_text()) if out.with_suffix('.json').exists() else {}
    for mode in a.modes.split(','):
        rec = load_recommender(a.run, mode=mode)
        t0 = time.time(); res = constraint_suite(rec, n=a.sets, k=a.k, seed=a.seed)
        report[f'{Path(a.run).name}/{mode}'] = {**res, 'run': a.run, 'mode': mode, 'dataset': rec.dataset.name, 'items': len(rec.dataset.items),
                                               'seconds': round(time.time() - t0, 1), 'machine': machine_info(), 'git': git_state(),
                                               'command': f'python scripts/constraints_check.py --run {a.run} --modes {a.modes} --sets {a.sets} --k {a.k} --seed {a.seed} --out {a.out}'}
    write_json_atomic(out.with_suffix('.json'), report)
    rows = ['| run / head | data set | constraint sets | items returned | items breaking a rule | satisfied | sets refused (nothing satisfies) |', '|---|---|---|---|---|---|---|']
    rows += [f"| {k} | {v['dataset']} | {v['sets']} | {v['items_returned']:,} | {v['violations']} | {v['satisfied_share']:.1%} | {v['refused']} |" for k, v in report.items()]
    cmds = '\n'.join(f"- `{v['command']}` ({v['machine']}, git {v['git']}, {v['seconds']} s)" for v in report.values())
    write_text_atomic(out.with_suffix('.md'), f'''# System constraints: every returned item satisfies them

Seeded random constraint sets drawn from each catalogue's own fields (`talkwalk.eval_steer.random_constraints`: include one
value of a categorical/multilabel field, exclude up to two, a numeric range between two random quantiles, 20 banned item ids;
each part with its own probability), one-shot requests with a random 5-item history, top-{a.k}; every returned item checked
against the rules row by row (`constraint_violations`, independent of the engine's `allowed_items`). Sets that no unseen
item satisfies are refused with an error, not answered.

{chr(10).join(rows)}

Commands:
{cmds}
''')
    print(out.with_suffix('.md').read_text())

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--run', required=True, help='a trained run folder'); ap.add_argument('--modes', default='generative', help='heads, comma separated')
    ap.add_argument('--sets', type=int, default=300); ap.add_argument('--k', type=int, default=10); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='reports/constraints', help='report path without suffix (results of other runs in it are kept)')
    main(ap.parse_args())
