"""The layered layout of a cell's drawing, as graphviz's `dot` makes one, for visualize.py's matplotlib engine: nodes in
columns by their inputs, each edge through a slot of its own in every column it crosses, its label in the column before
its target, each column ordered by its neighbours' mean depth (barycentres) and packed without overlap (isotonic
regression). Sizes are in inches, y downwards.
"""
GAP = 0.4    # inches between two columns: only edges run there
PAD = 0.06   # inches around a label or a node's text, and between two items of a column
PORT = 0.11  # inches between the edges that meet one side of a node


def isotonic(values):
    """The non-decreasing sequence nearest to `values` in least squares (pool adjacent violators)."""
    blocks = []  # [sum, count]
    for v in values:
        blocks.append([v, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    return [total / count for total, count in blocks for _ in range(count)]


def columns_of(names, edges):
    """{node: column}: the inputs in the first, a node two columns right of its rightmost input (the column
    between holds its ops' labels), c_{k} two columns right of every other node."""
    rank = {0: 0, 1: 0}
    for j, target, _ in edges:
        if target < len(names) - 1:
            rank[target] = max(rank.get(target, 0), rank[j] + 2)
    rank[len(names) - 1] = max(rank.values()) + 2
    return rank


def layered_layout(names, edges, size):
    """A layered drawing as dot makes it, in inches. Each node sits in its column (`columns_of`); an edge
    crosses each column between its ends in a slot of its own, and its label fills its slot in the column just
    before its target. Items of a column are stacked without overlap and only edges run between columns, so no
    label overlaps anything but its own edge.

    `size(item)` gives (width, height) of an item's content: a node index, ('label', edge) or ('slot', edge, column).
    Returns (columns: [(x, width)], place: {item: (column, y)}, routes: [[item, ...] per edge]), y downwards."""
    rank = columns_of(names, edges)
    columns = [[] for _ in range(rank[len(names) - 1] + 1)]
    for node in range(len(names)):
        columns[rank[node]].append(node)
    routes = []  # per edge: its items from source to target
    for e, (j, target, op) in enumerate(edges):
        slots = [('label', e) if op and c == rank[target] - 1 else ('slot', e, c) for c in range(rank[j] + 1, rank[target])]
        for c, slot in zip(range(rank[j] + 1, rank[target]), slots):
            columns[c].append(slot)
        routes.append([j, *slots, target])
    neighbours = {item: [] for column in columns for item in column}
    for route in routes:
        for a, b in zip(route, route[1:]):
            neighbours[a].append(b)
            neighbours[b].append(a)
    column_of = {item: c for c, column in enumerate(columns) for item in column}
    extent = {item: size(item) for item in neighbours}  # (width, height)

    def wanted(item, depth):  # the mean depth of an item's neighbours
        return sum(depth[n] for n in neighbours[item]) / len(neighbours[item]) if neighbours[item] else depth[item]

    def order(c, depth):  # sort a column by its neighbours' mean depth; the nodes keep their own order among them
        column = sorted(columns[c], key=lambda item: wanted(item, depth))
        nodes = iter(sorted(item for item in column if isinstance(item, int)))
        columns[c] = [next(nodes) if isinstance(item, int) else item for item in column]

    def pack(c, depth):  # the depths nearest the neighbours' mean that keep the column's items apart, in order
        column = columns[c]
        offsets = [0.0]
        for a, b in zip(column, column[1:]):
            offsets.append(offsets[-1] + (extent[a][1] + extent[b][1]) / 2 + PAD)
        want = [wanted(item, depth) - offset for item, offset in zip(column, offsets)]
        for item, z, offset in zip(column, isotonic(want), offsets):
            depth[item] = z + offset

    depth = {}
    for column in columns:  # start: each column stacked from the top
        y = 0.0
        for item in column:
            depth[item] = y + extent[item][1] / 2
            y += extent[item][1] + PAD
    sweeps = [*range(1, len(columns)), *range(len(columns) - 2, -1, -1)]
    for c in sweeps * 2:  # barycentre ordering, left to right and back (the first column keeps c_{k-2} above)
        if c:
            order(c, depth)
        pack(c, depth)
    for c in sweeps * 4:  # then only positions
        pack(c, depth)
    top = min(depth[item] - extent[item][1] / 2 for item in depth)
    widths = [max(extent[item][0] for item in column) for column in columns]
    xs = [sum(widths[:c]) + c * GAP + widths[c] / 2 for c in range(len(columns))]
    place = {item: (column_of[item], depth[item] - top) for item in depth}
    return list(zip(xs, widths)), place, routes


def ports(node, routes, place, incoming):
    """{edge: depth} where the edges meet one side of a node, in the order of the items they come from."""
    ends = [(place[route[-2] if incoming else route[1]][1], e) for e, route in enumerate(routes)
            if route[-1 if incoming else 0] == node]
    center = place[node][1]
    return {e: center + (k - (len(ends) - 1) / 2) * PORT for k, (_, e) in enumerate(sorted(ends))}
