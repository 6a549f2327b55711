"""Assignment 3: the genotype of DARTS section 2.4.

When the search ends, DARTS turns the continuous alpha into a discrete cell. For every intermediate node it keeps
the 2 strongest incoming edges, where an edge's strength is the largest op weight softmax(alpha^(i,j))_o over the
ops o other than `none`, and each kept edge keeps that strongest op.

Task: write `derive_cell(op_weights, steps, primitives)`.
  op_weights: a list of rows, one per edge, each a list of len(primitives) op weights (softmax(alpha) of the edge).
      The rows are ordered as in darts_min: the 2 edges into node x_2 (from x_0, x_1), then the 3 into x_3 (from
      x_0, x_1, x_2), and so on (docs/walkthrough.md, section 1, has the figure).
  steps: the number of intermediate nodes (4 in DARTS).
  primitives: the op names, in the order of a row's columns (darts_min.genotypes.PRIMITIVES).
Return a list of (op name, i) pairs, 2 per intermediate node, node by node: i is the index of the node the edge
comes from (0 and 1 the cell's inputs, 2 + n intermediate node n). Within a node, list the stronger edge first.
Ties: the lower op index, and among equal edges the lower edge index, as the original code.

Grade it with `python -m pytest -q assignments/test_a3_genotype.py`. Hints, one level at a time:
`python assignments/hints.py 3` (then 3 2, 3 3).

Questions:
  a. Why is `none` excluded when the strongest op is chosen?
  b. A search that "collapses" ends with a normal cell full of skip connections. What would you see in the op
     weights (and in this function's output) along such a search?
"""


def derive_cell(op_weights, steps, primitives):
    raise NotImplementedError('assignment 3: derive_cell is not implemented yet')
