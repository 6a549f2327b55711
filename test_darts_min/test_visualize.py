"""Cell pictures: normal.png and reduce.png from a run directory, a genotype file or a name."""
import json
import os

import pytest
from matplotlib.path import Path

from conftest import run_script
from darts_min import genotypes, visualize

PNG = b'\x89PNG\r\n\x1a\n'


def is_png(path):
    with open(path, 'rb') as f:
        return f.read(8) == PNG and os.path.getsize(path) > 10_000


def test_pictures_of_a_run_directory_land_beside_its_genotype(tmp_path):
    (tmp_path / 'genotype.json').write_text(json.dumps(genotypes.to_dict(genotypes.DARTS_V1)))
    assert visualize.main([str(tmp_path)]) == 0
    assert is_png(tmp_path / 'normal.png') and is_png(tmp_path / 'reduce.png')


def test_pictures_of_a_named_genotype_from_the_command_line(tmp_path):
    result = run_script('-m', 'darts_min.visualize', 'DARTS_V2', '--out', str(tmp_path / 'figs'))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / 'figs' / 'normal.png'), str(tmp_path / 'figs' / 'reduce.png')]
    assert is_png(tmp_path / 'figs' / 'normal.png')


def test_a_missing_genotype_is_one_line():
    result = run_script('-m', 'darts_min.visualize', 'no/such/run')
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        'python -m darts_min.visualize: error: no genotype file at no/such/run '
        '(give a run directory, a genotype.json, or one of DARTS_V1, DARTS_V2, DARTS, NASNet, AmoebaNet)']


def drawn_cells():
    """(name, genes, concat) of the cells a reader meets: the paper's, the comparison cells (5 nodes, other
    concatenations), and random ones."""
    import torch
    from darts_min.study.random_search import sample_darts
    named = {k: g for k, g in genotypes.GENOTYPES.items() if k != 'DARTS'}
    named.update({f'random{seed}': sample_darts(torch.Generator().manual_seed(seed)) for seed in range(3)})
    return [(f'{name}-{cell}', getattr(g, cell), getattr(g, f'{cell}_concat'))
            for name, g in named.items() for cell in ('normal', 'reduce')]


def crosses(lines, box):
    return any(line.intersects_bbox(box, filled=False) for line in lines)


def overlap(a, b):
    """Two display boxes share area (touching edges do not count)."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5


@pytest.mark.parametrize('name, genes, concat', drawn_cells(), ids=lambda v: v if isinstance(v, str) else '')
def test_every_label_is_whole_beside_its_edge_and_overlaps_nothing(name, genes, concat):
    fig = visualize.draw_cell(genes, concat, name)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = {int(t.get_gid()[3:]): t for t in ax.texts if (t.get_gid() or '').startswith('op:')}
    edges = {int(p.get_gid()[5:]): p for p in ax.patches if (p.get_gid() or '').startswith('edge:')}
    nodes = [p.get_window_extent(renderer) for p in ax.patches if (p.get_gid() or '').startswith('node:')]
    assert [labels[e].get_text() for e in sorted(labels)] == [op for op, _ in genes]  # every op, whole, in gene order
    assert len(edges) == len(genes) + len(concat) and len(nodes) == 2 + len(genes) // 2 + 1
    paths = {e: p.get_transform().transform_path(p.get_path()) for e, p in edges.items()}
    # as polylines: intersects_bbox would take the arrowhead's CLOSEPOLY for a line to (0, 0)
    paths = {e: [Path(line) for line in path.to_polygons(closed_only=False)] for e, path in paths.items()}
    boxes = {e: t.get_window_extent(renderer) for e, t in labels.items()}
    for e, box in boxes.items():
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, \
            f'{labels[e].get_text()} is clipped by the figure'
        assert not any(overlap(box, other) for f, other in boxes.items() if f != e), f'label {e} overlaps a label'
        assert not any(overlap(box, node) for node in nodes), f'label {e} overlaps a node'
        assert not any(crosses(paths[f], box) for f in paths if f != e), f'label {e} overlaps another edge'
        assert not crosses(paths[e], box), f'label {e} lies on its own edge'
        assert crosses(paths[e], box.padded(0.08 * fig.dpi)), f'label {e} is not beside its edge (0.08 inch)'
    for node in nodes:
        assert fig.bbox.x0 <= node.x0 and node.x1 <= fig.bbox.x1 and fig.bbox.y0 <= node.y0 and node.y1 <= fig.bbox.y1
        assert sum(overlap(node, other) for other in nodes) == 1  # itself
    visualize.pyplot().close(fig)


def test_nodes_read_left_to_right_inputs_first_output_last():
    g = genotypes.DARTS_V2
    fig = visualize.draw_cell(g.normal, g.normal_concat, 'normal cell')
    fig.canvas.draw()
    artists = {a.get_gid(): a for a in [*fig.axes[0].patches, *fig.axes[0].texts]}
    box = {n: artists[f'node:{n}'].get_window_extent() for n in range(7)}
    names = [artists[f'name:{n}'] for n in range(7)]
    assert [t.get_text() for t in names] == ['$c_{k-2}$', '$c_{k-1}$', '0', '1', '2', '3', '$c_{k}$']
    assert all(box[n].contains(*t.get_window_extent().corners().mean(axis=0)) for n, t in enumerate(names))
    assert box[0].x0 == box[1].x0 < min(box[n].x0 for n in range(2, 6)) and max(box[n].x1 for n in range(2, 6)) < box[6].x0
    assert box[0].y0 > box[1].y1  # c_{k-2} above c_{k-1}
    assert box[2].x0 == box[3].x0 == box[4].x0 and box[2].y0 > box[3].y1 and box[3].y0 > box[4].y1  # 0, 1, 2 from the top
    assert box[2].x1 < box[5].x0  # node 3 takes node 0 as input: it stands to its right
    visualize.pyplot().close(fig)


def test_the_graphviz_cell_has_every_op_on_its_edge_and_nodes_in_order():
    pytest.importorskip('graphviz')
    g = genotypes.NASNet
    source = visualize.graphviz_cell(g.reduce, g.reduce_concat, 'reduction cell').source
    for e, (op, j) in enumerate(g.reduce):
        assert f'op{e} [label={op} ' in source and f'{j} -> op{e}' in source and f'op{e} -> {2 + e // 2}' in source
    assert all(f'{k} -> 7 [color=gray]' in source for k in g.reduce_concat)
    assert '0 -> 1 [style=invis]' in source and '2 -> 3 [style=invis]' in source  # c_{k-2} above c_{k-1}; 0 above 1


def test_pictures_are_drawn_by_graphviz_where_it_is_installed(tmp_path):
    if not visualize.graphviz_available():
        pytest.skip('graphviz (the dot program and the Python package) is not installed')
    paths = visualize.plot_genotype(genotypes.NASNet, str(tmp_path), engine='graphviz')
    assert all(is_png(p) for p in paths)


def test_asking_for_graphviz_where_it_is_missing_is_one_line(tmp_path, capsys):
    if visualize.graphviz_available():
        pytest.skip('graphviz is installed here')
    with pytest.raises(SystemExit) as e:
        visualize.main(['DARTS_V2', '--out', str(tmp_path), '--engine', 'graphviz'])
    assert e.value.code == 2 and 'needs the dot program' in capsys.readouterr().err


def test_the_search_cells_edge_k_is_the_edge_i_j_of_alpha_row_k_and_the_figure_says_so():
    from darts_min.genotypes import PRIMITIVES
    from darts_min.model_search import parse_cell
    edges = visualize.search_cell_edges()
    assert edges == [(0, 2), (1, 2), (0, 3), (1, 3), (2, 3), (0, 4), (1, 4), (2, 4), (3, 4),
                     (0, 5), (1, 5), (2, 5), (3, 5), (4, 5)]
    for k, (i, j) in enumerate(edges):  # alpha's row k strongest: the genotype's node x_j takes input i
        rows = [[1.0] * len(PRIMITIVES) for _ in edges]
        rows[k][PRIMITIVES.index('sep_conv_3x3')] = 9.0
        assert parse_cell(rows, 4)[2 * (j - 2)] == ('sep_conv_3x3', i)
    fig = visualize.draw_search_cell()
    labels = {t.get_gid(): t.get_text() for t in fig.findobj(lambda a: (a.get_gid() or '').startswith('arc:'))}
    assert labels == {f'arc:{k}': f'{k}: ({i},{j})' for k, (i, j) in enumerate(edges)}
    pyplot = visualize.pyplot()
    pyplot.close(fig)
