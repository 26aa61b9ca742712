"""Scoring kernels and psychometric checks (reliability, item statistics, careless responding, norms)."""
