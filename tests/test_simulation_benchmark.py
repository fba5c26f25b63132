"""The simulation benchmark runs end to end in its CI-sized mode, and its tables hold
what they should: the reference has no error, parareal ends on the solver's trajectory,
the solver-based inversion beats the prior mean."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import simulation  # noqa: E402


def test_quick_benchmark_runs(tmp_path):
    out = simulation.main(["--quick", "--threads", "1", "--work", str(tmp_path)])
    rows = {r["method"].split(" (")[0]: r for r in out["navier_stokes"]}
    assert rows["solver 64^2"]["final"] == 0.0
    assert rows["solver 32^2"]["final"] < 1e-2
    parareal = next(r for r in out["navier_stokes"] if r["method"].startswith("parareal"))
    assert abs(parareal["final"] - rows["solver 32^2"]["final"]) < 1e-6  # converged onto the 32^2 solver
    darcy = {r["method"]: r for r in out["darcy_inverse"]}
    assert darcy["solver (adjoint)"]["error"] < 0.45
    assert {r["method"] for r in out["ns_inverse"]} == {"solver (backprop, 200 steps)", "surrogate (1 FNO call)"}
