"""The `sciml` command: help, and the quickstart demo in quick mode."""

import subprocess
import sys

from sciml.cli import main


def test_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "sciml.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "quickstart" in result.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: sciml" in capsys.readouterr().out


def test_quickstart_quick_trains_both_models(tmp_path, capsys):
    """Quick mode: 160 Darcy samples at 33^2, 5 epochs per model, trained on relative H1
    (untrained: ~1). Measured H1 at 33^2: MgNO 0.34, FNO 0.29; L2: 0.89 and 0.22 (in so
    short a run MgNO fits the gradients before the level of the solution)."""
    assert main(["quickstart", "--quick", "--out", str(tmp_path), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("MgNO ", "FNO "))}
    assert set(rows) == {"MgNO", "FNO"}, out
    for cells in rows.values():
        assert float(cells[3]) < 0.5, out  # H1 at the training resolution
    assert float(rows["FNO"][2]) < 0.4, out
    assert (tmp_path / "quickstart.png").stat().st_size > 5000
    assert (tmp_path / "mgno" / "best.pt").is_file() and (tmp_path / "fno" / "metrics.csv").is_file()
