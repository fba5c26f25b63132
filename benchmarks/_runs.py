"""Shared plumbing of the multi-run benchmarks: run jobs in worker processes, and
average per-method rows over seeds."""

from __future__ import annotations

import statistics
from concurrent.futures import ProcessPoolExecutor


def run_jobs(fn, jobs: list[tuple], workers: int) -> list:
    """``fn(*job)`` for every job, in ``workers`` processes when there is more than one."""
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(fn, *zip(*jobs)))
    return [fn(*job) for job in jobs]


def by_method(rows: list[dict], methods: list[str], keys: tuple[str, ...]) -> dict:
    """``{method: {key: mean over its rows, "nfe_per_seed": [...]}}``, with ``"ratio"`` the
    NFE against the first method's (the baseline)."""
    summary = {}
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        summary[m] = {k: statistics.mean(r[k] for r in mine) for k in keys}
        summary[m]["nfe_per_seed"] = [r["nfe"] for r in mine]
    base = summary[methods[0]]["nfe"] if methods else float("nan")
    for s in summary.values():
        s["ratio"] = s["nfe"] / base
    return summary
