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
