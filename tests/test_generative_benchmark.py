"""The generative benchmark runs end to end in its CI-sized mode, and its numbers move
the right way: OT pairs beat the untrained source, refinement beats the Brownian bridge."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import generative  # noqa: E402


def test_quick_benchmark_runs():
    out = generative.main(["--quick", "--tasks", "8gaussians->moons", "--methods", "rf-ot", "si-indep"])
    rows = {r["method"]: r for r in out["interpolants"]}
    assert set(rows) == {"rf-ot", "si-indep"}
    assert rows["rf-ot"]["ode50"] < 1.0 and "sde200" in rows["si-indep"]
    bridges = out["bridges"]
    assert bridges["paths (linear)"][-1] < bridges["paths (linear)"][0] / 2
    assert bridges["ou_held_out"]["w2"] < bridges["ou_held_out"]["w2_0"]
    assert bridges["repressilator_w2"][0] < bridges["repressilator_w2_0"][0]
