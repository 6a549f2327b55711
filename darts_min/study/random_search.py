"""The random-search baseline (DARTS section 3.3): cells drawn uniformly from the search space, no optimizer at all.

    python -m darts_min.study.random_search --samples 24 --seed 0 --save runs/random
    python -m darts_min.study.random_search --samples 100 --search_space nb201 --nb201_table nb201.csv

DARTS space: each node takes two distinct inputs among the earlier nodes and an op for each, uniformly
from the seven ops other than `none`. NB201: each of the six edges an op uniformly from the four other
than `none`. Writes a run directory like a search's: samples/<k>/genotype.json for every sample (each
one a directory train_eval.py --genotype reads), genotype.json (the chosen cell: the best by the
table's validation column when there is a table, else the first sample), args.json, log.txt and one
line of metrics.jsonl, so the report places it beside the optimizer pairs.

With --evaluated the choice waits for the samples' trainings (the sweep runs train_eval.py on each,
in samples/<k>-eval); --choose then keeps the best by validation accuracy (DARTS section 3.3).
"""
import math
import os
import statistics
import sys

import torch

from .. import cli, dynamics, genotypes, runs
from ..model_nb201 import EDGES, NB201_PRIMITIVES, NB201Genotype, load_table
from .grid import run_status

DARTS_OPS = [op for op in genotypes.PRIMITIVES if op != 'none']
NB201_OPS = [op for op in NB201_PRIMITIVES if op != 'none']


def sample_darts_cell(g, steps=4):
    genes = []
    for node in range(steps):
        inputs = torch.randperm(2 + node, generator=g)[:2].tolist()
        genes += [(DARTS_OPS[torch.randint(len(DARTS_OPS), (), generator=g).item()], j) for j in inputs]
    return genes


def sample_darts(g, steps=4):
    concat = list(range(2, 2 + steps))
    return genotypes.Genotype(normal=sample_darts_cell(g, steps), normal_concat=concat,
                              reduce=sample_darts_cell(g, steps), reduce_concat=concat)


def sample_nb201(g):
    ops = [NB201_OPS[torch.randint(len(NB201_OPS), (), generator=g).item()] for _ in EDGES]
    return NB201Genotype([[(ops[e], i) for e, (i, node) in enumerate(EDGES) if node == j] for j in range(1, 4)])


def parse(argv):
    p = cli.ArgumentParser(prog='python -m darts_min.study.random_search', description=__doc__.splitlines()[0],
                           allow_abbrev=False)
    p.add_argument('--samples', type=int, default=24, help='how many cells to draw')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--search_space', default='darts', help='darts or nb201')
    p.add_argument('--nb201_table', default=None, metavar='CSV', help='nb201: true accuracies of each sample')
    p.add_argument('--save', default=None, help='run directory (default runs/random-<timestamp>)')
    p.add_argument('--evaluated', action='store_true',
                   help='draw only: the samples are trained by train_eval.py into samples/<k>-eval, then --choose')
    p.add_argument('--choose', action='store_true',
                   help='keep the best sample of --save by its finished samples/<k>-eval\'s validation accuracy')
    args = p.parse_args(argv)
    try:
        cli.check(not args.choose or args.save, '--choose needs --save, the random search\'s run directory')
        cli.check(args.samples > 0, f'--samples must be positive, got {args.samples}')
        cli.check(args.search_space in ('darts', 'nb201'), f'unknown search space {args.search_space!r} (choose from darts, nb201)')
        cli.check(args.search_space == 'nb201' or not args.nb201_table, '--nb201_table goes with --search_space nb201')
        cli.check(args.search_space == 'darts' or not args.evaluated, '--evaluated is for the darts space (nb201: its table)')
    except cli.UserError as e:
        p.error(str(e))
    return args


def validation_column(table, path):
    """The table's validation column (a name holding 'valid'): NB201 selects by it, never by a test column."""
    found = [c for c in table.columns if 'valid' in c.lower()]
    cli.check(found, f'--nb201_table {path} has no validation column (a name holding "valid"; it has '
              f'{", ".join(table.columns)}): random search selects by validation, never by test')
    return found[0]


def check_sweep(p, args, run_args):
    """A sweep's random search: the DARTS space trains its --random_cells by the proxy, NB201 reads a validation
    column; each refusal one line of the parser p."""
    if 'random' not in args.methods:
        return
    if run_args.search_space == 'nb201':
        if not run_args.nb201_table:
            p.error('--methods random in the nb201 space chooses by the table\'s validation column: give --nb201_table')
        try:
            validation_column(load_table(run_args.nb201_table), run_args.nb201_table)
        except (cli.UserError, genotypes.GenotypeError) as e:
            p.error(str(e))
    elif not args.evaluate_epochs:
        p.error('--methods random trains its --random_cells candidates by the proxy to choose one: give --evaluate_epochs N')


def choose(save):
    """Keep the best sample of the random search in `save` by its evaluation's validation accuracy (ties: the lower
    sample), as the run's genotype.json and one line of metrics.jsonl with every sample's figures."""
    args = runs.read_json(os.path.join(save, 'args.json'), 'random search\'s args.json')
    cli.check(isinstance(args, dict) and isinstance(args.get('samples'), int) and args.get('evaluated'),
              f'{save} holds no random search drawn with --evaluated')
    records = []
    for k in range(args['samples']):
        evaluation = os.path.join(save, 'samples', f'{k}-eval')
        cli.check(run_status(evaluation) == 'done', f'the evaluation of sample {k}, {evaluation}, has not finished')
        last = runs.read_metrics(os.path.join(evaluation, 'metrics.jsonl'))[-1]
        genotype = runs.read_json(os.path.join(save, 'samples', str(k), 'genotype.json'), 'genotype')
        records.append({'genotype': genotype, 'valid_acc': last.get('valid_acc'), 'test_acc': last.get('test_acc')})
    scored = [k for k, r in enumerate(records) if isinstance(r['valid_acc'], (int, float)) and math.isfinite(r['valid_acc'])]
    cli.check(scored, f'no sample of {save} has a validation accuracy: train them with --valid_portion above 0')
    best = max(scored, key=lambda k: (records[k]['valid_acc'], -k))
    with runs.Run(save, 'random') as run:
        chosen = genotypes.from_dict(records[best]['genotype'])
        run.write_json('genotype.json', chosen.to_dict())
        run.keep_metrics_before(0)
        run.append_metrics({'epoch': 0, 'genotype': chosen.to_dict(), **dynamics.skip_counts(chosen), 'chosen_sample': best,
                            'valid_acc': None, 'samples': records})
        run.log.info(f'best of {len(records)} by validation accuracy: sample {best}, {records[best]["valid_acc"]:.2f} %')
    return 0


def distribution(record):
    """(chosen sample, its validation accuracy, n, mean, sample std or None, min, max) of the samples' validation
    accuracies in a random search's metrics record; None where they were not trained."""
    values = [s.get('valid_acc') for s in record.get('samples', [])]
    if not values or not all(isinstance(v, (int, float)) for v in values):
        return None
    best = record['chosen_sample']
    return (best, values[best], len(values), statistics.mean(values),
            statistics.stdev(values) if len(values) > 1 else None, min(values), max(values))


def report_lines(results):
    """Markdown: per random-search run of the report (results.Result), the chosen cell and the distribution of its
    samples' validation accuracies; nothing where none trained its samples."""
    lines = []
    for r in results:
        found = distribution(r.metrics[-1]) if r.args.get('kind') == 'random' else None
        if found:
            best, value, n, mean, std, low, high = found
            spread = f'{mean:.2f} ± {std:.2f}' if std is not None else f'{mean:.2f}'
            lines.append(f'| {r.name} | {n} | {best} | {value:.2f} | {spread} | {low:.2f} | {high:.2f} |')
    if not lines:
        return []
    return ['## Random search: the best of N', '',
            'Each random-search seed trained N drawn cells by the proxy and kept the best by validation accuracy '
            '(DARTS section 3.3). The best of N is optimistic by selection; the mean is the unselected figure.', '',
            '| run | N | chosen sample | its valid acc % | valid acc % mean ± std | min | max |', '|---|---|---|---|---|---|---|',
            *lines, '']


def main(argv=None):
    args = parse(argv)
    if args.choose:
        return choose(args.save)
    try:
        table = load_table(args.nb201_table) if args.nb201_table else None
    except genotypes.GenotypeError as e:
        raise cli.UserError(str(e)) from None
    column = 'nb201_' + validation_column(table, args.nb201_table) if table else None
    args.save = args.save or runs.default_dir('random')
    cli.check(not os.path.exists(os.path.join(args.save, 'metrics.jsonl')) and
              not os.path.exists(os.path.join(args.save, 'checkpoint.pt')),
              f'{args.save} already holds a run: choose another --save')
    with runs.Run(args.save, 'random') as run:
        g = torch.Generator().manual_seed(args.seed)
        draw = sample_nb201 if args.search_space == 'nb201' else sample_darts
        samples = [draw(g) for _ in range(args.samples)]
        records = []
        for k, genotype in enumerate(samples):
            folder = os.path.join(args.save, 'samples', str(k))
            runs.make_folder(folder, 'the sample')
            runs.write_json(os.path.join(folder, 'genotype.json'), genotype.to_dict())
            truth = (table.get(str(genotype)) or {}) if table else {}
            records.append({'genotype': genotype.to_dict(), **{f'nb201_{c}': truth.get(c) for c in (table.columns if table else [])}})
        run.write_json('args.json', {'kind': 'random', **vars(args), 'method': 'random', 'w_optimizer': '-', 'arch_optimizer': '-', 'epochs': 1})
        if args.evaluated:
            run.log.info(f'{args.samples} samples in {os.path.join(args.save, "samples")}: train each, then --choose')
            return 0
        best = 0
        if table:  # best-of-N by the validation column, never by a test column
            scored = [k for k, r in enumerate(records) if r[column] is not None]
            best = max(scored, key=lambda k: records[k][column]) if scored else 0
            run.log.info(f'best of {args.samples} by {column}: sample {best}')
        chosen = samples[best]
        run.write_json('genotype.json', chosen.to_dict())
        run.keep_metrics_before(0)
        run.append_metrics({'epoch': 0, **records[best], **dynamics.skip_counts(chosen), 'chosen_sample': best,
                            'valid_acc': None, 'samples': records})
        for k, r in enumerate(records):
            run.log.info(f'sample {k}: ' + ' '.join(f'{n} {v}' for n, v in r.items() if n != 'genotype') + f' {r["genotype"]}')
        run.log.info(f'done: {args.samples} samples in {os.path.join(args.save, "samples")}, chosen cell in {run.file("genotype.json")}')
    return 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.study.random_search'
    cli.run(main)
