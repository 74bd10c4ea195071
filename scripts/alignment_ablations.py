"""reports/alignment_ablations_<dataset>.md: issue 14's alignment ablations at equal wall time in one page, from committed files
only (no run folder needed): each arm's config and the copy of its alignment's metrics.json that the benchmark script commits. Per
arm: what its config changes against the arm before it, or against the arm `--against` names (the first is the reference), the trainable parameters, steps, minutes, item targets per
second, stage B's checks and the validation figures of the checkpoint it kept, with Hit@10's 95% CI over the validation users; then
every arm's validation curve against training time.

    python scripts/alignment_ablations.py --arm 'LABEL=CONFIG.yaml=METRICS.json' ... [--against 'LABEL=REFERENCE LABEL' ...] [--out ...]"""
import argparse, json, sys
from pathlib import Path
import yaml
from scipy.stats import binomtest
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ranking_report import budget_cells, kept_check  # the same kept check and comparison cells as the ranking page
from talkwalk.utils import write_json_atomic, write_text_atomic

def hit_ci(check:dict) -> str:
    "Hit@10 of a validation check with its 95% Wilson interval over the check's users ('—' where the check lacks either)."
    if check.get('hit@10') is None or not check.get('users'): return '—'
    n = int(check['users']); ci = binomtest(round(check['hit@10'] * n), n).proportion_ci(method='wilson')
    return f"{check['hit@10']:.3f} [{ci.low:.3f}, {ci.high:.3f}]"

def config_changes(ref:dict, cfg:dict) -> str:
    "The settings `cfg` changes against `ref`, as `key: ref -> cfg` ('none' where they agree)."
    keys = [k for k in dict.fromkeys([*ref, *cfg]) if ref.get(k) != cfg.get(k)]
    return '; '.join(f'{k}: {ref.get(k, "—")} -> {cfg.get(k, "—")}' for k in keys) or 'none'

def trainable(m:dict) -> str:
    "Trainable parameters of stage B (where the metrics record them), in millions."
    n = m.get('stage_b', {}).get('trainable_params')
    return f'{n / 1e6:.1f} M' if n else '—'

def autocast(m:dict) -> str:
    "Whether the arm trained under bf16 autocast ('yes', 'no', or per stage where they differ): arms on hardware with and without native bf16 differ here."
    flags = [m[ph]['bf16'] for ph in ('stage_a', 'stage_b') if 'bf16' in m.get(ph, {})]
    return '—' if not flags else ('yes' if flags[0] else 'no') if len(set(flags)) == 1 else ' / '.join('yes' if f else 'no' for f in flags)

def load_arm(spec:str) -> tuple:
    "`(label, config dict, metrics dict, metrics path)` from 'LABEL=CONFIG=METRICS', naming a file that is missing."
    try: label, cfg_path, m_path = spec.rsplit('=', 2)
    except ValueError: raise SystemExit(f"--arm {spec!r}: expected 'LABEL=CONFIG.yaml=METRICS.json'")
    for p in (cfg_path, m_path):
        if not Path(p).is_file(): raise SystemExit(f'--arm {label!r}: {p} not found (run its alignment and commit its metrics first: scripts/steer_benchmark.sh)')
    return label, yaml.safe_load(Path(cfg_path).read_text()) or {}, json.loads(Path(m_path).read_text()), m_path

def references(labels:list, # the arms' labels, in page order
               against:dict|None=None, # arm label -> the label of the arm its changes are read against
              ) -> list:
    "Per arm, the index of the arm its changes are read against: the arm above, or the one `against` names (None for the first)."
    pos = {label: i for i, label in enumerate(labels)}
    if bad := [f'{a}={r}' for a, r in (against or {}).items() if a not in pos or r not in pos or a == r]:
        raise SystemExit(f'--against {bad}: each side must name another --arm label (arms: {labels})')
    return [pos[(against or {})[label]] if label in (against or {}) else (i - 1 if i else None) for i, label in enumerate(labels)]

def build(arms:list, against:dict|None=None) -> tuple:
    "`(markdown, summary dict)` for the arms `[(label, config, metrics, metrics path), ...]`, each arm's changes read against the arm before it or the one `against` names."
    dataset = arms[0][2]['dataset']
    if bad := [label for label, _, m, _ in arms if m['dataset'] != dataset]: raise SystemExit(f'arms {bad} are not on {dataset}: compare alignments of one data set')
    out = [f'# Alignment ablations at equal wall time ({dataset})', '',
           "Each arm is one `talkwalk align` run on a copy of one run folder's data, contrastive and SID stages, or of a rebuild of that folder "
           "from the same configs (commands in `scripts/steer_benchmark.sh`, whose comments say which), validated on the same fixed validation users; nothing here touches the test split. Its figures are "
           "those of the checkpoint the trainer kept (best NDCG@10). With 100 validation users Hit@10's 95% CI spans about ±0.05, so only a gap "
           "wider than that is a finding. Equal wall time means equal compute only on one machine: compare arms of one budget and one bf16 "
           "setting (machine lines name the CPU and its native bf16 only for arms run since `machine_info` learnt to; for the others, bf16 autocast and the item targets per second tell machines apart). Stage B "
           "trainable counts every parameter marked trainable: a top-layer fine-tune marks the whole embedding matrix, whose original rows a "
           "gradient hook keeps frozen, so it trains fewer than it counts (with SmolLM2-135M's 49,152 x 576 matrix, 28.3 M fewer).", '',
           '| arm | changes against the arm above (or the arm named) | stage B trainable | steps A + B | minutes (training + validation) | item targets / s, A / B | '
           'stage B NDCG@10 at each check | kept step | Hit@10 | NDCG@10 | L1 | valid unconstrained | Hit@10, 95% CI | bf16 autocast | machine |',
           '|---|' * 1 + '---|' * 14]
    refs = references([a[0] for a in arms], against)
    changes = ['the reference' if r is None else config_changes(arms[r][1], arm[1]) + ('' if r == i - 1 else f' (against {arms[r][0]})')
               for i, (arm, r) in enumerate(zip(arms, refs))]
    for (label, cfg, m, path), change in zip(arms, changes):
        out.append('| ' + ' | '.join([f'{label} (`{path}`)', change, trainable(m), *budget_cells(m), hit_ci(kept_check(m)), autocast(m), m.get('machine', '—')]) + ' |')
    out += ['', 'The validation curves against training time (each check; minutes since its stage began):', '', '| arm | phase | step | minutes into the stage | Hit@10 | NDCG@10 | L1 | valid unconstrained |', '|---|---|---|---|---|---|---|---|']
    for label, _, m, _ in arms:
        for ph in ('stage_a', 'stage_b'):
            out += [f"| {label} | {ph} | {c['step']} | {c['seconds'] / 60:.1f} | " + ' | '.join(f"{c.get(k, float('nan')):.{d}f}" for k, d in (('hit@10', 3), ('ndcg@10', 3), ('L1', 3), ('valid_unconstrained', 2))) + ' |'
                    for c in m.get(ph, {}).get('curve', [])]
    summary = {'dataset': dataset, 'arms': {label: {'metrics': path, 'changes': change, 'kept': kept_check(m)} for (label, _, m, path), change in zip(arms, changes)}}
    return '\n'.join(out) + '\n', summary

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--arm', action='append', required=True, help="LABEL=CONFIG.yaml=METRICS.json (repeatable; each arm's changes are read against the arm before it)")
    ap.add_argument('--against', action='append', default=[], help="LABEL=REFERENCE LABEL: read that arm's changes against another arm than the one above it (repeatable)")
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    if bad := [s for s in a.against if '=' not in s]: raise SystemExit(f"--against {bad}: expected 'LABEL=REFERENCE LABEL'")
    md, summ = build([load_arm(s) for s in a.arm], dict(s.rsplit('=', 1) for s in a.against))
    out = Path(a.out or f"reports/alignment_ablations_{summ['dataset']}")
    write_json_atomic(out.with_suffix('.json'), summ); print('wrote', write_text_atomic(out.with_suffix('.md'), md))
