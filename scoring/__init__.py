"""Scoring kernels and psychometric checks: reliability, items, careless responding, norms."""
