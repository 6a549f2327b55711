"""Genotypes: the discrete cells that a search derives (DARTS section 2.4) and their JSON files.

A genotype lists, for each intermediate node of a cell, two (op, input) pairs; input 0 and 1 are
the outputs of the two previous cells, input k >= 2 is intermediate node k - 2 of the same cell.
"""
from collections import namedtuple

from .cli import UserError
from .operations import OPS
from .runs import read_json

class Genotype(namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')):
    __slots__ = ()

    def to_dict(self):
        return to_dict(self)

    def cells(self):
        """{cell: [[(op, input) of node 0], [... of node 1], ...]}: what the search-dynamics metrics compare."""
        return {cell: [list(genes[i:i + 2]) for i in range(0, len(genes), 2)]
                for cell, genes in (('normal', self.normal), ('reduce', self.reduce))}


# The search space of the paper, in the order the alphas' columns use.
PRIMITIVES = [
    'none',
    'max_pool_3x3',
    'avg_pool_3x3',
    'skip_connect',
    'sep_conv_3x3',
    'sep_conv_5x5',
    'dil_conv_3x3',
    'dil_conv_5x5',
]

# The cells reported in the paper (Figure 4 / Table 1): first-order (V1) and second-order (V2) search.
DARTS_V1 = Genotype(
    normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1),
            ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0),
            ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)],
    reduce_concat=[2, 3, 4, 5],
)
DARTS_V2 = Genotype(
    normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
            ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1),
            ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)],
    reduce_concat=[2, 3, 4, 5],
)
DARTS = DARTS_V2

# The comparison cells of the paper's Table 1, found by RL (NASNet-A, Zoph et al. 2018) and by evolution
# (AmoebaNet-A, Real et al. 2019), in the cell format above (5 nodes; other concatenations).
NASNet = Genotype(
    normal=[('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 0), ('sep_conv_3x3', 0), ('avg_pool_3x3', 1),
            ('skip_connect', 0), ('avg_pool_3x3', 0), ('avg_pool_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 1)],
    normal_concat=[2, 3, 4, 5, 6],
    reduce=[('sep_conv_5x5', 1), ('sep_conv_7x7', 0), ('max_pool_3x3', 1), ('sep_conv_7x7', 0), ('avg_pool_3x3', 1),
            ('sep_conv_5x5', 0), ('skip_connect', 3), ('avg_pool_3x3', 2), ('sep_conv_3x3', 2), ('max_pool_3x3', 1)],
    reduce_concat=[4, 5, 6],
)
AmoebaNet = Genotype(
    normal=[('avg_pool_3x3', 0), ('max_pool_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 2), ('sep_conv_3x3', 0),
            ('avg_pool_3x3', 3), ('sep_conv_3x3', 1), ('skip_connect', 1), ('skip_connect', 0), ('avg_pool_3x3', 1)],
    normal_concat=[4, 5, 6],
    reduce=[('avg_pool_3x3', 0), ('sep_conv_3x3', 1), ('max_pool_3x3', 0), ('sep_conv_7x7', 2), ('sep_conv_7x7', 0),
            ('avg_pool_3x3', 1), ('max_pool_3x3', 0), ('max_pool_3x3', 1), ('conv_7x1_1x7', 0), ('sep_conv_3x3', 5)],
    reduce_concat=[3, 4, 6],
)

# Published genotypes, looked up by name (never eval'ed).
GENOTYPES = {'DARTS_V1': DARTS_V1, 'DARTS_V2': DARTS_V2, 'DARTS': DARTS, 'NASNet': NASNet, 'AmoebaNet': AmoebaNet}


class GenotypeError(ValueError):
    """A genotype file or object that does not describe a valid cell."""


def to_dict(genotype):
    return {
        'normal': [[op, j] for op, j in genotype.normal],
        'normal_concat': list(genotype.normal_concat),
        'reduce': [[op, j] for op, j in genotype.reduce],
        'reduce_concat': list(genotype.reduce_concat),
    }


def _check_cell(name, genes, concat):
    if not isinstance(genes, list) or not genes or len(genes) % 2:
        raise GenotypeError(f"'{name}' must be a non-empty list of [op, input] pairs, two per node")
    steps = len(genes) // 2
    cell = []
    for i, gene in enumerate(genes):
        if not (isinstance(gene, (list, tuple)) and len(gene) == 2):
            raise GenotypeError(f"'{name}'[{i}] must be an [op, input] pair, got {gene!r}")
        op, j = gene
        if not isinstance(op, str) or op not in OPS or op == 'none':
            raise GenotypeError(f"'{name}'[{i}]: unknown op {op!r} (known: {', '.join(o for o in OPS if o != 'none')})")
        if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < 2 + i // 2:
            raise GenotypeError(f"'{name}'[{i}]: input {j!r} must be an int in [0, {2 + i // 2}) for node {i // 2}")
        cell.append((op, j))
    if (not isinstance(concat, list) or not concat
            or not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 2 + steps for k in concat)):
        raise GenotypeError(f"'{name}_concat' must be a non-empty list of node indices in [0, {2 + steps})")
    return cell


def from_dict(obj):
    """Validate a JSON object and return the Genotype it describes."""
    if not isinstance(obj, dict):
        raise GenotypeError('a genotype must be a JSON object with normal, normal_concat, reduce, reduce_concat')
    missing = [k for k in Genotype._fields if k not in obj]
    if missing:
        raise GenotypeError(f"genotype lacks {', '.join(missing)}")
    return Genotype(
        normal=_check_cell('normal', obj['normal'], obj['normal_concat']),
        normal_concat=list(obj['normal_concat']),
        reduce=_check_cell('reduce', obj['reduce'], obj['reduce_concat']),
        reduce_concat=list(obj['reduce_concat']),
    )


def load(path):
    """Read a genotype.json file; GenotypeError with a one-line reason if it is missing or malformed."""
    try:
        obj = read_json(path, 'genotype file')
    except UserError as e:
        raise GenotypeError(str(e)) from None
    try:
        return from_dict(obj)
    except GenotypeError as e:
        raise GenotypeError(f'{path}: {e}') from None
