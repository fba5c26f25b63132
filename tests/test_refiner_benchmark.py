"""The Spectral-Refiner benchmark runs end to end in its CI-sized mode."""

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import refiner  # noqa: E402


def test_quick_benchmark_runs(tmp_path):
    rows = refiner.main(["--quick", "--cache", str(tmp_path), "--repeats", "1"])
    assert len(rows) == 5  # solver at two grids, SFNO, refined, FNO roll-out
    for r in rows.values():
        assert math.isfinite(r["error"]) and r["seconds"] > 0
    assert rows["solver 32^2 (dt 0.002)"]["error"] < 1e-12  # the reference itself
    refined = next(r for name, r in rows.items() if name.startswith("SFNO + refine"))
    assert refined["eta_after"] < refined["eta_before"]
