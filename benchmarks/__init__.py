"""Reproducible measurements of Veta against its own SQL and against peer servers (not tests)."""
