"""Benchmarks: whynet against KerasTuner and hand-written Optuna loops.

Run ``python -m benchmarks run`` (or ``run --quick`` for a smoke test) and
``python -m benchmarks report``; see ``benchmarks/README.md``.
"""
