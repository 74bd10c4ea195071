"""The report scripts' own arithmetic: scripts/ranking_report.py's comparison of alignments finds each one's kept check, adds its minutes and gives its item targets per second; its dense-head record is the run's own; scripts/alignment_ablations.py's page names each arm's changed settings and its Hit@10 interval; scripts/repro_check.py pairs a rebuilt run's figures with the committed ones; scripts/seed_spread.py pairs seeds' test figures user by user. And every papermill profile sets only parameters its notebook declares."""
import json, sys
import pytest
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
import ranking_report  # noqa: E402  (scripts/ranking_report.py)

def _alignment(b_curve:list) -> dict:
    "Metrics shaped like `talkwalk align`'s: stage A 600 s + 60 s validation, stage B 1,200 s + 120 s."
    return {'stage_a': {'steps': 10, 'seconds': 600, 'validation_seconds': 60, 'targets_per_s': 40.0, 'best_checkpoint': 'checkpoint-10', 'curve': [{'step': 10, 'ndcg@10': 0.5}]},
            'stage_b': {'steps': 20, 'seconds': 1200, 'validation_seconds': 120, 'targets_per_s': 19.25, 'best_checkpoint': 'checkpoint-10', 'curve': b_curve}}

def test_budget_row_keeps_stage_b_best_check_and_total_minutes():
    m = _alignment([{'step': 10, 'hit@10': 0.1, 'ndcg@10': 0.05, 'L1': 0.2, 'valid_unconstrained': 0.9},
                    {'step': 20, 'hit@10': 0.3, 'ndcg@10': 0.04, 'L1': 0.1, 'valid_unconstrained': 0.8}])
    assert ranking_report.kept_check(m)['step'] == 10  # the trainer's kept checkpoint, not the last check or the best Hit@10; stage A's higher figure is ignored
    assert ranking_report.budget_row('x', m) == '| x | 10 + 20 | 33 | 40.0 / 19.2 | 0.050, 0.040 | 10 | 0.100 | 0.050 | 0.200 | 0.90 |'

def test_budget_row_without_stage_b_uses_stage_a():
    m = _alignment([]); del m['stage_b']
    assert ranking_report.kept_check(m) == {'step': 10, 'ndcg@10': 0.5}
    assert ranking_report.budget_row('a only', m).startswith('| a only | 10 + — | 11 | 40.0 / — | — | 10 |')

def test_kept_check_without_a_kept_checkpoint_is_the_last_check():
    m = _alignment([{'step': 10, 'ndcg@10': 0.05}, {'step': 20, 'ndcg@10': 0.04}]); del m['stage_b']['best_checkpoint']
    assert ranking_report.kept_check(m)['step'] == 20  # as the page's "kept checkpoint: last"

def test_dense_record_is_the_runs_own_else_the_committed_one_of_the_same_run(tmp_path):
    run, reports = tmp_path/'runs'/'ml-100k-collab', tmp_path/'reports'; run.mkdir(parents=True); reports.mkdir()
    (reports/'dense_ml-100k.json').write_text(json.dumps({'run': str(tmp_path/'runs'/'ml-100k')}))  # same data set, another run folder
    assert ranking_report.dense_record(run, reports) is None
    (reports/'dense_ml-100k-collab.json').write_text(json.dumps({'run': str(run)}))
    assert ranking_report.dense_record(run, reports) == reports/'dense_ml-100k-collab.json'
    (run/'dense').mkdir(); (run/'dense'/'metrics.json').write_text('{}')
    assert ranking_report.dense_record(run, reports) == run/'dense'/'metrics.json'  # a retrained head's own metrics win


def test_every_papermill_profile_sets_only_its_notebooks_parameters():
    "A profile key the notebook's parameters cell does not declare would be injected and silently ignored."
    import json, re, yaml
    root = Path(__file__).resolve().parents[1]
    params = {}
    for f in sorted((root / "configs" / "papermill").glob("*/*.yaml")):
        nb = f.stem.split("@")[0]
        if nb not in params:
            cells = json.loads((root / "nbs" / f"{nb}.ipynb").read_text())["cells"]
            src = "".join(next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))["source"])
            params[nb] = set(re.findall(r"^(\w+)\s*=", src, re.M))
        unknown = set(yaml.safe_load(f.read_text()) or {}) - params[nb]
        assert not unknown, f"{f.relative_to(root)}: {sorted(unknown)} not parameters of nbs/{nb}.ipynb"
    assert {"carry", "modes", "report_command"} <= params["05_eval"]

def test_decoding_lines_read_the_evaluations_fields_else_its_notes():
    notes = ['generative head stage b: the beam search fuses the training-popularity prior at weight 1 (...)', 'dense head: steering turns at guidance w = 0']
    older = ranking_report.decoding_lines({'notes': notes})
    assert older == [f'\nNote: {notes[0]}']  # an evaluation without the fields: its notes on the priors only
    dec = {'talkwalk-b': {'guidance': 0.0, 'item_prior': 1.0, 'history_prior': 16.0, 'history_decay': 0.8, 'attribute_bonus': 8.0, 'validated_by': 'runs/r/dial/generative.json'},
           'talkwalk-b-noprior': {'guidance': 0.0, 'item_prior': 0.0, 'history_prior': 16.0, 'history_decay': 0.8, 'attribute_bonus': 8.0, 'validated_by': None}}
    lines = ranking_report.decoding_lines({'notes': notes, 'decoding': dec})
    assert lines[-2:] == ['| talkwalk-b | 0 | 1 | 16 | 0.8 | 8 | runs/r/dial/generative.json |', '| talkwalk-b-noprior | 0 | 0 | 16 | 0.8 | 8 | EngineConfig defaults |']
    assert not any(l.startswith('\nNote:') for l in lines)  # the fields replace the notes

import alignment_ablations  # noqa: E402  (scripts/alignment_ablations.py)

def test_ablation_page_names_each_arms_changes_and_its_hit_interval(tmp_path):
    ref, top = {'b_mode': 'lora', 'b_lr': 0.001, 'lora_r': 16}, {'b_mode': 'top', 'b_lr': 0.0002, 'top_layers': 4}
    assert alignment_ablations.config_changes(ref, ref) == 'none'
    assert alignment_ablations.config_changes(ref, top) == 'b_mode: lora -> top; b_lr: 0.001 -> 0.0002; lora_r: 16 -> —; top_layers: — -> 4'
    assert alignment_ablations.hit_ci({'hit@10': 0.1, 'users': 100}) == '0.100 [0.055, 0.174]'  # Wilson interval of 10 hits in 100
    assert alignment_ablations.hit_ci({'hit@10': 0.1}) == '—'
    a = _alignment([{'step': 10, 'hit@10': 0.1, 'ndcg@10': 0.05, 'users': 100, 'seconds': 60}]) | {'dataset': 'ml-100k'}
    b = _alignment([{'step': 10, 'hit@10': 0.2, 'ndcg@10': 0.07, 'users': 100, 'seconds': 60}]) | {'dataset': 'ml-100k'}
    b['stage_b']['trainable_params'] = 14_200_000
    for m in (a, b): m['stage_a']['curve'][0]['seconds'] = 60
    md, summ = alignment_ablations.build([('lora', ref, a, 'a.json'), ('top', top, b, 'b.json')])
    assert summ['arms']['lora']['changes'] == 'the reference' and summ['arms']['top']['kept']['step'] == 10
    assert '| top (`b.json`) | b_mode: lora -> top; b_lr: 0.001 -> 0.0002; lora_r: 16 -> —; top_layers: — -> 4 | 14.2 M | 10 + 20 | 33 |' in md
    assert '| top | stage_b | 10 | 1.0 | 0.200 | 0.070 |' in md  # the curve, minutes into the stage
    assert alignment_ablations.autocast({'stage_a': {'bf16': True}, 'stage_b': {'bf16': True}}) == 'yes'
    assert alignment_ablations.autocast({'stage_a': {'bf16': False}, 'stage_b': {'bf16': True}}) == 'no / yes'
    assert alignment_ablations.autocast({}) == '—'

def test_ablation_page_reads_an_arm_against_the_arm_it_names():
    ref, top, hist = {'b_mode': 'lora', 'max_history': None}, {'b_mode': 'top', 'max_history': None}, {'b_mode': 'lora', 'max_history': 5}
    m = _alignment([{'step': 10, 'hit@10': 0.1, 'ndcg@10': 0.05, 'users': 100, 'seconds': 60}]) | {'dataset': 'ml-100k'}
    m['stage_a']['curve'][0]['seconds'] = 60
    arms = [('lora', ref, m, 'a.json'), ('top', top, m, 'b.json'), ('hist5', hist, m, 'c.json')]
    _, summ = alignment_ablations.build(arms, {'hist5': 'lora'})
    assert summ['arms']['top']['changes'] == 'b_mode: lora -> top'  # the arm above, as before
    assert summ['arms']['hist5']['changes'] == 'max_history: None -> 5 (against lora)'  # not b_mode: top -> lora
    assert alignment_ablations.build(arms)[1]['arms']['hist5']['changes'] == 'b_mode: top -> lora; max_history: None -> 5'
    with pytest.raises(SystemExit, match='another --arm label'): alignment_ablations.build(arms, {'hist5': 'nope'})
    with pytest.raises(SystemExit, match='another --arm label'): alignment_ablations.build(arms, {'lora': 'lora'})

def test_ablation_page_refuses_arms_of_two_data_sets_and_a_missing_file(tmp_path):
    a, b = _alignment([]) | {'dataset': 'ml-100k'}, _alignment([]) | {'dataset': 'amazon-scientific'}
    with pytest.raises(SystemExit, match='not on ml-100k'): alignment_ablations.build([('x', {}, a, 'a'), ('y', {}, b, 'b')])
    (tmp_path/'c.yaml').write_text('b_mode: top\n')
    with pytest.raises(SystemExit, match='m.json not found'): alignment_ablations.load_arm(f"top={tmp_path/'c.yaml'}={tmp_path/'m.json'}")
    with pytest.raises(SystemExit, match='expected'): alignment_ablations.load_arm('no separators')

def test_committed_alignment_configs_load_and_leave_bf16_to_the_hardware():
    from talkwalk.alignment import AlignmentConfig
    from talkwalk.utils import config_from
    root = Path(__file__).parents[1]; paths = [root/'configs'/'alignment.yaml', *sorted((root/'configs'/'ranking').glob('*alignment*.yaml'))]  # stage configs, not papermill parameters
    assert len(paths) >= 8
    for p in paths:
        cfg = config_from(AlignmentConfig, None, p)  # unknown fields are errors
        assert cfg.bf16 is None, f'{p}: bf16 {cfg.bf16}; leave it null (forced bf16 on a CPU without native bf16 trains many times slower)'

import repro_check  # noqa: E402  (scripts/repro_check.py)

def test_repro_check_pairs_checks_by_step_and_counts_what_agrees():
    old = {'stage_a': {'steps': 3, 'loss_first': 2.0, 'loss_last': 1.0, 'best_checkpoint': 'checkpoint-3',
                       'curve': [{'step': 2, 'hit@10': 0.1, 'ndcg@10': 0.05, 'L1': 0.2, 'valid_unconstrained': 0.5}, {'step': 3, 'hit@10': 0.2, 'ndcg@10': 0.06, 'L1': 0.2, 'valid_unconstrained': 0.6}]}}
    new = json.loads(json.dumps(old)); new['stage_a']['curve'][1]['hit@10'] = 0.25; new['stage_a']['best_checkpoint'] = 'checkpoint-2'
    rows = repro_check.alignment_rows(old, new)
    assert [r['what'] for r in rows][:4] == ['stage_a: steps', 'stage_a: loss_first', 'stage_a: loss_last', 'stage_a: kept checkpoint']
    hit3 = next(r for r in rows if r['what'] == 'stage_a: step 3 hit@10'); assert abs(hit3['diff'] - 0.05) < 1e-12
    assert repro_check.verdict(rows) == '10 of 11 figures agree to 3 decimals, 10 exactly (largest difference 0.05); 0 of 1 choices agree'
    del new['stage_a']['curve'][0]  # a check only the committed run made is left out, not compared with nothing
    assert not any('step 2' in r['what'] for r in repro_check.alignment_rows(old, new))
    old['stage_b'] = {'steps': 5, 'curve': []}  # a stage the rebuilt run lacks: its figures on one side only
    assert repro_check.verdict(repro_check.alignment_rows(old, new)).endswith('4 figures on one side only')

def test_repro_check_dial_points_match_by_setting_and_results_need_one_sample():
    pt = lambda w, h: {'history_prior': w, 'hit@10': {'mean': h}, 'ndcg@10': {'mean': h / 2}, 'l1': {'mean': 0.2}}
    old = {'heads': {'generative': {'history_prior_curve': [pt(0.0, 0.1), pt(16.0, 0.14)], 'history_prior': 16.0}}}
    new = {'history_prior_curve': [pt(16.0, 0.14)], 'history_prior': 16.0}  # a run's dial file: one point, the kept setting
    rows = repro_check.dial_rows(old, new)
    assert [r['what'] for r in rows] == ['history_prior_curve at history_prior 16: hit@10', 'history_prior_curve at history_prior 16: ndcg@10',
                                         'history_prior_curve at history_prior 16: l1', 'chosen history_prior']
    assert all(r['diff'] == 0 for r in rows)
    res = lambda users: {'users': {'sample': users}, 'ranking': {'sample': {'talkwalk-b': {'hit@10': {'mean': 0.1}}}}}
    assert repro_check.results_rows(res(['1', '2']), res(['1', '2']), ['talkwalk-b']) == [{'what': 'talkwalk-b: hit@10', 'committed': 0.1, 'rebuilt': 0.1, 'diff': 0.0}]
    with pytest.raises(SystemExit, match='different test users'): repro_check.results_rows(res(['1', '2']), res(['2', '1']), ['talkwalk-b'])
    with pytest.raises(SystemExit, match='not in both'): repro_check.results_rows(res(['1']), res(['1']), ['talkwalk-dense'])

import seed_spread  # noqa: E402  (scripts/seed_spread.py)

def _seed_run(label:str, hits:list, users=('1', '2', '3', '4')) -> dict:
    "A run shaped like seed_spread's inputs: one method's per-user Hit@10 on `users`, its sample figure, an alignment with two checks."
    h = {'mean': sum(hits) / len(hits), 'lo': min(hits), 'hi': max(hits), 'n': len(hits)}
    return {'label': label, 'files': [],
            'alignment': {'stage_a': {'best_checkpoint': 'checkpoint-2', 'curve': [{'step': 1, 'hit@10': 0.1}, {'step': 2, 'hit@10': 0.2}]}},
            'dial': {'history_prior_curve': [{'history_prior': 16.0, 'hit@10': {'mean': 0.1}, 'ndcg@10': {'mean': 0.05}, 'l1': {'mean': 0.2}, 'users': 300}]},
            'results': {'users': {'sample': list(users)}, 'ranking': {'sample': {'talkwalk-b': {'hit@10': h, 'ndcg@10': h}}},
                        'per_user': {'sample': {'talkwalk-b': {'user_id': list(users), 'hit@10': hits, 'ndcg@10': hits}}}}}

def test_seed_spread_pairs_users_and_averages_runs():
    a, b = _seed_run('seed 0', [1, 0, 1, 0]), _seed_run('seed 1', [1, 1, 0, 0])
    rows = seed_spread.test_rows([a, b], ['talkwalk-b'], n=200)
    hit = next(r for r in rows if r['figure'] == 'hit@10')
    assert hit['diffs'][0]['mean'] == 0.0 and hit['diffs'][0]['lo'] < 0 < hit['diffs'][0]['hi']  # equal means, different users: the paired CI spans both ways
    assert hit['mean']['mean'] == 0.5 and [r['figure'] for r in rows] == ['hit@10', 'ndcg@10']  # figures neither run has are left out
    assert [c['kept'] for c in seed_spread.checks(a['alignment'])] == [False, True]
    assert seed_spread.dial_points(a['dial']) == [{'curve': 'history_prior_curve', 'setting': 'history_prior', 'at': 16.0, 'on': '300 users', 'hit@10': 0.1, 'ndcg@10': 0.05, 'l1': 0.2}]
    base = {'ranking': {'all_users': {'popularity': {'hit@10': {'mean': 0.3}, 'ndcg@10': {'mean': 0.3}}}, 'sample': {}}}
    floors = seed_spread.floor_rows(rows, ['seed 0', 'seed 1'], 'talkwalk-b', base)
    assert [f['run'] for f in floors] == ['seed 0', 'seed 0', 'seed 1', 'seed 1', 'mean of the runs', 'mean of the runs']
    assert floors[0]['lo'] == 0 and floors[0]['popularity'] == 0.3 and floors[0]['sasrec'] is None

def test_seed_spread_refuses_other_users_and_unknown_methods():
    a = _seed_run('seed 0', [1, 0, 1, 0])
    with pytest.raises(SystemExit, match='other test users'): seed_spread.test_rows([a, _seed_run('seed 1', [1, 0, 1, 0], users=('1', '2', '3', '5'))], ['talkwalk-b'])
    with pytest.raises(SystemExit, match='not in the evaluation'): seed_spread.test_rows([a, _seed_run('seed 1', [0, 0, 0, 0])], ['talkwalk-dense'])
    with pytest.raises(SystemExit, match='expected LABEL'): seed_spread.load_run('seed 0=a.json,b.json')

def test_paired_runs_without_the_seed_mean():
    """--no-mean (runs that differ in a setting, not in seed alone): no average column or floor row, and every table row as wide as its header."""
    a, b, c = _seed_run('kept', [1, 0, 1, 0]), _seed_run('l1_weight 3', [1, 1, 1, 0]), _seed_run('seed 1', [1, 1, 0, 0])
    rows = seed_spread.test_rows([a, b, c], ['talkwalk-b'], n=200, average=False)
    hit = next(r for r in rows if r['figure'] == 'hit@10')
    assert hit['mean'] is None and [d['mean'] for d in hit['diffs']] == [0.25, 0.0]  # each later run minus the first, user by user
    base = {'ranking': {'all_users': {'popularity': {'hit@10': {'mean': 0.3}, 'ndcg@10': {'mean': 0.3}}}, 'sample': {}}}
    floors = seed_spread.floor_rows(rows, ['kept', 'l1_weight 3', 'seed 1'], 'talkwalk-b', base)
    assert [f['run'] for f in floors] == ['kept', 'kept', 'l1_weight 3', 'l1_weight 3', 'seed 1', 'seed 1']
    md = seed_spread.page('toy', [a, b, c], rows, floors, 'cmd', differ='l1_weight')
    assert md.startswith('# Paired runs: toy') and 'mean of the runs' not in md and 'differ only in `l1_weight`' in md
    table = md.split('## Test')[1].split('## ')[0].strip().splitlines()[2:]
    assert len({line.count('|') for line in table}) == 1 and len(table) == 2 + len(rows)  # header, rule, one row per figure
