"""The PINN convection benchmark runs end to end in its CI-sized mode."""

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import pinn_convection  # noqa: E402


def test_quick_benchmark_runs():
    results = pinn_convection.main(["--quick", "--no-deepxde"])
    row = results["convection"][30.0]
    assert row["lpinn"][0] < row["pinn_adam"][0]  # even 300 steps separate the two
    ranks = results["pulse"]["ranks"]
    assert ranks["eulerian beta=30"] > 30 and ranks["lagrangian u (LPINN)"] <= 3
    assert all(math.isfinite(v[0]) for v in results["burgers"].values())
