"""Vectis benchmarks: figures, not pass/fail.

    .venv/bin/python -m bench            # everything at full size (about 15 minutes on 2 cores)
    .venv/bin/python -m bench --quick    # a smoke run at small sizes (about a minute)
    .venv/bin/python -m bench --only hub,pack

Each benchmark runs in a child process (bench.child) on its own PostgreSQL
database (vectis_bench_*), which the runner creates and drops; the Graph
simulator always runs in a separate process (bench.simproc). Results are
printed as a table and written as JSON to bench/results/. The load test is
bench.load (see bench/load/run.py). docs/performance.md holds the figures.
"""
