"""Site screening benchmarks (issue 4): see benchmarks/README.md."""
