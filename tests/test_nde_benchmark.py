"""The regularised-NDE benchmark runs end to end in its CI-sized mode."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import regularized_nde  # noqa: E402


def test_quick_benchmark_runs():
    summary = regularized_nde.main(["--quick", "--jobs", "1", "--methods", "vanilla", "ernode", "local_biased",
                                    "taynode"])
    assert set(summary) == {"vanilla", "ernode", "local_biased", "taynode"}
    for row in summary.values():
        assert row["nfe"] > 0 and row["mse"] < 1.0


def test_quick_task_benchmarks_run():
    import nde_digits
    import nde_sde
    import nde_spiral

    spiral = nde_spiral.main(["--quick", "--jobs", "1"])
    assert set(spiral) == {"vanilla", "ernode", "local_unbiased"} and all(r["nfe"] > 0 for r in spiral.values())
    sde = nde_sde.main(["--quick", "--jobs", "1", "--methods", "vanilla", "global"])
    assert all(r["nfe"] > 0 and r["loss"] > 0 for r in sde.values())
    digits = nde_digits.main(["--quick", "--jobs", "1", "--methods", "vanilla", "local_unbiased"])
    assert all(r["nfe"] > 0 and 0 <= r["accuracy"] <= 1 for r in digits.values())
    trace = nde_digits.main(["--descend-re", "--quick"])["trace"]
    assert len(trace) == 3 and all(nfe > 0 and reg > 0 for _, reg, nfe in trace)


def test_spiral_data_is_the_cubic_spiral():
    import nde_spiral

    t, y = nde_spiral.spiral_data(400, 1.0)  # second-order differences: 1e-4 relative at this spacing
    dy = (y[1:] - y[:-1]) / (t[1] - t[0])
    mid = 0.5 * (y[1:] + y[:-1])
    assert (dy - (mid ** 3) @ nde_spiral.A).abs().max() < 5e-4 * dy.abs().max()


def test_quick_fractional_benchmark_runs():
    import fractional_sde

    out = fractional_sde.main(["--quick", "--jobs", "1"])
    assert len(out["bridge"]) == 1 and out["bridge"][0]["vs_exact"] > 0
    assert {(r["true"], r["learn"]) for r in out["hurst"]} == {(0.3, True), (0.3, False), (0.7, True), (0.7, False)}
    assert all(0 < r["hurst"] < 1 for r in out["hurst"]) and len(out["video"]) == 2
