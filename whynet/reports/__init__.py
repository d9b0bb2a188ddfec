"""Explanations: ablations, classical baselines, importance, statistics and the report."""
