"""Maintainers' tools: benchmarks and load tests."""
