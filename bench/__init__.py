"""Benchmark of the service against baselines measured in the same run (not part of the test suite)."""
