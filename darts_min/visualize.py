"""Draw a genotype's cells as the paper's Figures 4-5: writes normal.png and reduce.png.

    python -m darts_min.visualize runs/search-XXXX          # a run directory holding genotype.json
    python -m darts_min.visualize genotype.json --out figs   # a genotype file
    python -m darts_min.visualize DARTS_V2 --out figs        # a genotype of genotypes.py

Inputs c_{k-2}, c_{k-1} on the left, intermediate nodes 0, 1, ... in order, the output c_{k} (the concatenation
of the nodes in *_concat) on the right; each edge carries its op. Drawn by graphviz's `dot` where both the
program and the `graphviz` Python package are installed (as the original code did), else by matplotlib
(`pip install matplotlib`), whose layout is the same layered one (visualize_layout.py): every label whole, beside
its own edge, overlapping nothing.
"""
import os
import shutil
import sys

from . import cli, genotypes
from .runs import atomic_write, make_folder
from .visualize_layout import PAD, PORT, columns_of, layered_layout, ports

COLORS = {'input': '#b4eeb4', 'node': '#add8e6', 'output': '#eee8aa'}  # the original's darkseagreen2, lightblue, palegoldenrod
LABEL_SIZE, NODE_SIZE = 9, 10  # points


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise cli.UserError('pictures and plots need matplotlib: pip install matplotlib') from None
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def write_png(path, write):
    """Call write(f) on a binary file that becomes `path` atomically (an interrupted write leaves no half picture);
    the folder is made if missing."""
    make_folder(os.path.dirname(os.path.abspath(path)), 'pictures into')
    atomic_write(path, write, mode='wb')


def save_figure(fig, path, dpi):
    """Write `fig` as a PNG at `path` (`write_png`), then close it."""
    try:
        write_png(path, lambda f: fig.savefig(f, format='png', dpi=dpi))
    finally:
        pyplot().close(fig)


def cell_graph(genes, concat):
    """(names, edges) of a cell: node 0, 1 are c_{k-2}, c_{k-1}, node 2 + i is intermediate node i, the last is
    c_{k}; edges are (source, target, op), op None for the edges into c_{k}."""
    steps = len(genes) // 2
    names = ['$c_{k-2}$', '$c_{k-1}$', *map(str, range(steps)), '$c_{k}$']
    edges = [(j, 2 + k // 2, op) for k, (op, j) in enumerate(genes)] + [(j, 2 + steps, None) for j in concat]
    return names, edges


def draw_cell(genes, concat, title):
    """The matplotlib figure of one cell. Its artists' gids name them: 'op:E' is the label of edge E of
    `cell_graph`, 'edge:E' the edge, 'node:N' the box of node N, 'name:N' its name."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path
    plt = pyplot()
    names, edges = cell_graph(genes, concat)
    fig = plt.figure(dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis('off')
    texts = {node: ax.text(0, 0, name, fontsize=NODE_SIZE, ha='center', va='center', zorder=3, gid=f'name:{node}')
             for node, name in enumerate(names)}
    texts.update({('label', e): ax.text(0, 0, op, fontsize=LABEL_SIZE, ha='center', va='bottom', gid=f'op:{e}')
                  for e, (_, _, op) in enumerate(edges) if op})
    renderer = fig.canvas.get_renderer()
    boxes = {}  # item: (width, height) in inches
    for item, text in texts.items():
        extent = text.get_window_extent(renderer)
        width, height = extent.width / fig.dpi + 2 * PAD, extent.height / fig.dpi + 2 * PAD
        if isinstance(item, int):  # a node: room for the edges that meet its sides, and never narrower than tall
            meeting = max(sum(edge[0] == item for edge in edges), sum(edge[1] == item for edge in edges))
            height = max(height, (meeting - 1) * PORT + 2 * PAD, 0.3)
            width = max(width, 0.3)
        boxes[item] = width, height
    columns, place, routes = layered_layout(names, edges, lambda item: boxes.get(item, (0.0, PAD)))

    margin, title_height = 0.15, 0.35
    width = columns[-1][0] + columns[-1][1] / 2 + 2 * margin
    height = max(y + boxes.get(item, (0, PAD))[1] / 2 for item, (_, y) in place.items()) + 2 * margin + title_height
    fig.set_size_inches(width, height)
    ax.set_xlim(-margin, width - margin)
    ax.set_ylim(height - margin - title_height, -margin - title_height)  # y is the depth, downwards
    fig.text(0.5, 1 - margin / height, title, ha='center', va='top', fontsize=11)
    for node in range(len(names)):
        x, y, (w, h) = columns[place[node][0]][0], place[node][1], boxes[node]
        kind = 'input' if node < 2 else 'output' if node == len(names) - 1 else 'node'
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle='round,pad=0,rounding_size=0.05',
                                    fc=COLORS[kind], ec='#333333', lw=1.2, gid=f'node:{node}', zorder=2))
        texts[node].set_position((x, y))
    for e, (route, (source, target, op)) in enumerate(zip(routes, edges)):
        # horizontal runs: out of the source's side to its column's edge, through each column between, into the target
        (xs, ws), (xt, wt) = columns[place[source][0]], columns[place[target][0]]
        runs = [(xs + boxes[source][0] / 2, xs + ws / 2, ports(source, routes, place, False)[e])]
        for item in route[1:-1]:
            (x, w), y = columns[place[item][0]], place[item][1]
            if item in texts:  # the edge runs along the bottom of its label's slot, the label just above it
                y += boxes[item][1] / 2 - PAD / 2
                texts[item].set_position((x, y - PAD / 2))
            runs.append((x - w / 2, x + w / 2, y))
        runs.append((xt - wt / 2, xt - boxes[target][0] / 2, ports(target, routes, place, True)[e]))
        verts, codes = [(runs[0][0], runs[0][2]), (runs[0][1], runs[0][2])], [Path.MOVETO, Path.LINETO]
        for (_, a, ya), (b, c, yb) in zip(runs, runs[1:]):  # across a gap: a curve leaving and arriving level
            verts += [((a + b) / 2, ya), ((a + b) / 2, yb), (b, yb)]
            codes += [Path.CURVE4] * 3
            if c > b:
                verts.append((c, yb))
                codes.append(Path.LINETO)
        ax.add_patch(FancyArrowPatch(path=Path(verts, codes), arrowstyle='-|>', mutation_scale=9, shrinkA=0,
                                     shrinkB=0, lw=1.1, color='#444444' if op else '#aaaaaa', gid=f'edge:{e}', zorder=1))
    return fig


def search_cell_edges(steps=4):
    """[(i, j)] of a search cell in the order of its mixed ops (and of alpha's rows): node j = 2, 3, ... takes an
    edge from every node i < j; nodes 0 and 1 are the inputs c_{k-2}, c_{k-1}, node j >= 2 is intermediate node j - 2."""
    return [(i, j) for j in range(2, 2 + steps) for i in range(j)]


def draw_search_cell(steps=4, edge=1):
    """The walkthrough's figure: a search cell's DAG, each edge labelled `k: (i, j)` (its row k of alpha), and the
    mixed op of edge `edge` (Eq. 2). Edges are arcs over a line of nodes, so no two labels meet. gids: 'arc:K' is
    the label of edge K, 'node:N' the name of node N. docs/search-cell.png is
    `save_figure(draw_search_cell(), 'docs/search-cell.png', dpi=110)`."""
    from matplotlib.patches import Arc, FancyBboxPatch
    plt = pyplot()
    fig, (ax, mix) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={'width_ratios': [1.7, 1]})
    names = ['$c_{k-2}$', '$c_{k-1}$', *(f'node {n}' for n in range(steps))]
    for j, name in enumerate(names):
        kind = 'input' if j < 2 else 'node'
        ax.add_patch(FancyBboxPatch((2 * j - 0.55, -0.35), 1.1, 0.7, boxstyle='round,pad=0,rounding_size=0.1',
                                    fc=COLORS[kind], ec='#333333', lw=1.2))
        ax.text(2 * j, 0, f'{name}\n$x_{j}$', ha='center', va='center', fontsize=NODE_SIZE, gid=f'node:{j}')
    for k, (i, j) in enumerate(search_cell_edges(steps)):
        width, height = 2 * (j - i), 0.9 * (j - i)
        mine = k == edge
        ax.add_patch(Arc((i + j, 0.35), width, 2 * height, theta1=0, theta2=180, lw=2.2 if mine else 1,
                         color='#c0392b' if mine else '#555555'))
        ax.text(i + j, 0.35 + height, f'{k}: ({i},{j})', ha='center', va='bottom', fontsize=LABEL_SIZE,
                color='#c0392b' if mine else 'black', gid=f'arc:{k}', bbox={'fc': 'white', 'ec': 'none', 'pad': 0.5})
    ax.set_xlim(-0.8, 2 * (steps + 1) + 0.8)
    ax.set_ylim(-0.6, 0.9 * (steps + 1) + 1.1)
    ax.set_aspect('equal')
    ax.axis('off')
    ax.set_title('a search cell: edge k of alpha\'s rows = edge (i, j), node $x_i$ to node $x_j$', fontsize=11)
    i, j = search_cell_edges(steps)[edge]
    mix.axis('off')
    mix.set_xlim(0, 1)
    primitives = genotypes.PRIMITIVES
    mix.set_ylim(-0.5, len(primitives) + 0.5)
    mix.set_title(f'the mixed op of edge {edge} = ({i},{j}), Eq. 2', fontsize=11)
    for row, op in enumerate(primitives):
        y = len(primitives) - 1 - row
        mix.annotate('', (0.3, y), (0.08, len(primitives) / 2 - 0.5), arrowprops={'arrowstyle': '-', 'color': '#888888'})
        mix.annotate('', (0.9, len(primitives) / 2 - 0.5), (0.62, y), arrowprops={'arrowstyle': '->', 'color': '#888888'})
        mix.text(0.46, y, f'{op}  x $p_{{{row}}}$', ha='center', va='center', fontsize=LABEL_SIZE,
                 bbox={'fc': '#f4f4f4', 'ec': '#999999', 'boxstyle': 'round'})
    mix.text(0.04, len(primitives) / 2 - 0.5, f'$x_{i}$', ha='center', va='center', fontsize=NODE_SIZE + 2)
    mix.text(0.95, len(primitives) / 2 - 0.5, '$\\Sigma$', ha='center', va='center', fontsize=NODE_SIZE + 4)
    mix.text(0.5, -0.6, f'p = softmax($\\alpha^{{({i},{j})}}$), row {edge} of alpha; the sum goes into $x_{j}$',
             ha='center', va='top', fontsize=LABEL_SIZE)
    fig.tight_layout()
    return fig


def graphviz_available():
    """Whether the graphviz Python package and its `dot` program are both installed."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which('dot') is not None


def graphviz_cell(genes, concat, title):
    """The graphviz.Digraph of one cell, drawn by dot left to right as the original code drew it."""
    import graphviz
    names, edges = cell_graph(genes, concat)
    g = graphviz.Digraph(graph_attr={'rankdir': 'LR', 'label': title, 'labelloc': 't', 'fontsize': '20'},
                         node_attr={'style': 'filled', 'shape': 'rect', 'fontsize': '20', 'penwidth': '2'},
                         edge_attr={'fontsize': '20'})
    for node, name in enumerate(names):
        kind = 'input' if node < 2 else 'output' if node == len(names) - 1 else 'node'
        html = name.strip('$').replace('_{', '<sub>').replace('}', '</sub>')  # $c_{k-2}$ -> c<sub>k-2</sub>
        g.node(str(node), label=f'<{html}>', fillcolor=COLORS[kind])
    rank = columns_of(names, edges)
    for column in sorted(set(rank.values())):  # nodes of one column in order from the top, c_{k-2} above c_{k-1}
        nodes = [str(node) for node in rank if rank[node] == column]
        if len(nodes) > 1:
            with g.subgraph(graph_attr={'rank': 'same'}) as same:
                for a, b in zip(nodes, nodes[1:]):
                    same.edge(a, b, style='invis')
    for e, (source, target, op) in enumerate(edges):
        if op:  # the op as a node of its own on the edge: dot keeps it off every other node, label and edge
            g.node(f'op{e}', label=op, shape='plaintext', style='', fontsize='18')
            g.edge(str(source), f'op{e}', arrowhead='none')
            g.edge(f'op{e}', str(target))
        else:
            g.edge(str(source), str(target), color='gray')
    return g


def plot_cell(genes, concat, path, title, engine=None):
    """One cell: genes = [(op, input), ...], two per intermediate node; writes the PNG at `path`.
    engine: 'graphviz', 'matplotlib', or None for graphviz where it is installed."""
    if engine == 'graphviz' or engine is None and graphviz_available():
        png = graphviz_cell(genes, concat, title).pipe(format='png')
        write_png(path, lambda f: f.write(png))
    else:
        save_figure(draw_cell(genes, concat, title), path, dpi=150)


def plot_genotype(genotype, folder, engine=None):
    """normal.png and reduce.png of `genotype` in `folder`; returns their paths."""
    paths = [os.path.join(folder, f'{kind}.png') for kind in ('normal', 'reduce')]
    plot_cell(genotype.normal, genotype.normal_concat, paths[0], 'normal cell', engine)
    plot_cell(genotype.reduce, genotype.reduce_concat, paths[1], 'reduction cell', engine)
    return paths


def resolve(source):
    """(genotype, default output folder) from a run directory, a genotype.json, or a name in genotypes.py."""
    if source in genotypes.GENOTYPES:
        return genotypes.GENOTYPES[source], '.'
    path = os.path.join(source, 'genotype.json') if os.path.isdir(source) else source
    try:
        return genotypes.load(path), os.path.dirname(path) or '.'
    except genotypes.GenotypeError as e:
        raise cli.UserError(f'{e} (give a run directory, a genotype.json, or one of {", ".join(genotypes.GENOTYPES)})') from None


def main(argv=None):
    p = cli.ArgumentParser(prog='python -m darts_min.visualize', description='Draw the cells of a genotype.')
    p.add_argument('source', help='a run directory, a genotype.json, or a genotype name of genotypes.py')
    p.add_argument('--out', default=None, help='output folder (default: beside the genotype; . for a name)')
    p.add_argument('--engine', choices=['graphviz', 'matplotlib'], default=None,
                   help='default: graphviz where it is installed (the dot program and the graphviz package), else matplotlib')
    args = p.parse_args(argv)
    if args.engine == 'graphviz' and not graphviz_available():
        p.error('--engine graphviz needs the dot program and the graphviz package (pip install graphviz)')
    genotype, folder = resolve(args.source)
    for path in plot_genotype(genotype, args.out or folder, args.engine):
        print(path)
    return 0


if __name__ == '__main__':
    sys.argv[0] = 'python -m darts_min.visualize'
    cli.run(main)
