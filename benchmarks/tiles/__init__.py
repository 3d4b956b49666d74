"""Vector tile latency benchmark (python -m benchmarks.tiles)."""
