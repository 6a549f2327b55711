"""The study's tooling: running many searches (batched seeds), grids, reports."""
