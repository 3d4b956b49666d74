"""Land-use planning benchmarks (issue 13)."""
