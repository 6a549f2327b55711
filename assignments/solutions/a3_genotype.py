"""Reference solution of assignment 3 (students: try it yourself first)."""


def derive_cell(op_weights, steps, primitives):
    # DARTS section 2.4: per node the 2 strongest incoming edges, each with its strongest op other than `none`
    none = primitives.index('none')
    gene, start = [], 0
    for n in range(steps):
        rows = op_weights[start:start + 2 + n]  # node x_(2+n) has an edge from each of x_0 ... x_(1+n)
        # an edge's best op, `none` left out; on a tie the lower op index (max keeps the first of equal keys)
        best = [max((k for k in range(len(row)) if k != none), key=lambda k: (row[k], -k)) for row in rows]
        # its strength is that op's weight; sorted() is stable, so equal edges keep the lower edge index first
        kept = sorted(range(len(rows)), key=lambda i: -rows[i][best[i]])[:2]
        gene += [(primitives[best[i]], i) for i in kept]  # i: the index of the node the edge comes from
        start += len(rows)
    return gene
