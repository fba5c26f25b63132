"""The ProbConserv benchmark runs end to end in its CI-sized mode (heat and Stefan)."""

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import probconserv  # noqa: E402


def test_quick_benchmark_runs(tmp_path):
    results = probconserv.main(["--quick", "--out", str(tmp_path)])
    for name in ("heat", "stefan"):
        for param, sums in results[name].items():
            if param == "train_seconds":
                continue
            assert abs(sums["ProbConserv-ANP"]["ce"]) < 1e-10 and abs(sums["HardC-ANP"]["ce"]) < 1e-10
            assert abs(sums["ANP"]["ce"]) > 1e-6
            assert all(math.isfinite(m["mse"]) and math.isfinite(m["ll"]) for m in sums.values())
    assert (tmp_path / "stefan_shock_positions.png").is_file()
