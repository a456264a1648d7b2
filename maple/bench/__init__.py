"""Benchmark machinery: the runner, results folders, statistics, tables, gating and plots."""
